"""A calvarial plate with a round through-defect (the rat critical-size calvarial defect).

The plate lies parallel to the lattice's x–y plane, between ``z = bottom`` (the dural,
inner surface) and ``z = bottom + thickness`` (the outer surface under the periosteum); it
is cut to the domain in x and y. The defect is the cylinder of ``diameter`` around the axis
through ``center = (x, y)``, through the whole plate thickness. The host bone is the plate
outside the defect.

The full 8 mm defect with a rim of host bone at 20 µm voxels is about 500 × 500 × 60
voxels; the reduced representation shipped in the example is a radial strip from the defect
centre out into the host bone, with the centre on the strip's end face (docs/bone-anatomy.md
says why and what it changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["CALVARIA_STRUCTURES", "CalvarialDefect"]

#: Label codes of :meth:`CalvarialDefect.labels`, by structure (0 is neither).
CALVARIA_STRUCTURES = {"outside": 0, "bone": 1, "defect": 2}


@dataclass(frozen=True)
class CalvarialDefect:
    """A calvarial plate with a cylindrical defect (lengths µm).

    Attributes
    ----------
    center : tuple of 2 float
        Position ``(x, y)`` of the defect's axis in the lattice, µm (it may lie on the domain's
        edge: a strip or quadrant of a symmetric defect).
    diameter : float
        Defect diameter, µm.
    bottom : float
        Height ``z`` of the plate's inner (dural) surface, µm.
    thickness : float
        Plate thickness, µm.
    """

    center: tuple[float, float]
    diameter: float
    bottom: float
    thickness: float

    def __post_init__(self):
        object.__setattr__(self, "center", tuple(float(v) for v in self.center))

    @property
    def top(self) -> float:
        """Height ``z`` of the plate's outer surface, µm."""
        return self.bottom + self.thickness

    def describe(self) -> str:
        """One-line description (units µm)."""
        cx, cy = self.center
        return (f"calvarial plate {self.thickness:g} µm thick from z = {self.bottom:g} µm with a "
                f"{self.diameter:g} µm defect at ({cx:g}, {cy:g}) µm")

    def defect_volume(self, extent) -> float:
        """Analytic volume of the defect cut to the domain ``[0, extent]``, µm³.

        The disc's area inside the x–y rectangle of the domain (by numerical integration of
        the chord length, accurate to 1e-9 relative), times the plate thickness inside the
        domain.

        Parameters
        ----------
        extent : sequence of 3 float
            Domain extent, µm.
        """
        from scipy.integrate import quad  # noqa: PLC0415

        (cx, cy), r = self.center, self.diameter / 2.0
        ex, ey, ez = (float(v) for v in extent)

        def chord(y):
            h = r * r - (y - cy) ** 2
            if h <= 0:
                return 0.0
            s = np.sqrt(h)
            return max(0.0, min(ex, cx + s) - max(0.0, cx - s))

        lo, hi = max(0.0, cy - r), min(ey, cy + r)
        area = quad(chord, lo, hi, epsabs=0, epsrel=1e-10, limit=200)[0] if hi > lo else 0.0
        height = max(0.0, min(ez, self.top) - max(0.0, self.bottom))
        return area * height

    def labels(self, shape, dx: float) -> np.ndarray:
        """Structure codes (:data:`CALVARIA_STRUCTURES`) of every voxel.

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


@lru_cache(maxsize=8)
def _labels(c: CalvarialDefect, shape: tuple[int, int, int], dx: float) -> np.ndarray:
    x, y, z = ((np.arange(n) + 0.5) * dx for n in shape)
    r2 = (x[:, None] - c.center[0]) ** 2 + (y[None, :] - c.center[1]) ** 2
    hole = r2 <= (c.diameter / 2.0) ** 2
    plate = (z >= c.bottom) & (z <= c.top)
    out = np.zeros(shape, dtype=np.uint8)
    out[..., plate] = np.where(hole, CALVARIA_STRUCTURES["defect"],
                               CALVARIA_STRUCTURES["bone"])[..., None]
    out.setflags(write=False)
    return out
