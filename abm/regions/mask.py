"""A mask read from a file: the voxels where a boolean array of the lattice shape is nonzero."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import numpy as np

from ..errors import ModelInputError
from ..registry import REGION_SHAPES
from ..scenario.problems import Bad
from ..scenario.quantities import SchemaModel
from .base import Region, RegionShape

__all__ = ["MaskRegion", "MaskShape"]


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
        """Boolean voxel mask of the region (:meth:`Region.mask`)."""
        shape = tuple(int(n) for n in shape)
        if self.array.shape != shape:
            raise ModelInputError(f"mask {self.file} has shape {self.array.shape}, the lattice "
                                  f"is {shape}")
        return self.array.copy()

    def describe(self):
        """One-line human description (units µm)."""
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


class _Schema(SchemaModel):
    shape: Literal["mask"]
    file: str
    dataset: Optional[str] = None


@REGION_SHAPES.register(builtin=True)
class MaskShape(RegionShape):
    """The ``mask`` shape.

    ``{shape: mask, file: <.npy|.h5>, dataset: <name>}``: a file relative to the scenario
    file holding a boolean array of the lattice shape.
    """

    name = "mask"
    schema = _Schema

    def build(self, raw, ctx) -> MaskRegion:
        """The region of the validated mapping (lengths in µm).

        A scenario rebuilt from a run file (``ctx.stored_masks`` is a dict) takes the array
        stored in the run file and never reads the recorded path; otherwise the file is read
        and the array recorded in ``ctx.mask_arrays`` (when the context has one) so that the
        run file can store it.
        """
        key = mask_key(raw.file, raw.dataset)
        stored = getattr(ctx, "stored_masks", None)
        if stored is not None:
            if key not in stored:
                raise Bad(f"the run file does not hold the mask '{raw.file}' its scenario names; "
                          "a path recorded in a run file is never read: run the scenario again "
                          "from its file to store the mask", key="file")
            arr = np.asarray(stored[key], bool)
            if arr.shape != tuple(ctx.shape):
                raise Bad(f"the stored mask '{raw.file}' has shape {arr.shape}, the domain is "
                          f"{tuple(ctx.shape)}", key="file")
            return MaskRegion(raw.file, raw.dataset, arr)
        path = Path(raw.file)
        if not path.is_absolute():
            path = Path(ctx.base_dir) / path
        if not path.is_file():
            raise Bad(f"mask file '{raw.file}' not found (looked for '{path}'); give a path "
                      f"relative to the scenario file", key="file")
        if path.suffix.lower() in (".h5", ".hdf5") and not raw.dataset:
            raise Bad(f"mask file '{raw.file}' is HDF5: name the array with 'dataset:'",
                      key="file")
        try:
            arr = MaskRegion.load(path, raw.dataset)
        except ModelInputError as exc:
            raise Bad(str(exc), key="file") from None
        if arr.shape != tuple(ctx.shape):
            raise Bad(f"mask '{raw.file}' has shape {arr.shape}, but the domain is "
                      f"{tuple(ctx.shape)} voxels; make the mask on the lattice "
                      f"(round(extent/voxel) per axis)", key="file")
        arrays = getattr(ctx, "mask_arrays", None)
        if isinstance(arrays, dict):
            arrays[key] = arr
        return MaskRegion(raw.file, raw.dataset, arr)


def mask_key(file: str, dataset: str | None) -> str:
    """Name of a mask in a run file's ``/masks``: the file as written, and its dataset."""
    return f"{file}::{dataset}" if dataset else str(file)
