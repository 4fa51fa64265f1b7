"""The *diffuse* phase: the fields advance, and with them the model time."""

from __future__ import annotations

from ..plan import StepPlan

__all__ = ["diffuse"]


def diffuse(model, plan: StepPlan) -> None:
    """Advance the fields by the step's ``dt`` minutes, then the model time.

    The fields take diffusion, decay, the exchange set by the exchange phase, sources
    and depots (:meth:`FieldSolver.step`); the model time becomes the end of the step, min.
    """
    model.fields.step(plan.dt)
    model.time = plan.end_time
