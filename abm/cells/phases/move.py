"""The *move* phase: agents hop to a face-neighbour voxel or stay, with exclusion."""

from __future__ import annotations

from kernels import cell_motion as CM
from kernels import cpu_jit
from kernels import lattice as L

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

    On the NumPy backend with numba (:func:`kernels.cpu_jit.enabled`) the proposals and
    the placement are the fused loops of :mod:`kernels.cpu_jit` (same draws, same
    winners). On the CuPy backend the rounds run in the fused kernels of
    :mod:`kernels.cell_motion` (same draws, same winners), with one host
    synchronisation per step: the largest hop total, for the number of rounds.
    """
    xp = model.xp
    names = [n for n, c in plan.populations.items() if c.hop is not None]
    if not names:
        return
    if model.backend.is_gpu:
        _move_fused(model, plan, names)
        return
    tot = max(float(xp.max(plan.populations[n].hop_total)) for n in names)
    rounds = CM.rounds_for(tot)
    jit = cpu_jit.enabled(model)
    propose_round = cpu_jit.propose_round if jit else \
        (lambda *a: CM.propose_round(xp, *a))
    place = cpu_jit.place_with_exclusion if jit else \
        (lambda *a, **k: place_with_exclusion(xp, *a, **k))
    for r in range(rounds):
        movers_pos, movers_target, movers_key, owners = [], [], [], []
        for n in names:
            c = plan.populations[n]
            pop = c.pop
            rows, newpos, target, prio = propose_round(c.hop, rounds, r, c.keys, pop.pos,
                                                       model.shape)
            if rows.shape[0] == 0:
                continue
            movers_pos.append(pop.pos[rows])
            movers_target.append(target)
            movers_key.append(prio)
            owners.append((c, rows, newpos))
        if not owners:
            continue
        target = xp.concatenate(movers_target)
        key = xp.concatenate(movers_key)
        old_flat = L.flat_index(xp, xp.concatenate(movers_pos), model.shape)
        ok = place(model.occupancy, model.capacity, target, key, vacate=old_flat)
        start = 0
        for c, rows, newpos in owners:
            m = rows.shape[0]
            acc = ok[start:start + m]
            start += m
            c.pop.columns["pos"][rows[acc]] = newpos[acc]
    for n in names:
        c = plan.populations[n]
        c.flat = L.flat_index(xp, c.pop.pos, model.shape)


def _move_fused(model, plan: StepPlan, names: list) -> None:
    """The GPU path: the proposals of *decide*'s fused kernel, sorted and committed.

    All moving populations' agents are laid end to end (positions and flat voxels
    concatenated when there is more than one population); an agent that proposes
    nothing has the target ``n_voxels`` and sorts after every real proposal, so the
    winners are those of the NumPy path.
    """
    xp = model.xp
    cs = [plan.populations[n] for n in names]
    tot = CM.max_total(xp, [c.hop_total for c in cs])   # the step's one host sync
    if not tot > 0:
        return  # nobody can hop: every draw stays (and every flat is unchanged)
    rounds = CM.rounds_for(tot)
    if len(cs) == 1:
        pos, flat = cs[0].pop.columns["pos"], cs[0].flat.copy()
    else:
        pos = xp.concatenate([c.pop.columns["pos"] for c in cs])
        flat = xp.concatenate([c.flat for c in cs])
    sizes = [c.n for c in cs]
    offs = [sum(sizes[:k]) for k in range(len(cs))]
    for r in range(rounds):
        props = []
        for c, o, m in zip(cs, offs, sizes):
            pr = c.motion
            if not (pr.rounds == rounds and pr.r == r):  # re-propose from the start's hop
                a = pr.args
                pr = CM.propose(xp, pos[o:o + m], a["keys"], a["speed"], a["persistence"],
                                a["dt"], a["dx"], a["shape"], model.occupancy, model.capacity,
                                rounds=rounds, r=r, hop=pr.hop, hop_total=pr.hop_total)
            props.append(pr)
        if len(props) == 1:
            comp, target, room = props[0].comp, props[0].target, props[0].room
        else:
            comp = xp.concatenate([p.comp for p in props])
            target = xp.concatenate([p.target for p in props])
            room = xp.concatenate([p.room for p in props])
        CM.commit(xp, comp, target, room, model.occupancy, pos, flat, model.shape)
    for c, o, m in zip(cs, offs, sizes):
        if len(cs) > 1:
            c.pop.columns["pos"][...] = pos[o:o + m]
        c.flat = flat[o:o + m]
