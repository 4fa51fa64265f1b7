"""Placing cells on the lattice, and the one placement-with-exclusion rule.

Adding, seeding and removing cells, and the placement with exclusion that
movement and division share.

Every voxel holds at most ``capacity`` cells; ``occupancy`` counts the cells in
it. :func:`place_with_exclusion` is the only place where cells claim room during
a step: each proposal names a voxel and carries a counter-based priority key;
per voxel, the proposals with the lowest keys win as long as there is free room
(:func:`kernels.lattice.accept_by_priority`), and the occupancy is updated.
"""

from __future__ import annotations

import numpy as np

from kernels import lattice as L
from kernels import rng as R
from kernels.backend import to_numpy

from ..errors import ModelInputError
from . import attributes

__all__ = ["PLACE_CHUNK", "capacity_array", "place_with_exclusion", "add_cells", "new_rows", "seed_cells",
           "pick_slots", "remove_cells"]

#: Free slots examined at once when seeding cells (see :func:`pick_slots`).
PLACE_CHUNK = 1 << 22


def place_with_exclusion(xp, occupancy, capacity, target, key, vacate=None):
    """Accept proposals to occupy voxels, lowest priority key first, within the free room.

    Parameters
    ----------
    xp : module
        numpy or cupy.
    occupancy : int32 array (n_voxels,)
        Cells per voxel; updated in place (accepted proposals add one at
        ``target``; with ``vacate``, they also remove one there).
    capacity : int32 array (n_voxels,)
        Cells a voxel can hold.
    target : int64 array (m,)
        Flat voxel each proposal wants.
    key : uint64 array (m,)
        Priority of each proposal (a counter-based draw; lower wins).
    vacate : int64 array (m,), optional
        Flat voxel each proposal leaves if accepted (a move); None for a new
        cell (a division).

    Returns
    -------
    bool array (m,)
        True where the proposal is placed. The free room is
        ``max(capacity - occupancy, 0)`` before any proposal of this call.
    """
    free = xp.maximum(capacity - occupancy, 0)
    ok = L.accept_by_priority(xp, target, key, free)
    k = int(ok.sum())
    if vacate is not None:
        L.scatter_add(xp, occupancy, vacate[ok], -xp.ones(k, np.int32))
    L.scatter_add(xp, occupancy, target[ok], xp.ones(k, np.int32))
    return ok


def capacity_array(capacity, shape) -> np.ndarray:
    """Cells each voxel can hold, as a flat int32 NumPy array.

    From one integer or an integer array of the lattice ``shape``; negative or
    misshapen values are refused.
    """
    cap = np.asarray(to_numpy(capacity))
    if cap.ndim == 0:
        cap = np.full(shape, int(cap))
    if cap.shape != shape or not np.issubdtype(cap.dtype, np.number) or (cap < 0).any():
        raise ModelInputError(
            f"capacity must be a non-negative integer or an integer array of shape "
            f"{shape}, got {cap.dtype} of shape {cap.shape}")
    return cap.reshape(-1).astype(np.int32)


def new_rows(model, cls, ids, pos, lineage, parent, generation) -> dict:
    """Columns of new cells of class ``cls`` born now (NumPy arrays, ``len(ids)`` rows).

    Times (``born``, ``last_*``) are the model time, min; variables start at the
    type's ``initial:<variable>`` parameter (default 0); the state at the first one.
    """
    n = len(ids)
    t = np.full(n, model.time)
    row = {"id": ids, "pos": pos, "lineage": lineage, "parent": parent,
           "generation": generation, "born": t, "last_division": t.copy(),
           "last_differentiation": t.copy(), "last_transition": t.copy()}
    if cls.states:
        row["state"] = np.zeros(n, np.int8)
    for v in cls.variables:
        row[v] = np.full(n, model.params[cls.cell_type].get(f"initial:{v}", 0.0))
    return row


