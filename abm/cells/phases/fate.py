"""The *fate* phase: the step's decisions take effect on the populations."""

from __future__ import annotations

import numpy as np

from kernels import lattice as L
from kernels.backend import to_numpy

from .. import attributes
from ..events_log import DEATH, labels_at
from ..markers import MARKER_PREFIX
from ..placement import new_rows
from ..plan import StepPlan

__all__ = ["fate"]


def fate(model, plan: StepPlan) -> None:
    """Apply the decisions of the step, population by population.

    * phenotype variables relax exactly toward ``gain/(gain + loss)`` over ``dt``;
    * phenotype states change to ``new_state`` (``last_transition`` = end of step);
    * dying cells release their contents, ``death_release:<field>`` (amount =
      concentration × µm³) into their voxel, through :meth:`FieldSolver.add_amounts`,
      and leave;
    * differentiating cells move to their new type's population, keeping their id,
      position, lineage, times (``last_differentiation`` = end of step) and markers;
    * daughters join their population.

    A model that keeps an event log (:mod:`abm.cells.events_log`) logs each death (the
    cell's type, its state after this step's transition, its voxel's tissue label and its
    id) and closes the step's chunk of the log.

    Sets ``model.last_step_events``: per cell type, the deaths, differentiations and
    divisions of the step.
    """
    xp = model.xp
    fs = model.fields
    dt = plan.dt
    tnew = plan.end_time
    incoming = {n: [] for n in model.populations}
    log = getattr(model, "event_log", None)
    codes = {n: i for i, n in enumerate(model.populations)}
    events = {}
    for n, c in plan.populations.items():
        pop, cls = c.pop, c.cls
        nrows = c.n
        # phenotype variables: exact relaxation toward gain/(gain+loss)
        for v, (g, l_) in c.var_rates.items():
            g = xp.asarray(g, dtype=np.float64)
            l_ = xp.asarray(l_, dtype=np.float64)
            k = g + l_
            eq = xp.where(k > 0, g / xp.maximum(k, 1e-300), 0.0)
            col = pop.columns[v][:nrows]
            pop.columns[v][:nrows] = xp.where(k > 0, eq + (col - eq) * xp.exp(-k * dt), col)
        if cls.states:
            changed = c.new_state != pop.columns["state"][:nrows]
            pop.columns["state"][:nrows] = c.new_state
            pop.columns["last_transition"][:nrows] = xp.where(
                changed, tnew, pop.columns["last_transition"][:nrows])
        # deaths release their contents
        dies = c.dies
        ndie = int(dies.sum())
        if ndie:
            for sp in fs.species:
                if not c.uses(f"death_release:{sp.name}"):
                    continue
                amt = c.behaviour(f"death_release:{sp.name}")
                amt = xp.broadcast_to(xp.asarray(amt, dtype=np.float64), (nrows,))[dies]
                fs.add_amounts(sp.name, c.flat[dies], amt)
        leaving = c.diff_to >= 0
        nd = int(leaving.sum())
        if nd:
            for k_, target in enumerate(c.diff_targets):
                sel = c.diff_to == k_
                if not bool(sel.any()):
                    continue
                moved = pop.extract(xp.flatnonzero(sel))
                tcls = model.cell_classes[target]
                row = new_rows(model, tcls, moved["id"], moved["pos"], moved["lineage"],
                               moved["parent"], moved["generation"])
                row["born"] = moved["born"]
                row["last_division"] = moved["last_division"]
                row["last_differentiation"] = xp.full(int(sel.sum()), tnew)
                for k2 in moved:         # markers stay with a cell that changes type
                    if k2.startswith(MARKER_PREFIX):
                        row[k2] = moved[k2]
                incoming[target].append({k2: xp.asarray(v) for k2, v in row.items()})
        gone = dies | leaving
        if ndie and log is not None:
            state = pop.columns["state"][:nrows][dies] if cls.states else -1
            log.record(DEATH, codes[n], to_numpy(state), labels_at(model, c.flat[dies]),
                       to_numpy(pop.columns["id"][:nrows][dies]))
        if ndie:
            flat = c.flat[dies]
            L.scatter_add(xp, model.occupancy, flat, -xp.ones(ndie, np.int32))
        events[n] = {"deaths": ndie, "differentiations": nd, "divisions": c.divisions}
        if ndie or nd:
            keep = xp.concatenate([~gone, xp.ones(len(pop) - nrows, dtype=bool)])
            pop.take(keep)
        for row in c.daughters:
            pop.append(row)
    for n, rows in incoming.items():
        for row in rows:
            model.populations[n].append(row)
    model.last_step_events = events
    attributes.drop_gone(model)   # undeclared attributes of the cells that died
    if log is not None:
        log.end_step(tnew)
