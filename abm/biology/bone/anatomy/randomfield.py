"""A band-limited Gaussian random field on the lattice, a function of the seed and the position.

The field is white noise smoothed by a Gaussian kernel of standard deviation ``smoothing``
(µm), scaled to unit variance. The noise of voxel ``(i, j, k)`` (global lattice indices: the
lattice's corner is the physical origin) depends on the seed and on the index only: it is
drawn in tiles of :data:`TILE`³ voxels, each from ``numpy.random.default_rng`` seeded with
``(seed, tile index)``. The kernel is cut at :data:`TRUNCATE` standard deviations and the
noise is drawn on the domain padded by the kernel's radius, so the field at a voxel is the
same whatever the lattice around it: the field of a smaller domain at the same voxel edge
is exactly a sub-block of a larger one's (tested). At another voxel edge the noise lattice
differs, so the same seed gives another realisation with the same statistics.

Statistics (exact for the discrete kernel): the field ``f`` is Gaussian with mean 0 and
variance 1 at every voxel; its covariance is close to ``exp(−r² / (4 s²))`` for a smoothing
length ``s`` of several voxels, the covariance of white noise smoothed by a Gaussian of
standard deviation ``s``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

__all__ = ["TILE", "TRUNCATE", "gaussian_field", "kernel1d"]

#: Edge of the noise tiles, voxels.
TILE = 32
#: The kernel is cut at this many standard deviations (weight outside: 0.3 % in 1D).
TRUNCATE = 3.0
#: Offset that keeps tile indices non-negative for ``SeedSequence`` (the padding reaches
#: below the lattice's corner).
_OFFSET = 1 << 20


def kernel1d(sigma_vox: float) -> np.ndarray:
    """The normalised 1D Gaussian kernel of standard deviation ``sigma_vox`` (voxels).

    Parameters
    ----------
    sigma_vox : float
        Standard deviation, voxels (> 0).

    Returns
    -------
    numpy.ndarray of float64
        Weights at offsets ``−r … r`` with ``r = round(TRUNCATE · sigma_vox)``; they sum to 1.
    """
    r = max(1, int(TRUNCATE * sigma_vox + 0.5))
    x = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma_vox) ** 2)
    return w / w.sum()


def _noise(seed: int, lo: tuple[int, ...], hi: tuple[int, ...]) -> np.ndarray:
    """Standard normal noise (float32) on the global voxel box ``[lo, hi)``, from its tiles."""
    out = np.empty(tuple(h - lo_ for lo_, h in zip(lo, hi)), dtype=np.float32)
    t_lo = [lo_ // TILE for lo_ in lo]
    t_hi = [(h - 1) // TILE for h in hi]
    for tx in range(t_lo[0], t_hi[0] + 1):
        for ty in range(t_lo[1], t_hi[1] + 1):
            for tz in range(t_lo[2], t_hi[2] + 1):
                t = (tx, ty, tz)
                rng = np.random.default_rng([int(seed), *(v + _OFFSET for v in t)])
                tile = rng.standard_normal((TILE, TILE, TILE), dtype=np.float32)
                # overlap of this tile with the box, in global indices
                a = [max(lo[d], t[d] * TILE) for d in range(3)]
                b = [min(hi[d], (t[d] + 1) * TILE) for d in range(3)]
                out[tuple(slice(a[d] - lo[d], b[d] - lo[d]) for d in range(3))] = \
                    tile[tuple(slice(a[d] - t[d] * TILE, b[d] - t[d] * TILE) for d in range(3))]
    return out


def gaussian_field(shape, dx: float, smoothing: float, seed: int,
                   origin=(0, 0, 0)) -> np.ndarray:
    """The unit-variance smoothed Gaussian random field on a lattice.

    Parameters
    ----------
    shape : tuple of 3 int
        Lattice size, voxels (the lattice's corner voxel has global index ``(0, 0, 0)``).
    dx : float
        Voxel edge, µm.
    smoothing : float
        Standard deviation of the Gaussian smoothing kernel, µm (> 0; at least about one
        voxel for a smooth field).
    seed : int
        The geometry seed (≥ 0).
    origin : tuple of 3 int, optional
        Global lattice index of the block's first voxel (default: the lattice's corner), so
        that a block of a lattice gets the field the whole lattice has there.

    Returns
    -------
    numpy.ndarray of float32, ``shape``
        The field; dimensionless, mean 0 and variance 1 at every voxel.
    """
    shape = tuple(int(n) for n in shape)
    w = kernel1d(float(smoothing) / float(dx))
    r = (len(w) - 1) // 2
    o = tuple(int(v) for v in origin)
    f = _noise(int(seed), tuple(v - r for v in o), tuple(v + n + r for v, n in zip(o, shape)))
    for axis in range(3):
        f = ndimage.correlate1d(f, w.astype(np.float32), axis=axis, mode="constant")
        # keep only what no longer depends on the (absent) noise beyond the padding
        f = f[tuple(slice(r, f.shape[d] - r) if d == axis else slice(None) for d in range(3))]
    # white noise of unit variance through a separable kernel: variance (Σ w²)³
    f /= np.float32(math.sqrt(float(np.sum(w ** 2)) ** 3))
    return f
