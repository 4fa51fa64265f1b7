"""A synthetic metaphysis: an elliptical cortical shell around a random trabecular network.

The bone's long axis is the lattice's z axis; the cross-section lies in x–y. Outward from
the axis:

``marrow``
    inside the endocortical envelope (an ellipse of semi-axes ``radii − cortical_thickness``)
    where the trabecular field is outside its band;
``trabecular``
    inside the endocortical envelope where ``|f| < a``: ``f`` is the unit-variance Gaussian
    random field of :mod:`.randomfield` (smoothing length ``smoothing``) and
    ``a = √2 · erfinv(bv_tv)``, so that the expected bone volume fraction of the envelope is
    exactly ``bv_tv``. The band around the zero level set of ``f`` is a connected, sponge-like
    sheet: interconnected plates and rods;
``cortex``
    between the endocortical ellipse and the periosteal ellipse (semi-axes ``radii``): a
    shell of thickness ``cortical_thickness`` on the principal axes;
``outside``
    the soft tissue beyond the periosteum.

The trabecular volume of interest of micro-CT (BV/TV, Tb.Th, Tb.Sp, Tb.N, BMD) is the
endocortical space: ``marrow`` and ``trabecular`` together. The geometry is cut to the
domain: a domain holding a quadrant of the cross-section with the bone's axis on its corner
is the default (docs/bone-anatomy.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import erfinv

from .randomfield import gaussian_field

__all__ = ["METAPHYSIS_STRUCTURES", "Metaphysis", "band_half_width"]

#: Label codes of :meth:`Metaphysis.labels`, by structure (0 is outside).
METAPHYSIS_STRUCTURES = {"outside": 0, "cortex": 1, "trabecular": 2, "marrow": 3}


def band_half_width(bv_tv: float) -> float:
    """Half-width ``a`` of the band ``|f| < a`` of a standard normal ``f`` holding ``bv_tv``.

    Parameters
    ----------
    bv_tv : float
        The wanted volume fraction, in (0, 1).

    Returns
    -------
    float
        ``√2 · erfinv(bv_tv)`` (dimensionless): ``P(|f| < a) = bv_tv``.
    """
    return math.sqrt(2.0) * float(erfinv(bv_tv))


@dataclass(frozen=True)
class Metaphysis:
    """The cortex, trabecular bone and marrow of a metaphysis cross-section (lengths µm).

    Attributes
    ----------
    center : tuple of 2 float
        Position ``(x, y)`` of the bone's long axis in the lattice, µm (it may lie on the
        domain's edge or beyond it).
    radii : tuple of 2 float
        Periosteal semi-axes along x and y, µm.
    cortical_thickness : float
        Thickness of the cortical shell on the principal axes, µm (smaller than both radii).
    bv_tv : float
        Expected trabecular bone volume fraction of the endocortical space, in (0, 1).
    smoothing : float
        Standard deviation of the Gaussian that smooths the random field, µm; it sets the
        scale of the network (Tb.Th and Tb.Sp grow in proportion to it).
    seed : int
        The geometry seed: the same seed, voxel edge and position give the same bone.
    """

    center: tuple[float, float]
    radii: tuple[float, float]
    cortical_thickness: float
    bv_tv: float
    smoothing: float
    seed: int

    def __post_init__(self):
        object.__setattr__(self, "center", tuple(float(v) for v in self.center))
        object.__setattr__(self, "radii", tuple(float(v) for v in self.radii))

    @property
    def inner_radii(self) -> tuple[float, float]:
        """Semi-axes of the endocortical envelope, µm."""
        return tuple(r - self.cortical_thickness for r in self.radii)

    def bounds(self, extent_z: float = 0.0) -> tuple[tuple[float, float], ...]:
        """Bounding box of the periosteal ellipse in x–y (z: ``0–extent_z``), µm."""
        (cx, cy), (a, b) = self.center, self.radii
        return ((cx - a, cx + a), (cy - b, cy + b), (0.0, extent_z))

    def describe(self) -> str:
        """One-line description (units µm)."""
        (cx, cy), (a, b) = self.center, self.radii
        return (f"metaphysis (axis at ({cx:g}, {cy:g}) µm, periosteal semi-axes {a:g} × {b:g} "
                f"µm, cortex {self.cortical_thickness:g} µm, BV/TV {self.bv_tv:g}, smoothing "
                f"{self.smoothing:g} µm, seed {self.seed})")

    def labels(self, shape, dx: float) -> np.ndarray:
        """Structure codes (:data:`METAPHYSIS_STRUCTURES`) of every voxel.

        Parameters
        ----------
        shape : tuple of 3 int
            Lattice size, voxels.
        dx : float
            Voxel edge, µm.

        Returns
        -------
        numpy.ndarray of uint8, ``shape`` (read-only; cached)
        """
        return _labels(self, tuple(int(n) for n in shape), float(dx))


def _ellipse(x, y, center, radii):
    """True where ``(x, y)`` is inside the ellipse (boundary included)."""
    (cx, cy), (a, b) = center, radii
    return ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1.0


@lru_cache(maxsize=8)
def _labels(m: Metaphysis, shape: tuple[int, int, int], dx: float) -> np.ndarray:
    x = ((np.arange(shape[0]) + 0.5) * dx)[:, None]
    y = ((np.arange(shape[1]) + 0.5) * dx)[None, :]
    outer = _ellipse(x, y, m.center, m.radii)
    inner = _ellipse(x, y, m.center, m.inner_radii)
    out = np.zeros(shape, dtype=np.uint8)
    out[outer & ~inner] = METAPHYSIS_STRUCTURES["cortex"]
    if inner.any():
        # the field only where it is needed: the box around the envelope's voxels
        ii, jj = np.nonzero(inner)
        i0, i1, j0, j1 = ii.min(), ii.max() + 1, jj.min(), jj.max() + 1
        sub = (i1 - i0, j1 - j0, shape[2])
        f = gaussian_field(sub, dx, m.smoothing, m.seed, origin=(int(i0), int(j0), 0))
        bone = np.abs(f) < band_half_width(m.bv_tv)
        env = np.broadcast_to(inner[i0:i1, j0:j1, None], sub)
        block = out[i0:i1, j0:j1, :]
        block[env & bone] = METAPHYSIS_STRUCTURES["trabecular"]
        block[env & ~bone] = METAPHYSIS_STRUCTURES["marrow"]
    out.setflags(write=False)
    return out
