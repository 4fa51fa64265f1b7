"""Regions of the tissue: where cells are placed, tissue is painted and treatments go.

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
from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelInputError

__all__ = ["Region", "SphereRegion", "EllipsoidRegion", "BoxRegion", "ShellRegion", "MaskRegion",
           "LabelRegion", "AXES"]

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


@dataclass(frozen=True)
class SphereRegion(_Geometric):
    """Ball of ``radius`` (µm) around ``center`` (3 coordinates, µm)."""

    center: tuple[float, float, float]
    radius: float
    kind: str = field(default="sphere", init=False)

    def bounds(self):
        return tuple((c - self.radius, c + self.radius) for c in self.center)

    def _inside(self, x, y, z):
        cx, cy, cz = self.center
        return (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= self.radius ** 2

    def describe(self):
        return f"sphere centre {_vec(self.center)}, radius {_fmt(self.radius)} µm"


@dataclass(frozen=True)
class EllipsoidRegion(_Geometric):
    """Axis-aligned ellipsoid with semi-axes ``radii`` (µm) around ``center`` (µm)."""

    center: tuple[float, float, float]
    radii: tuple[float, float, float]
    kind: str = field(default="ellipsoid", init=False)

    def bounds(self):
        return tuple((c - r, c + r) for c, r in zip(self.center, self.radii))

    def _inside(self, x, y, z):
        (cx, cy, cz), (rx, ry, rz) = self.center, self.radii
        return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2 <= 1.0

    def describe(self):
        return f"ellipsoid centre {_vec(self.center)}, radii {_vec(self.radii)}"


@dataclass(frozen=True)
class BoxRegion(_Geometric):
    """Axis-aligned box from ``lower`` to ``upper`` corners (µm)."""

    lower: tuple[float, float, float]
    upper: tuple[float, float, float]
    kind: str = field(default="box", init=False)

    def bounds(self):
        return tuple(zip(self.lower, self.upper))

    def _inside(self, x, y, z):
        (lx, ly, lz), (ux, uy, uz) = self.lower, self.upper
        return (x >= lx) & (x <= ux) & (y >= ly) & (y <= uy) & (z >= lz) & (z <= uz)

    def describe(self):
        return f"box {_vec(self.lower)} to {_vec(self.upper)}"


@dataclass(frozen=True)
class ShellRegion(_Geometric):
    """Spherical shell ``inner_radius < |x − center| ≤ outer_radius`` (µm)."""

    center: tuple[float, float, float]
    inner_radius: float
    outer_radius: float
    kind: str = field(default="shell", init=False)

    def bounds(self):
        return tuple((c - self.outer_radius, c + self.outer_radius) for c in self.center)

    def _inside(self, x, y, z):
        cx, cy, cz = self.center
        r2 = (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2
        return (r2 > self.inner_radius ** 2) & (r2 <= self.outer_radius ** 2)

    def describe(self):
        return (f"shell centre {_vec(self.center)}, radii {_fmt(self.inner_radius)}–"
                f"{_fmt(self.outer_radius)} µm")


@dataclass(frozen=True, eq=False)
class MaskRegion(Region):
    """Voxels given by a boolean array read from a file (nonzero = inside).

    Attributes
    ----------
    file : str
        Path as written in the scenario (relative to the scenario file).
    dataset : str or None
        HDF5 dataset name (None for ``.npy``).
    array : numpy bool array
        The mask, of the lattice shape.
    """

    file: str
    dataset: str | None
    array: np.ndarray
    kind: str = field(default="mask", init=False)

    def mask(self, shape, dx, labels=None, label_names=None):
        shape = tuple(int(n) for n in shape)
        if self.array.shape != shape:
            raise ModelInputError(f"mask {self.file} has shape {self.array.shape}, the lattice "
                                  f"is {shape}")
        return self.array.copy()

    def describe(self):
        return f"mask {self.file}" + (f" [{self.dataset}]" if self.dataset else "")

    @staticmethod
    def load(path, dataset: str | None = None) -> np.ndarray:
        """Read a mask array from ``.npy`` or ``.h5``/``.hdf5`` (``dataset`` required for HDF5).

        Returns
        -------
        numpy bool array

        Raises
        ------
        ModelInputError
            Missing file, unknown extension, missing dataset or unreadable content.
        """
        from pathlib import Path  # noqa: PLC0415

        path = Path(path)
        if not path.is_file():
            raise ModelInputError(f"mask file {str(path)!r} not found; give a path relative to the "
                                  f"scenario file")
        suffix = path.suffix.lower()
        try:
            if suffix == ".npy":
                arr = np.load(path, allow_pickle=False)
            elif suffix in (".h5", ".hdf5"):
                import h5py  # noqa: PLC0415

                if not dataset:
                    raise ModelInputError(f"mask file {path.name} is HDF5: name the array with "
                                          f"'dataset:'")
                with h5py.File(path, "r") as fh:
                    if dataset not in fh:
                        raise ModelInputError(f"mask file {path.name} has no dataset {dataset!r}; "
                                              f"it has {sorted(fh.keys())}")
                    ds = fh[dataset]
                    arr = ds[...]
                    if ds.attrs.get("axes") in ("z,y,x", b"z,y,x") and arr.ndim == 3:
                        arr = arr.transpose(2, 1, 0)  # a run file's (nz, ny, nx) labels
            else:
                raise ModelInputError(f"mask file {path.name}: use a .npy, .h5 or .hdf5 file")
        except ModelInputError:
            raise
        except Exception as exc:
            raise ModelInputError(f"cannot read mask file {path.name}: {exc}") from None
        arr = np.asarray(arr)
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise ModelInputError(f"mask file {path.name} holds {arr.dtype}, expected numbers")
        return arr != 0


@dataclass(frozen=True)
class LabelRegion(Region):
    """The voxels carrying tissue label ``name`` when the mask is made; ``"all"``: every voxel."""

    name: str

    @property
    def kind(self) -> str:  # type: ignore[override]
        return "all" if self.name == "all" else "label"

    def mask(self, shape, dx, labels=None, label_names=None):
        shape = tuple(int(n) for n in shape)
        if self.name == "all":
            return np.ones(shape, dtype=bool)
        if labels is None or label_names is None:
            raise ModelInputError(f"region {self.name!r} is a tissue label: pass labels= and "
                                  f"label_names= to make its mask")
        names = list(label_names)
        if self.name not in names:
            raise ModelInputError(f"unknown tissue label {self.name!r}; labels are {names}")
        labels = np.asarray(labels)
        if labels.shape != shape:
            raise ModelInputError(f"labels have shape {labels.shape}, expected {shape}")
        return labels == names.index(self.name)

    def describe(self):
        return "everywhere" if self.name == "all" else f"tissue '{self.name}'"
