"""The *decide* phase: behaviour values, motion probabilities and fate events.

Rules turn signals into behaviour values, and those become the step's motion
probabilities and fate events.

Rates become probabilities over the step, ``1 - exp(-rate dt)``; counter-based
draws (:mod:`kernels.rng`, keyed by seed, step, id and purpose) become events.

Movement is a lattice walk with drift (an upwind discretisation of
``∂n/∂t = D ∇²n − ∇·(n w)``): the probability of a hop along ``±e_i`` is
``D dt/dx² + max(0, ±w_i) dt/dx``, so the mean displacement per step is
exactly ``w dt`` and, without drift, the mean squared displacement grows as
``6 D t``. ``D = speed² × persistence / 3`` is the random-motility coefficient
of a persistent random walk in 3D. If the hop probabilities of a step add up
to more than 1 the move phase splits the step into equal rounds.

Chemotaxis follows the receptor law: the drift is
``w = χ r K/(K + c)² ∇c = χ r ∇(c/(K + c))``, the gradient of the fraction of
occupied receptors, scaled by the receptor level ``r`` (0–1), and capped at the
cell's speed. It saturates: at ``c ≫ K`` the receptors are full and the cell
no longer reads the gradient.
"""

from __future__ import annotations

import numpy as np

from kernels import cell_motion as CM
from kernels import cpu_jit
from kernels import rng as R

from ..plan import PopulationPlan, StepPlan

__all__ = ["decide"]


def decide(model, plan: StepPlan) -> None:
    """Decide the motion and the fate events of every population's agents.

    Fills in every population plan's ``hop``/``hop_total`` (motion), ``dies``,
    ``diff_targets``/``diff_to`` (differentiation), ``divides``, ``new_state``
    (phenotype-state transitions) and ``var_rates`` (variable gain and loss, 1/min).
    Nothing in the model changes yet.
    """
    for c in plan.populations.values():
        _motion(model, c, plan.dt)
        _events(model, c, plan.dt)


def _motion(model, c: PopulationPlan, dt: float) -> None:
    """Hop probabilities per face direction over the step (6, n), or None if nobody moves.

    On the NumPy backend :func:`kernels.cell_motion.hop_probabilities` (the reference), or
    its fused twin :func:`kernels.cpu_jit.hop_probabilities` when numba is there
    (:func:`kernels.cpu_jit.enabled`);
    on CuPy one fused kernel (:func:`kernels.cell_motion.propose`) computes them and,
    speculatively, the move phase's first-round proposal, with no host synchronisation
    (there ``hop`` is never None: an immobile population has zero probabilities).
    """
    xp, p, n, pop = model.xp, c.params, c.n, c.pop
    speed = c.behaviour("speed")
    chem = model.chemotaxis_field[c.name]
    chi = c.behaviour("chemotaxis") if chem else None
    field = model.fields.field(chem) if chem else None
    K = p["chemotaxis_half_saturation"] if chem else 1.0
    receptor = pop.columns[c.cls.chemotaxis_receptor] if chem and c.cls.chemotaxis_receptor \
        else None
    if model.backend.is_gpu:
        c.motion = CM.propose(xp, pop.pos, c.keys, speed, p["persistence"], dt, model.dx,
                              model.shape, model.occupancy, model.capacity, field=field,
                              chi=0.0 if chi is None else chi, K=K, receptor=receptor)
        c.hop, c.hop_total = c.motion.hop, c.motion.hop_total
        return
    if cpu_jit.enabled(model):   # the fused CPU loop: the same probabilities, bit for bit
        c.hop, c.hop_total = cpu_jit.hop_probabilities(
            pop.pos, speed, p["persistence"], dt, model.dx, n, field=field, chi=chi, K=K,
            receptor=receptor)
        return
    c.hop, c.hop_total = CM.hop_probabilities(
        xp, pop.pos, speed, p["persistence"], dt, model.dx, n, field=field,
        conc=lambda: c.signals[chem], chi=chi, K=K, receptor=receptor)


def _events(model, c: PopulationPlan, dt: float) -> None:
    """Death, differentiation, division, state transitions and variable rates."""
    xp, p, rules, n, name = model.xp, c.params, c.rules, c.n, c.name
    beh = c.behaviour

    def chance(rate):
        return 1.0 - xp.exp(-xp.asarray(rate, dtype=np.float64) * dt)

    def draw(purpose):
        return R.uniform_from_keys(xp, c.keys, purpose)

    never = xp.zeros(n, dtype=bool)

    def event(behaviour, purpose):
        if not c.uses(behaviour):
            return never  # no rate, no draw
        return draw(purpose) < chance(beh(behaviour))

    c.dies = event("death", "death")
    # differentiation: one draw picks whether and into which type
    targets = [o for o in model.cell_classes if o != name
               and (p.get(f"differentiation:{o}", 0) > 0 or f"differentiation:{o}" in rules)]
    diff_to = xp.full(n, -1, dtype=np.int32)
    if targets:
        rates = [xp.broadcast_to(xp.asarray(beh(f"differentiation:{o}"), dtype=np.float64), (n,))
                 for o in targets]
        total = sum(rates)
        u = draw("differentiation")
        pleave = chance(total)
        go = (u < pleave) & ~c.dies
        pick = u / xp.maximum(pleave, 1e-300) * total
        chosen = xp.full(n, len(targets) - 1, dtype=np.int32)  # round-off at the top: last
        acc = xp.zeros(n)
        taken = xp.zeros(n, dtype=bool)
        for k, r in enumerate(rates):
            hit = ~taken & (pick < acc + r)
            chosen = xp.where(hit, k, chosen)
            taken |= hit
            acc = acc + r
        diff_to = xp.where(go, chosen, -1)
    c.diff_targets = targets
    c.diff_to = diff_to
    c.divides = event("division", "division") & ~c.dies & (diff_to < 0)
    if c.cls.states:
        c.new_state = _transitions(model, c, chance, draw)
    if c.cls.variables:
        c.var_rates = {v: (beh(f"gain:{v}"), beh(f"loss:{v}")) for v in c.cls.variables}


def _transitions(model, c: PopulationPlan, chance, draw):
    """Phenotype state of every row after the step (int8).

    One draw per row picks whether it leaves its state and for which, in proportion
    to the transition rates.
    """
    xp, n, states = model.xp, c.n, c.cls.states
    st = c.pop.columns["state"]
    new_state = st.copy()
    u = draw("transition")
    for a_i, a in enumerate(states):
        outs = [(b_i, xp.broadcast_to(xp.asarray(c.behaviour(f"transition:{a}->{b}"),
                                                 dtype=np.float64), (n,)))
                for b_i, b in enumerate(states) if b != a]
        total = sum(r for _, r in outs)
        pleave = chance(total)
        pick = u / xp.maximum(pleave, 1e-300) * total
        here = (st == a_i) & (u < pleave)
        acc = xp.zeros(n)
        taken = xp.zeros(n, dtype=bool)
        for b_i, r in outs:
            hit = here & ~taken & (pick < acc + r)
            new_state = xp.where(hit, b_i, new_state)
            taken |= hit
            acc = acc + r
        # float round-off at the top end: assign the last target
        new_state = xp.where(here & ~taken, outs[-1][0], new_state)
    return new_state.astype(np.int8)
