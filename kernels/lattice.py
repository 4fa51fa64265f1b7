"""Whole-population lattice operations: sampling, gradients, exclusion-aware placement.

Every function takes the array module ``xp`` (NumPy or CuPy) and array
arguments on that backend, and computes the same thing on both.
"""

from __future__ import annotations

import numpy as np

from . import xp_ops

__all__ = ["NEIGHBOURS", "flat_index", "neighbour_positions", "inside", "sample",
           "gradient_at", "scatter_add", "accept_by_priority"]

#: The six face neighbours, in the order x-, x+, y-, y+, z-, z+ (int32, shape (6, 3)).
NEIGHBOURS = np.array([[-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0], [0, 0, -1], [0, 0, 1]],
                      dtype=np.int32)


def flat_index(xp, pos, shape):
    """C-order flat voxel index (int64) of integer positions ``pos`` (n, 3)."""
    p = pos.astype(xp.int64)
    return (p[:, 0] * shape[1] + p[:, 1]) * shape[2] + p[:, 2]


def neighbour_positions(xp, pos, direction):
    """Position after one hop in ``direction`` (int array of 0..5; 6 = stay)."""
    nb = xp.asarray(np.vstack([NEIGHBOURS, np.zeros((1, 3), np.int32)]))
    return pos + nb[direction]


def inside(xp, pos, shape):
    """Boolean mask: positions inside the lattice."""
    return ((pos[:, 0] >= 0) & (pos[:, 0] < shape[0]) & (pos[:, 1] >= 0) & (pos[:, 1] < shape[1])
            & (pos[:, 2] >= 0) & (pos[:, 2] < shape[2]))


def sample(field3d, flat):
    """Values of a 3D field at flat voxel indices (gather)."""
    return field3d.reshape(-1)[flat]


def gradient_at(xp, field3d, pos, dx: float):
    """Gradient of a field at integer positions, (n, 3), in field units per µm.

    Central differences inside the lattice, one-sided at its faces (exact for
    a field that is linear along the axis).
    """
    shape = field3d.shape
    flat = field3d.reshape(-1)
    p = pos.astype(xp.int64)
    strides = (shape[1] * shape[2], shape[2], 1)
    base = (p[:, 0] * shape[1] + p[:, 1]) * shape[2] + p[:, 2]
    out = xp.empty((pos.shape[0], 3), dtype=xp.float64)
    for a in range(3):
        lo = p[:, a] > 0
        hi = p[:, a] < shape[a] - 1
        i_lo = base - strides[a] * lo
        i_hi = base + strides[a] * hi
        span = (lo.astype(xp.float64) + hi.astype(xp.float64)) * dx
        diff = flat[i_hi].astype(xp.float64) - flat[i_lo].astype(xp.float64)
        out[:, a] = xp.where(span > 0, diff / xp.maximum(span, 1e-300), 0.0)
    return out


def scatter_add(xp, target, index, values) -> None:
    """``target[index] += values`` with repeated indices accumulated (in place)."""
    xp_ops.scatter_add(xp, target, index, values)


def accept_by_priority(xp, target, key, free):
    """Which proposals to place, at most ``free[v]`` per voxel, lowest key first.

    Deterministic conflict resolution for exclusion: the proposals for one
    voxel are ranked by their random key (a counter-based draw, so the ranking
    does not depend on thread order) and the first ``free[v]`` win.

    Parameters
    ----------
    target : int64 array (m,)
        Flat voxel each proposal wants.
    key : uint64 array (m,)
        Priority draw per proposal.
    free : int array (n_voxels,)
        Room left per voxel (capacity minus occupancy), >= 0.

    Returns
    -------
    bool array (m,)
        True where the proposal is placed.
    """
    m = int(target.shape[0])
    if m == 0:
        return xp.zeros(0, dtype=bool)
    tb = max(1, int(free.shape[0]).bit_length())
    # One 64-bit sort key: the voxel in the high bits, the priority in the low
    # ones; a stable sort keeps the input order on (astronomically rare) ties.
    comp = (target.astype(xp.uint64) << np.uint64(64 - tb)) | (key >> np.uint64(tb))
    order = xp_ops.argsort_stable(xp, comp)
    st = target[order]
    new = xp.ones(m, dtype=bool)
    new[1:] = st[1:] != st[:-1]
    starts = xp.flatnonzero(new)
    group = xp.cumsum(new) - 1
    rank = xp.arange(m) - starts[group]
    ok_sorted = rank < free[st]
    ok = xp.empty(m, dtype=bool)
    ok[order] = ok_sorted
    return ok