def add_cells(model, cls, positions, values: dict) -> np.ndarray:
    """Add cells of class ``cls`` at voxels ``positions`` (int (n, 3)).

    Each voxel must have room; ``values`` sets phenotype variables or ``state`` (see
    :meth:`abm.cells.TissueModel.add_cells`). Returns their ids (NumPy int64).
    """
    xp = model.xp
    pos = np.asarray(to_numpy(positions), dtype=np.int64).reshape(-1, 3)
    n = pos.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    if ((pos < 0) | (pos >= np.asarray(model.shape))).any():
        raise ModelInputError(f"cell positions must lie inside the lattice {model.shape}")
    flat = np.ravel_multi_index(pos.T, model.shape)
    room = to_numpy(model.capacity - model.occupancy)
    need = np.bincount(flat, minlength=model.n_voxels)
    if (need > room).any():
        v = int(np.argmax(need > room))
        raise ModelInputError(
            f"voxel {tuple(int(i) for i in np.unravel_index(v, model.shape))} has room for "
            f"{max(int(room[v]), 0)} more cells, {int(need[v])} were placed there; spread the "
            f"cells out or raise the capacity")
    ids = model._take_ids(n)
    pop = model.populations[cls.cell_type]
    row = new_rows(model, cls, ids, pos, ids, -np.ones(n, np.int64), np.zeros(n, np.int32))
    for k, v in values.items():
        if k == "state":
            v = np.broadcast_to(np.asarray(v), (n,))
            bad = set(v.tolist()) - set(cls.states)
            if bad:
                raise ModelInputError(f"{cls.cell_type} state must be one of {cls.states}, "
                                      f"got {sorted(bad)}")
            row["state"] = np.asarray([cls.states.index(s) for s in v.tolist()], np.int8)
        elif k in cls.variables:
            row[k] = np.broadcast_to(np.asarray(v, np.float64), (n,)).copy()
        else:
            raise ModelInputError(f"{cls.cell_type} has no variable {k!r}; it has "
                                  f"{list(cls.variables) + (['state'] if cls.states else [])}")
    pop.append({k: xp.asarray(v) for k, v in row.items()})
    L.scatter_add(xp, model.occupancy, xp.asarray(flat), xp.ones(n, np.int32))
    return ids


def seed_cells(model, cls, n: int, region, values: dict) -> np.ndarray:
    """Place ``n`` cells of class ``cls`` uniformly at random over the free room of ``region``.

    ``region`` is a bool array of the lattice shape, or None for everywhere; see
    :meth:`abm.cells.TissueModel.seed_cells`. Returns their ids (NumPy int64).
    """
    room = to_numpy(model.capacity - model.occupancy).astype(np.int64)
    room = np.maximum(room, 0)
    if region is not None:
        region = np.asarray(to_numpy(region), bool)
        if region.shape != model.shape:
            raise ModelInputError(f"region must be a boolean array of shape {model.shape}")
        room = room * region.reshape(-1)
    total = int(room.sum())
    n = int(n)
    if n > total:
        raise ModelInputError(f"cannot place {n} {cls.cell_type} cells: the region has room "
                              f"for {total}")
    voxels = pick_slots(model, room, n)
    pos = np.stack(np.unravel_index(voxels, model.shape), axis=1)
    return add_cells(model, cls, pos, values)


def pick_slots(model, room: np.ndarray, n: int) -> np.ndarray:
    """Voxels (flat) of ``n`` free slots drawn uniformly without replacement.

    Every unit of room is a "slot", numbered voxel by voxel; the ``n`` slots with the
    lowest counter-based keys win. Slots are visited in chunks of ``PLACE_CHUNK``,
    keeping only the best ``n`` so far, so memory is O(n + chunk), not O(room): a
    256³ lattice of capacity 4 no longer needs two 0.5 GB temporaries. The result
    does not depend on the chunk size.

    Parameters
    ----------
    model : TissueModel
        Supplies the seed and the id counter (the draws are keyed by it).
    room : int64 NumPy array (n_voxels,)
        Free slots per voxel.
    n : int
        Slots to pick, at most ``room.sum()``.
    """
    if n == 0:
        return np.zeros(0, np.int64)
    total = int(room.sum())
    step_key = -1 - model._next_id
    best_k = np.zeros(0, np.uint64)
    best_s = np.zeros(0, np.int64)
    for a in range(0, total, PLACE_CHUNK):
        s = np.arange(a, min(a + PLACE_CHUNK, total), dtype=np.int64)
        k = R.draw_bits(np, R.agent_keys(np, model.seed, step_key, s), "place")
        k = np.concatenate([best_k, k])
        s = np.concatenate([best_s, s])
        if k.size > n:
            keep = np.argpartition(k, n - 1)[:n]
            k, s = k[keep], s[keep]
        best_k, best_s = k, s
    # slot j lies in the first voxel whose cumulative room exceeds j
    return np.searchsorted(np.cumsum(room), np.sort(best_s), side="right")


def remove_cells(model, cls, ids) -> None:
    """Remove the cells of class ``cls`` with these unique ids (no death release)."""
    xp = model.xp
    pop = model.populations[cls.cell_type]
    ids = xp.asarray(np.asarray(ids, np.int64))
    gone = xp.isin(pop.ids, ids)
    flat = L.flat_index(xp, pop.pos[gone], model.shape)
    L.scatter_add(xp, model.occupancy, flat, -xp.ones(flat.shape[0], np.int32))
    pop.take(~gone)
    attributes.drop_gone(model)
