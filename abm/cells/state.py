"""A model's whole state as plain NumPy arrays and numbers, and its restoration.

This is the content of a checkpoint (:meth:`abm.cells.TissueModel.get_state` /
:meth:`~abm.cells.TissueModel.set_state`).
"""

from __future__ import annotations

import numpy as np

from kernels.backend import to_numpy

from ..errors import ModelInputError
from .events_log import EventLog
from .markers import MARKER_PREFIX, markers_state, restore_markers

__all__ = ["get_state", "set_state", "validate_state"]


def get_state(model) -> dict:
    """Everything needed to continue ``model`` exactly, as plain NumPy arrays and numbers.

    The returned nested dict holds the step counter, the time, the id counter,
    the seed, the tissue labels and voxel capacities, every population's
    columns, the fields, the depots and the tissue processes' states (flat, one
    value per voxel), and, when the model keeps them, the event log (``event_log``)
    and the markers with their pulses (``markers``). Built-in behaviour draws its
    random numbers from (seed, step, id, purpose), so no generator state is needed. Ordinary Mesa agents
    (the slow path) are not included. On the NumPy backend the arrays may share
    memory with the model (no copy of a large lattice is made): write them out,
    or copy them, before the model steps on.
    """
    fs = model.fields
    fstate = fs.get_state()
    state = {
        "model": {"steps": int(model.steps), "time": float(model.time),
                  "next_id": int(model._next_id), "seed": int(model.seed),
                  "field_time": fstate["time"], "field_steps": fstate["step_count"]},
        "tissue": {"labels": (np.zeros(model.shape, np.uint8) if fs.labels is None
                              else np.asarray(fs.labels, np.uint8)),
                   "capacity": np.asarray(to_numpy(model.capacity)),
                   "occupancy": np.asarray(to_numpy(model.occupancy))},
        "populations": {n: {k: np.asarray(to_numpy(c)) for k, c in p.columns.items()}
                        for n, p in model.populations.items()},
        "fields": fstate["fields"],
        "depots": fstate["depots"],
        "tissue_states": {s: np.asarray(to_numpy(a)) for s, a in model.tissue_states.items()},
    }
    # only a model that keeps them has an event log and markers (older checkpoints lack them)
    if getattr(model, "event_log", None) is not None:
        state["event_log"] = model.event_log.get_state()
    mstate = markers_state(model) if hasattr(model, "markers") else None
    if mstate is not None:
        state["markers"] = mstate
    return state


class _Bad(Exception):
    pass


def _check(ok: bool, msg: str) -> None:
    if not ok:
        raise _Bad(msg)


def _finite(name: str, a) -> None:
    a = np.asarray(a)
    if a.dtype.kind in "fc" and a.size and not np.isfinite(a).all():
        i = int(np.flatnonzero(~np.isfinite(a.reshape(-1)))[0])
        raise _Bad(f"{name} holds {a.reshape(-1)[i]} at index {i} (values must be finite)")


def validate_state(model, state: dict) -> None:
    """Check a checkpoint's content against ``model`` before anything is restored.

    A checkpoint read from a file is untrusted: every phenotype state must be one of its
    type's states, every position inside the lattice, every variable, field and tissue
    state finite, labels within the tissue table, columns of one length, ids unique, and
    the clock consistent with ``dt``.

    Raises
    ------
    ModelInputError
        One message naming the first thing that is wrong.
    """
    try:
        _validate(model, state)
    except _Bad as exc:
        raise ModelInputError(f"the checkpoint is not valid: {exc}; the run file is damaged or "
                              "was altered: resume from an intact copy, or run again") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelInputError(f"the checkpoint is not valid: missing or malformed entry "
                              f"({type(exc).__name__}: {exc}); the run file is damaged or was "
                              "altered: resume from an intact copy, or run again") from None


