"""Where a cell is drawn inside its voxel.

The model keeps cells on voxels (a 25 µm voxel holds a few cell bodies); drawn at the
voxel centres, the cells of one voxel would sit on top of each other and a crowded
border zone would look empty. Each cell is therefore drawn at a fixed offset inside its
voxel, drawn from its id by a hash (SplitMix64), so that

* cells sharing a voxel are drawn apart,
* a cell keeps its offset from snapshot to snapshot (it does not flicker in a movie),
* every drawn point stays inside its own voxel (offsets within ``±spread/2`` voxel).

The offsets are for pictures only; no readout or model value depends on them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_SPREAD", "within_voxel_offsets", "drawn_positions"]

#: Fraction of the voxel edge over which cells are spread (0.8: a margin of 0.1 voxel
#: at each face, so neighbouring voxels' cells do not touch).
DEFAULT_SPREAD = 0.8

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser of uint64 values (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return z ^ (z >> np.uint64(31))


def within_voxel_offsets(ids, spread: float = DEFAULT_SPREAD) -> np.ndarray:
    """Offsets of cells from their voxel centres, in voxels.

    Parameters
    ----------
    ids : array of int (n,)
        Cell ids (``id`` column of an agent table).
    spread : float
        Width of the box the offsets fill, in voxel edges (0 < spread <= 1).

    Returns
    -------
    ndarray (n, 3) of float64
        One offset per cell and axis, in ``[-spread/2, spread/2)`` voxels; the same id
        always gives the same offset.
    """
    if not 0 < spread <= 1:
        raise ValueError(f"spread must be in (0, 1], got {spread}")
    ids = np.asarray(ids, dtype=np.int64).astype(np.uint64)
    out = np.empty((ids.shape[0], 3), dtype=np.float64)
    for axis in range(3):
        h = _splitmix64(ids * np.uint64(3) + np.uint64(axis))
        u = (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)   # [0, 1)
        out[:, axis] = (u - 0.5) * spread
    return out


def drawn_positions(pos, ids, origin, spacing, spread: float = DEFAULT_SPREAD) -> np.ndarray:
    """Physical positions at which to draw cells: voxel centre plus the id's offset.

    Parameters
    ----------
    pos : int array (n, 3)
        Voxel of each cell.
    ids : int array (n,) or None
        Cell ids; None draws at the voxel centres.
    origin : array (3,)
        Physical position of the lattice corner, µm.
    spacing : array (3,)
        Voxel edge per axis, µm.
    spread : float
        As for :func:`within_voxel_offsets`.

    Returns
    -------
    ndarray (n, 3) of float64
        Positions, µm.
    """
    pos = np.asarray(pos, dtype=np.float64).reshape(-1, 3) + 0.5
    if ids is not None:
        pos = pos + within_voxel_offsets(ids, spread)
    return np.asarray(origin, dtype=np.float64) + pos * np.asarray(spacing, dtype=np.float64)
