"""The *sense* phase: every population with agents gets its part of the step plan."""

from __future__ import annotations

from kernels import lattice as L
from kernels import rng as R

from ..plan import PopulationPlan, StepPlan
from ..signals import SignalTable

__all__ = ["sense"]


def sense(model, plan: StepPlan) -> None:
    """Give ``plan`` a :class:`PopulationPlan` for every non-empty population.

    Each holds the agents' flat voxels, their counter-based keys (seed, step, id)
    and a :class:`~abm.cells.signals.SignalTable` that gathers a signal (a field
    at the agent's voxel, a density, a tissue label or state, ...) the first time
    a later phase reads it, and keeps it for the rest of the step.
    """
    xp = model.xp
    for name, pop in model.populations.items():
        if not len(pop):
            continue
        flat = L.flat_index(xp, pop.pos, model.shape)
        plan.populations[name] = PopulationPlan(
            name=name, cls=model.cell_classes[name], pop=pop, n=len(pop), xp=xp,
            params=model.params[name], rules=model._rules_by_type[name], flat=flat,
            keys=R.agent_keys(xp, model.seed, plan.step, pop.ids),
            signals=SignalTable(model, name, pop, flat))