def _validate(model, state: dict) -> None:
    m = state["model"]
    steps, time = int(m["steps"]), float(m["time"])
    _check(steps >= 0 and np.isfinite(time), f"step {steps} / time {time} is not a valid clock")
    _check(abs(time - steps * model.dt) <= 1e-6 * max(1.0, abs(time)),
           f"time {time:g} min at step {steps} does not match dt {model.dt:g} min (it would be "
           f"{steps * model.dt:g} min): the checkpoint was written with another dt")
    next_id = int(m["next_id"])
    shape = np.asarray(model.shape)
    n_labels = len(getattr(model, "tissue_names", ()) or ()) or 256
    labels = np.asarray(state["tissue"]["labels"])
    _check(labels.shape == tuple(model.shape), f"labels have shape {labels.shape}, the lattice "
                                               f"is {tuple(model.shape)}")
    _check(labels.size == 0 or int(labels.max()) < n_labels,
           f"a tissue label {int(labels.max()) if labels.size else 0} is beyond the "
           f"{n_labels} labels of the tissue table")
    for k in ("capacity", "occupancy"):
        a = np.asarray(state["tissue"][k])
        _check(a.size == model.n_voxels, f"tissue {k} has {a.size} values, the lattice has "
                                         f"{model.n_voxels} voxels")
        _check(a.size == 0 or int(a.min()) >= 0, f"tissue {k} has a negative value")
    for n, pop in model.populations.items():
        cols = state["populations"][n]
        lengths = {k: np.asarray(cols[k]).shape[0] if np.asarray(cols[k]).ndim else -1
                   for k in pop.spec}
        _check(len(set(lengths.values())) == 1, f"the columns of {n} have different lengths "
                                                f"{lengths}")
        for k, (dt_, shp, _) in pop.spec.items():
            a = np.asarray(cols[k])
            _check(a.shape[1:] == shp, f"{n} column {k!r} has shape {a.shape}, expected "
                                       f"(n,{','.join(map(str, shp))})")
            if k in pop.variables:
                _finite(f"{n} column {k!r}", a)
            if np.dtype(dt_).kind in "iu":
                _check(a.dtype.kind in "iu" or (a.size == 0 or np.isfinite(a).all() and
                                                 (a == np.round(a)).all()),
                       f"{n} column {k!r} holds non-integer values")
        pos = np.asarray(cols["pos"]).reshape(-1, 3)
        if len(pos):
            bad = np.flatnonzero(((pos < 0) | (pos >= shape)).any(axis=1))
            if bad.size:
                raise _Bad(f"{n} cell {int(bad[0])} is at voxel "
                           f"{tuple(int(v) for v in pos[bad[0]])}, outside the lattice "
                           f"{tuple(model.shape)}")
        if "state" in pop.spec and len(pos):
            st = np.asarray(cols["state"]).astype(np.int64)
            bad = np.flatnonzero((st < 0) | (st >= len(pop.states)))
            if bad.size:
                raise _Bad(f"{n} cell {int(bad[0])} has state {int(st[bad[0]])}, but {n} has "
                           f"{len(pop.states)} states (0..{len(pop.states) - 1}: "
                           f"{', '.join(pop.states)})")
        ids = np.asarray(cols["id"]).astype(np.int64)
        _check(len(np.unique(ids)) == len(ids), f"{n} has repeated cell ids")
        _check(not len(ids) or (int(ids.min()) >= 0 and int(ids.max()) < next_id),
               f"{n} has cell ids outside 0..{next_id - 1} (the id counter)")
    for name, a in state["fields"].items():
        _finite(f"field {name!r}", a)
    for name, a in state.get("tissue_states", {}).items():
        _finite(f"tissue state {name!r}", a)


def set_state(model, state: dict) -> None:
    """Restore a state written by :func:`get_state`.

    The model must be built with the same settings (lattice, fields, cell types,
    tissue table, tissue processes, seed). A state without ``tissue_states`` (written
    before tissue processes existed) fits a model without processes. Undeclared per-cell
    attributes (:mod:`abm.cells.attributes`) are not part of a state: they are cleared.
    """
    xp = model.xp
    fs = model.fields
    m = state["model"]
    if int(m["seed"]) != int(model.seed):
        raise ModelInputError(f"checkpoint was written with seed {m['seed']}, this model "
                              f"has seed {model.seed}; build the model with the same seed")
    missing = set(model.populations) ^ set(state["populations"])
    if missing:
        raise ModelInputError(f"checkpoint cell types {sorted(state['populations'])} do not "
                              f"match the model's {sorted(model.populations)}")
    if set(state["fields"]) != {sp.name for sp in fs.species}:
        raise ModelInputError(f"checkpoint fields {sorted(state['fields'])} do not match "
                              f"the model's {[sp.name for sp in fs.species]}")
    tstates = state.get("tissue_states", {})
    if set(tstates) != set(model.tissue_states):
        raise ModelInputError(f"checkpoint tissue states {sorted(tstates)} do not match the "
                              f"model's {sorted(model.tissue_states)}; build the model with the "
                              f"same tissue processes")
    state = {**state, "populations": {n: dict(c) for n, c in state["populations"].items()}}
    try:
        restore_markers(model, state.get("markers"))
        log = EventLog.from_state(state["event_log"]) if "event_log" in state else None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelInputError(f"the checkpoint is not valid: its event log or markers are "
                              f"malformed ({exc}); the run file is damaged or was altered: "
                              "resume from an intact copy, or run again") from None
    for n, pop in model.populations.items():   # a marker the checkpoint predates is unset
        cols = state["populations"][n]
        for k, (dt_, _, _) in pop.spec.items():
            if k.startswith(MARKER_PREFIX) and k not in cols:
                cols[k] = np.zeros(np.asarray(cols["id"]).shape[0], dt_)
    validate_state(model, state)
    model.event_log = log
    tissue_states = {s: np.asarray(a, np.float64).reshape(-1) for s, a in tstates.items()}
    for s, a in tissue_states.items():
        if a.size != model.n_voxels:
            raise ModelInputError(f"checkpoint tissue state {s!r} has {a.size} values, the "
                                  f"lattice has {model.n_voxels} voxels")
    t = state["tissue"]
    labels = np.asarray(t["labels"], np.uint8)
    if labels.shape != model.shape:
        raise ModelInputError(f"checkpoint lattice {labels.shape} differs from the "
                              f"model's {model.shape}")
    model.set_tissue(labels)
    model.capacity = xp.asarray(np.asarray(t["capacity"], np.int32))
    model.occupancy = xp.asarray(np.asarray(t["occupancy"], np.int32))
    for n, pop in model.populations.items():
        cols = state["populations"][n]
        for k, (dt_, shp, _) in pop.spec.items():
            pop.columns[k] = xp.asarray(np.asarray(cols[k], dt_).reshape((-1,) + shp))
    fs.set_state(state["fields"], state.get("depots", {}), m["field_time"], m["field_steps"])
    for s, a in tissue_states.items():
        model.tissue_states[s] = xp.array(a)
    model.steps = int(m["steps"])
    model.time = float(m["time"])
    model._next_id = int(m["next_id"])
    model.__dict__.pop("_cell_attrs", None)   # undeclared attributes are not checkpointed
    model._collected_initial = True
