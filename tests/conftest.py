"""Shared helpers for the test suite: analytic solutions written independently of the engine."""

from __future__ import annotations

import numpy as np
import pytest


def image_positions(c: int, n: int, reps: int = 4) -> np.ndarray:
    """Positions (voxel units) of a source at voxel ``c`` and its mirror images.

    Cell-centred voxels 0..n-1 have no-flux faces at -0.5 and n-0.5; reflecting
    across them puts images at ``c + 2 m n`` and ``-1 - c + 2 m n``.
    """
    return np.array([v for m in range(-reps, reps + 1) for v in (c + 2 * m * n, -1 - c + 2 * m * n)],
                    dtype=float)


def screened_point_source(points, centre, shape, dx, D, decay, q, reps=4):
    """Steady concentration of a constant point source with decay in a no-flux box.

    Free-space solution ``q exp(-r/L) / (4 π D r)`` (L = sqrt(D/decay)) summed over
    the source and its image sources.

    Parameters
    ----------
    points : int array (m, 3)
        Voxels where to evaluate.
    centre : tuple of int
        Source voxel.
    shape : tuple of int
        Box size in voxels.
    dx, D, decay, q : float
        Voxel edge (µm), diffusion (µm²/min), decay (1/min), release (amount/min).
    """
    L = np.sqrt(D / decay)
    P = np.asarray(points, float)
    ims = [image_positions(c, n, reps) for c, n in zip(centre, shape)]
    out = np.zeros(len(P))
    for x0 in ims[0]:
        ddx = (P[:, 0] - x0) ** 2
        for y0 in ims[1]:
            ddxy = ddx + (P[:, 1] - y0) ** 2
            for z0 in ims[2]:
                r = np.sqrt(ddxy + (P[:, 2] - z0) ** 2) * dx
                out += q * np.exp(-r / L) / (4 * np.pi * D * r)
    return out


def shell_points(radius_min: float, radius_max: float, centre, dims=3):
    """Integer offsets with radius_min <= |offset| <= radius_max, shifted to ``centre``."""
    R = int(np.ceil(radius_max))
    g = np.arange(-R, R + 1)
    pts = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    r = np.linalg.norm(pts, axis=1)
    keep = (r >= radius_min) & (r <= radius_max)
    return pts[keep] + np.asarray(centre), r[keep]


@pytest.fixture
def rng():
    """A seeded generator, so every random check is reproducible."""
    return np.random.default_rng(20261121)
