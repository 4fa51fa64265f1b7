"""Regions of the tissue (the base class; each shape lives in its own module): where cells are placed, tissue is painted and treatments go.

A region is a set of voxels. A voxel ``(i, j, k)`` belongs to a geometric
region when its centre ``((i + 0.5)·dx, (j + 0.5)·dx, (k + 0.5)·dx)`` (µm)
lies inside the shape; boundaries count as inside. Coordinates are physical
positions in the domain, from 0 to the extent along each axis, in µm.

Primitives
----------
``SphereRegion(center, radius)``
    ``|x − c| ≤ r``.
``EllipsoidRegion(center, radii)``
    ``Σ ((x_a − c_a)/r_a)² ≤ 1``.
``BoxRegion(lower, upper)``
    ``lower_a ≤ x_a ≤ upper_a`` on every axis.
``ShellRegion(center, inner_radius, outer_radius)``
    ``inner < |x − c| ≤ outer``: exactly the outer sphere minus the inner one.
``MaskRegion(file, dataset, array)``
    A boolean array of the lattice shape read from ``.npy`` or HDF5
    (nonzero = inside).
``LabelRegion(name)``
    The voxels that carry tissue label ``name`` at the moment the mask is made
    (``"all"``: every voxel).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

__all__ = ["Region", "RegionShape", "AXES", "shape_named"]

AXES = ("x", "y", "z")


def _fmt(v: float) -> str:
    return f"{v:g}"


def _vec(v) -> str:
    return "(" + ", ".join(_fmt(x) for x in v) + ") µm"


def _centres(n: int, dx: float, lo: float, hi: float):
    """Index range [a, b) of voxels whose centres may lie in [lo, hi] (µm), and the centres."""
    a = max(0, int(math.floor(lo / dx - 0.5)))
    b = min(n, int(math.ceil(hi / dx - 0.5)) + 1)
    b = max(a, b)
    return a, b, (np.arange(a, b) + 0.5) * dx


class Region:
    """A set of voxels (abstract base).

    Attributes
    ----------
    kind : str
        ``"sphere"``, ``"ellipsoid"``, ``"box"``, ``"shell"``, ``"mask"``, ``"label"`` or ``"all"``.
    """

    kind: str = "region"

    def mask(self, shape, dx: float, labels=None, label_names=None) -> np.ndarray:
        """Boolean array of ``shape``: True on the voxels of the region.

        Parameters
        ----------
        shape : tuple of 3 int
            Lattice size in voxels.
        dx : float
            Voxel edge, µm.
        labels : uint8 array of ``shape``, optional
            Current tissue labels (needed by label regions only).
        label_names : sequence of str, optional
            Name of each label (index = label value; needed by label regions only).
        """
        raise NotImplementedError

    def describe(self) -> str:
        """One-line human description (units µm)."""
        raise NotImplementedError

    def bounds(self) -> tuple[tuple[float, float], ...] | None:
        """Axis-aligned bounding box ``((xlo, xhi), (ylo, yhi), (zlo, zhi))`` in µm, or None."""
        return None

    def outside_domain(self, extent) -> str | None:
        """A message if the region reaches outside ``[0, extent]`` (µm) on some axis, else None."""
        b = self.bounds()
        if b is None:
            return None
        for a, ((lo, hi), ext) in enumerate(zip(b, extent)):
            tol = 1e-9 * max(ext, 1.0)
            if lo < -tol or hi > ext + tol:
                return (f"region {self.describe()} extends beyond the domain 0–{_fmt(ext)} µm "
                        f"along {AXES[a]} (it spans {_fmt(lo)}–{_fmt(hi)} µm)")
        return None

    def voxel_count(self, shape, dx: float, labels=None, label_names=None) -> int:
        """Number of voxels in the region."""
        return int(np.count_nonzero(self.mask(shape, dx, labels, label_names)))


#: Bounding boxes up to this many voxels are evaluated at once; larger ones slab by slab.
_CHUNK = 20_000_000


class _Geometric(Region):
    """A region given by a predicate on voxel centres inside a bounding box."""

    def _inside(self, x, y, z) -> np.ndarray:
        raise NotImplementedError

    def voxel_count(self, shape, dx, labels=None, label_names=None) -> int:
        """Number of voxels inside, computed over the bounding box only (memory bounded)."""
        ranges = [_centres(int(n), float(dx), lo, hi) for n, (lo, hi) in zip(shape, self.bounds())]
        cx, cy, cz = (r[2] for r in ranges)
        if min(len(cx), len(cy), len(cz)) == 0:
            return 0
        step = max(1, _CHUNK // (len(cy) * len(cz)))
        total = 0
        for s in range(0, len(cx), step):
            x, y, z = np.ix_(cx[s:s + step], cy, cz)
            total += int(np.count_nonzero(self._inside(x, y, z)))
        return total

    def mask(self, shape, dx, labels=None, label_names=None):
        shape = tuple(int(n) for n in shape)
        out = np.zeros(shape, dtype=bool)
        slices, grids = [], []
        for n, (lo, hi) in zip(shape, self.bounds()):
            a, b, c = _centres(n, float(dx), lo, hi)
            slices.append(slice(a, b))
            grids.append(c)
        if any(len(g) == 0 for g in grids):
            return out
        x, y, z = np.ix_(*grids)
        out[tuple(slices)] = self._inside(x, y, z)
        return out




class RegionShape:
    """A region shape.

    A region shape a scenario file can name (``{shape: <name>, ...}``), registered once in
    :data:`abm.registry.REGION_SHAPES`.

    Class attributes
    ----------------
    name : str
        The ``shape`` value in scenario files.
    schema : type
        Pydantic model of the mapping (a :class:`abm.scenario.quantities.SchemaModel`
        with ``shape: Literal[name]``); quantities in it are converted to µm on the way in.

    A subclass implements :meth:`build`.
    """

    name: ClassVar[str] = ""
    schema: ClassVar[type] = None

    def build(self, raw, ctx) -> Region:
        """The :class:`Region` of a validated mapping.

        Parameters
        ----------
        raw : schema instance
            The validated mapping (lengths in µm).
        ctx : object
            Where the scenario is: ``ctx.base_dir`` (Path: folder of the scenario file),
            ``ctx.shape`` (lattice, voxels), ``ctx.dx`` (voxel edge, µm).

        Raises
        ------
        abm.scenario.problems.Bad
            A problem with the mapping (its ``key`` names the offending key).
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<region shape {self.name}>"


def shape_named(name: str) -> RegionShape:
    """The registered region shape ``name`` (an instance, also when a class was registered).

    Raises
    ------
    ModelInputError
        Unknown shape (with the closest known one).
    """
    from ..registry import REGION_SHAPES  # noqa: PLC0415

    return REGION_SHAPES.instance(name)
