"""The *move* phase: agents hop to a face-neighbour voxel or stay, with exclusion."""

from __future__ import annotations

import math

from kernels import lattice as L
from kernels import rng as R

from ..placement import place_with_exclusion
from ..plan import StepPlan

__all__ = ["move"]


def move(model, plan: StepPlan) -> None:
    """Move the agents of every population that has hop probabilities (``hop``).

    Each agent draws a direction (or staying) from its hop probabilities. If
    those add up to more than 1 for some agent, the step is split into
    ``ceil(max total)`` equal rounds. In every round all proposals of all
    populations compete for free room in one
    :func:`~abm.cells.placement.place_with_exclusion` (lowest priority key
    wins); hops off the lattice are dropped. Afterwards every moving
    population's ``flat`` is its agents' new voxels.
    """
    xp = model.xp
    names = [n for n, c in plan.populations.items() if c.hop is not None]
    if not names:
        return
    tot = max(float(xp.max(plan.populations[n].hop_total)) for n in names)
    rounds = max(1, math.ceil(tot - 1e-12))
    for r in range(rounds):
        movers_pos, movers_target, movers_key, owners = [], [], [], []
        for n in names:
            c = plan.populations[n]
            pop = c.pop
            cum = xp.cumsum(c.hop / rounds, axis=0)
            u = R.uniform_from_keys(xp, c.keys, R.PURPOSES["move"] + 16 * r)
            direction = (u[None, :] >= cum).sum(axis=0)  # 6 = stay
            rows = xp.flatnonzero(direction < 6)
            if rows.shape[0] == 0:
                continue
            newpos = L.neighbour_positions(xp, pop.pos[rows], direction[rows])
            ok = L.inside(xp, newpos, model.shape)
            rows, newpos = rows[ok], newpos[ok]
            movers_pos.append(pop.pos[rows])
            movers_target.append(L.flat_index(xp, newpos, model.shape))
            movers_key.append(R.draw_bits(xp, c.keys[rows], R.PURPOSES["priority"] + 16 * r))
            owners.append((c, rows, newpos))
        if not owners:
            continue
        target = xp.concatenate(movers_target)
        key = xp.concatenate(movers_key)
        old_flat = L.flat_index(xp, xp.concatenate(movers_pos), model.shape)
        ok = place_with_exclusion(xp, model.occupancy, model.capacity, target, key,
                                  vacate=old_flat)
        start = 0
        for c, rows, newpos in owners:
            m = rows.shape[0]
            acc = ok[start:start + m]
            start += m
            c.pop.columns["pos"][rows[acc]] = newpos[acc]
    for n in names:
        c = plan.populations[n]
        c.flat = L.flat_index(xp, c.pop.pos, model.shape)
