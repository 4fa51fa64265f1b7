"""A tissue label as a region: the voxels carrying the label when the mask is made.

A bare string where a region is expected (``region: penumbra``, ``region: all``) is a
label reference, not a registered shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelInputError
from .base import Region

__all__ = ["LabelRegion"]


@dataclass(frozen=True)
class LabelRegion(Region):
    """The voxels carrying tissue label ``name`` when the mask is made; ``"all"``: every voxel."""

    name: str

    @property
    def kind(self) -> str:  # type: ignore[override]
        """``"all"`` for every voxel, else ``"label"``."""
        return "all" if self.name == "all" else "label"

    def mask(self, shape, dx, labels=None, label_names=None):
        """Boolean voxel mask of the region (:meth:`Region.mask`)."""
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
        """One-line human description (units µm)."""
        return "everywhere" if self.name == "all" else f"tissue '{self.name}'"
