"""The *divide* phase: dividing cells place a daughter next to themselves."""

from __future__ import annotations

import numpy as np

from kernels import lattice as L
from kernels import rng as R
from kernels.backend import to_numpy

from ..events_log import DIVISION, labels_at
from ..markers import pulses_now
from ..placement import place_with_exclusion
from ..plan import StepPlan

__all__ = ["divide"]


def divide(model, plan: StepPlan) -> None:
    """Place a daughter of every dividing cell (``divides``) in a random face-neighbour voxel.

    The voxel must lie inside the lattice and win room in one
    :func:`~abm.cells.placement.place_with_exclusion` over all populations
    (otherwise the division waits for a later step).

    A daughter copies its mother's columns with a new id, ``parent`` = the mother's
    id, ``generation`` + 1, and ``born``/``last_division`` = the end of the step,
    min; the mother's ``last_division`` becomes the end of the step too. The
    daughters' rows go to ``daughters`` (appended in the fate phase) and their
    number to ``divisions``.

    In a step that starts within a marker's pulse (:mod:`abm.cells.markers`) the mother
    and the daughter are marked. A model that keeps an event log
    (:mod:`abm.cells.events_log`) logs each division: the mother's type, state (at the
    start of the step), tissue label and id.
    """
    xp = model.xp
    props = []
    for c in plan.populations.values():
        rows = xp.flatnonzero(c.divides)
        if rows.shape[0] == 0:
            continue
        pop = c.pop
        u = R.uniform_from_keys(xp, c.keys[rows], "division_direction")
        direction = xp.minimum((u * 6).astype(np.int32), 5)
        newpos = L.neighbour_positions(xp, pop.pos[rows], direction)
        ok = L.inside(xp, newpos, model.shape)
        rows, newpos = rows[ok], newpos[ok]
        key = R.draw_bits(xp, c.keys[rows], "division_priority")
        props.append((c, rows, newpos, L.flat_index(xp, newpos, model.shape), key))
    if not props:
        return
    target = xp.concatenate([p[3] for p in props])
    key = xp.concatenate([p[4] for p in props])
    ok = place_with_exclusion(xp, model.occupancy, model.capacity, target, key)
    tnew = plan.end_time
    marking = pulses_now(model, plan.time) if getattr(model, "marker_pulses", None) else []
    log = getattr(model, "event_log", None)
    codes = {n: i for i, n in enumerate(model.populations)}
    start = 0
    for c, rows, newpos, _, _ in props:
        m = rows.shape[0]
        acc = ok[start:start + m]
        start += m
        rows, newpos = rows[acc], newpos[acc]
        k = int(rows.shape[0])
        if k == 0:
            continue
        pop = c.pop
        mother = pop.extract(rows)
        ids = xp.asarray(model._take_ids(k))
        row = {key_: v.copy() for key_, v in mother.items()}
        row.update(id=ids, pos=newpos, parent=mother["id"], generation=mother["generation"] + 1,
                   born=xp.full(k, tnew), last_division=xp.full(k, tnew))
        pop.columns["last_division"][rows] = tnew
        for col in marking:              # a pulse marks the mother and the daughter
            pop.columns[col][rows] = True
            row[col] = xp.ones(k, dtype=bool)
        if log is not None:
            state = pop.columns["state"][rows] if "state" in pop.columns else -1
            log.record(DIVISION, codes[c.name], to_numpy(state), labels_at(model, c.flat[rows]),
                       to_numpy(mother["id"]))
        c.daughters.append(row)
        c.divisions = k
