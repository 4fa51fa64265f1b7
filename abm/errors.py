"""Exceptions a user can cause, each carrying one message that names the fix."""

from __future__ import annotations

__all__ = ["ModelInputError", "FieldNotFiniteError", "RunStopped"]


class ModelInputError(ValueError):
    """A parameter, region or setting given to the model is invalid.

    The message names the offending item, what was given and what is expected.
    """


class FieldNotFiniteError(FloatingPointError):
    """A field acquired NaN or Inf during a step.

    Attributes
    ----------
    field : str
        Name of the first field found non-finite.
    step : int
        Index of the step during which it happened (1-based count of steps).
    time : float
        Simulated time at the end of that step, min.
    """

    def __init__(self, field: str, step: int, time: float):
        self.field, self.step, self.time = field, step, time
        super().__init__(
            f"field '{field}' became non-finite (NaN or Inf) during step {step} "
            f"(t = {time:g} min); check that field's sources, boluses and rates for "
            "NaN/Inf or absurdly large values"
        )


class RunStopped(RuntimeError):
    """A run was stopped by SIGTERM or SIGINT after writing a checkpoint; it can be resumed."""
