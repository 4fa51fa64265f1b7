"""The *tissue* phase: tissue processes advance their per-voxel states."""

from __future__ import annotations

from ...tissue.states import advance_states
from ..plan import StepPlan

__all__ = ["tissue"]


def tissue(model, plan: StepPlan) -> None:
    """Advance every tissue process of the model by ``dt`` minutes, in the order given.

    The processes (:class:`abm.tissue.TissueProcess`) run after the cells' fate and
    before the fields diffuse; ``model.time`` is still the start of the step. A process that
    changes the tissue (:meth:`TissueModel.set_tissue`) changes the field engine at once.
    """
    if model.processes:
        advance_states(model, model.processes, plan.dt)
