"""A model's whole state as plain NumPy arrays and numbers, and its restoration.

This is the content of a checkpoint (:meth:`abm.cells.TissueModel.get_state` /
:meth:`~abm.cells.TissueModel.set_state`).
"""

from __future__ import annotations

import numpy as np

from kernels.backend import to_numpy

from ..errors import ModelInputError

__all__ = ["get_state", "set_state"]


def get_state(model) -> dict:
    """Everything needed to continue ``model`` exactly, as plain NumPy arrays and numbers.

    The returned nested dict holds the step counter, the time, the id counter,
    the seed, the tissue labels and voxel capacities, every population's
    columns, the fields, the depots and the tissue processes' states (flat, one
    value per voxel). Built-in behaviour draws its random numbers from (seed,
    step, id, purpose), so no generator state is needed. Ordinary Mesa agents
    (the slow path) are not included. On the NumPy backend the arrays may share
    memory with the model (no copy of a large lattice is made): write them out,
    or copy them, before the model steps on.
    """
    fs = model.fields
    fstate = fs.get_state()
    return {
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


def set_state(model, state: dict) -> None:
    """Restore a state written by :func:`get_state`.

    The model must be built with the same settings (lattice, fields, cell types,
    tissue table, tissue processes, seed). A state without ``tissue_states`` (written before tissue processes existed)
    fits a model without processes.
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
    model._collected_initial = True
