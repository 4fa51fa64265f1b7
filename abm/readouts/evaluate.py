"""Evaluating a scenario's readouts on a model, each by its registered kind."""

from __future__ import annotations

from .base import EvalContext, readout_kind

__all__ = ["evaluate_readouts", "readout_units"]


def evaluate_readouts(model, readouts) -> dict[str, float]:
    """Values of the readouts now, by column name (``spec.text``).

    ``count`` is in cells; ``fraction`` is dimensionless (NaN with no cell of the
    type); ``mean`` and ``max`` are in the field's unit (over the label's voxels, or
    all); ``total`` is the field's amount in the unit
    :func:`abm.readouts.total.total_unit` gives (pg, amol or particles).
    """
    ctx = EvalContext(model)
    return {r.text: readout_kind(r.kind).evaluate(r, model, ctx) for r in readouts}


def readout_units(model, readouts) -> dict[str, str]:
    """Unit of each readout column (see :func:`evaluate_readouts`)."""
    return {r.text: readout_kind(r.kind).unit(r, model) for r in readouts}
