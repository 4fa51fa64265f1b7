"""The bone surface as a region: soft voxels with a face on mineralised bone.

``{shape: bone_surface, of: [marrow], on: [trabecular, cortex]}`` is the set of voxels
labelled one of ``of`` (soft tissue, where cells live) that share at least one of their six
faces with a voxel labelled one of ``on`` (mineralised bone). It is evaluated on the tissue
labels at the moment the mask is made, as a label region is (:mod:`abm.regions.label`):
placing cells at t = 0 reads the labels painted at t = 0; an event later in the run reads
the labels of that time (after the mineral process has relabelled resorbed and new bone).

Scenarios use it to put lining osteoblasts and osteoclasts on bone at the start. Voxels on
the lattice's faces have no neighbour beyond it (no flux, no bone outside the domain).

Keys
----
``of`` : label or list of labels, default ``[marrow]``
    The soft labels whose voxels may be surface voxels.
``on`` : label or list of labels, default ``[trabecular, cortex]``
    The mineralised labels a surface voxel touches. With the default, the labels of it the
    scenario declares are used (a calvaria has only ``cortex``); labels written out must all
    exist. ``on`` is read as a key even though YAML 1.1 reads a bare ``on`` as *true*.

The face test is a binary dilation of the ``on`` voxels by the 6-connected structuring
element (``scipy.ndimage.binary_dilation``), restricted to the ``of`` voxels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import field_validator, model_validator
from scipy import ndimage

from ...errors import ModelInputError
from ...regions import Region, RegionShape
from ...registry import REGION_SHAPES
from ...scenario.problems import Bad, choices, custom, did_you_mean, typename
from ...scenario.quantities import SchemaModel

__all__ = ["BoneSurfaceRegion", "BoneSurfaceShape", "surface_mask", "DEFAULT_SOFT",
           "DEFAULT_BONE"]

#: Default ``of``: the soft label cells live in.
DEFAULT_SOFT = ("marrow",)
#: Default ``on``: the mineralised labels of the shared bone decisions.
DEFAULT_BONE = ("trabecular", "cortex")

_FACES = ndimage.generate_binary_structure(3, 1)


def surface_mask(soft: np.ndarray, bone: np.ndarray) -> np.ndarray:
    """Voxels of ``soft`` with at least one face on a voxel of ``bone``.

    Parameters
    ----------
    soft, bone : bool arrays of one 3D lattice shape
        The candidate voxels and the mineralised voxels.

    Returns
    -------
    numpy.ndarray of bool, the lattice shape
        Nothing beyond the lattice counts as bone.
    """
    soft = np.asarray(soft, dtype=bool)
    bone = np.asarray(bone, dtype=bool)
    near = ndimage.binary_dilation(bone, structure=_FACES, border_value=0)
    return soft & near & ~bone


def _names(v, key):
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, (list, tuple)) or not v:
        raise custom(f"expected a tissue label or a list of labels, got {typename(v)}", key=key)
    for i, x in enumerate(v):
        if not isinstance(x, str):
            raise custom(f"expected a tissue label name, got {typename(x)}", key=i)
    return tuple(v)


class _Schema(SchemaModel):
    shape: Literal["bone_surface"]
    of: tuple[str, ...] | None = None
    on: tuple[str, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data):
        # YAML 1.1 reads a bare key `on` as True: take it back as the key it was written as
        if isinstance(data, dict):
            if True in data and "on" not in data:
                data = {("on" if k is True else k): v for k, v in data.items()}
            allowed = list(cls.model_fields)
            for k in data:
                if k not in allowed:
                    raise custom(f"unknown key '{k}'{did_you_mean(str(k), allowed)}; allowed "
                                 f"keys: {', '.join(allowed)}", key=k)
        return data

    @field_validator("of", "on", mode="before")
    @classmethod
    def _labels(cls, v, info):
        return None if v is None else _names(v, None)


@dataclass(frozen=True)
class BoneSurfaceRegion(Region):
    """Soft voxels (labels ``of``) with a face on mineralised ones (labels ``on``).

    Attributes
    ----------
    of, on : tuple of str
        Soft and mineralised label names.
    of_given, on_given : bool
        Whether the scenario wrote the list (then every name must exist) or took the default
        (then the names the scenario has are used, at least one).
    labels0 : numpy.ndarray or None
        The labels at t = 0 as the scenario loader painted them, to count voxels without
        labels (:meth:`voxel_count`); not part of the region's identity.
    """

    of: tuple[str, ...] = DEFAULT_SOFT
    on: tuple[str, ...] = DEFAULT_BONE
    of_given: bool = False
    on_given: bool = False
    labels0: np.ndarray | None = field(default=None, compare=False, repr=False)
    names0: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    empty_at_start: bool = field(default=False, compare=False, repr=False)
    kind: str = field(default="bone_surface", init=False)

    def codes(self, label_names) -> tuple[list[int], list[int]]:
        """Label codes of ``of`` and ``on`` among ``label_names``.

        Raises
        ------
        ModelInputError
            A written-out label that does not exist, or no label of a default list.
        """
        names = list(label_names)
        out = []
        for which, want, given in (("of", self.of, self.of_given), ("on", self.on, self.on_given)):
            missing = [n for n in want if n not in names]
            if given and missing:
                raise ModelInputError(
                    f"bone_surface: unknown tissue label {missing[0]!r} in '{which}'"
                    f"{did_you_mean(missing[0], names)}; labels are {choices(names)}")
            have = [names.index(n) for n in want if n in names]
            if not have:
                raise ModelInputError(
                    f"bone_surface needs a label of {list(want)} for '{which}'; this tissue has "
                    f"{choices(names)}; declare one under tissue.labels or name yours in '{which}'")
            out.append(have)
        return out[0], out[1]

    def mask(self, shape, dx, labels=None, label_names=None):
        """Boolean voxel mask of the surface on ``labels`` (:meth:`Region.mask`)."""
        shape = tuple(int(n) for n in shape)
        if labels is None or label_names is None:
            raise ModelInputError("region bone_surface is made from the tissue labels: pass "
                                  "labels= and label_names= to make its mask")
        labels = np.asarray(labels)
        if labels.shape != shape:
            raise ModelInputError(f"labels have shape {labels.shape}, expected {shape}")
        soft, bone = self.codes(label_names)
        return surface_mask(np.isin(labels, soft), np.isin(labels, bone))

    def voxel_count(self, shape, dx, labels=None, label_names=None):
        """Voxels of the surface; without ``labels``, on the labels at t = 0.

        Returns None where those are not known (while the tissue is being painted, or on a
        lattice too large for the loader to paint), and 0 where no label but the default one
        exists at t = 0 (no surface then).
        """
        if labels is not None:
            return int(np.count_nonzero(self.mask(shape, dx, labels, label_names)))
        if self.labels0 is not None:
            return int(np.count_nonzero(self.mask(shape, dx, self.labels0, self.names0)))
        return 0 if self.empty_at_start else None

    def describe(self):
        """One-line human description."""
        return (f"bone surface: {'/'.join(self.of)} voxels with a face on "
                f"{'/'.join(self.on)}")


@REGION_SHAPES.register
class BoneSurfaceShape(RegionShape):
    """``{shape: bone_surface, of: [marrow], on: [trabecular, cortex]}``: lining voxels of bone."""

    name = "bone_surface"
    schema = _Schema

    def build(self, raw, ctx) -> BoneSurfaceRegion:
        """The region of the validated mapping, its labels checked against the scenario's.

        Raises
        ------
        Bad
            A label that is not declared (at its key), or a label both in ``of`` and ``on``.
        """
        of_given, on_given = raw.of is not None, raw.on is not None
        of = raw.of if of_given else DEFAULT_SOFT
        on = raw.on if on_given else DEFAULT_BONE
        both = sorted(set(of) & set(on))
        if both:
            raise Bad(f"label '{both[0]}' is in both 'of' (soft) and 'on' (bone); a voxel is one "
                      f"or the other", key="on")
        names = list(getattr(ctx, "tissue_names", None) or ())
        for key, want, given in (("of", of, of_given), ("on", on, on_given)):
            if not names:
                break
            for i, n in enumerate(want):
                if given and n not in names:
                    raise Bad(f"unknown tissue label '{n}'{did_you_mean(n, names)}; labels: "
                              f"{choices(names)}", key=(key, i) if len(want) > 1 else key)
            if not any(n in names for n in want):
                raise Bad(f"none of the labels {list(want)} exists (labels: {choices(names)}); "
                          f"name the scenario's {'soft' if key == 'of' else 'mineralised'} "
                          f"labels under '{key}'", key=key)
        labels0 = getattr(ctx, "labels0", None)
        tissue = getattr(ctx, "tissue", None)
        empty = tissue is not None and labels0 is None and not any(
            t.initially and t.region is not None for t in tissue[1:])
        return BoneSurfaceRegion(tuple(of), tuple(on), of_given, on_given, labels0,
                                 tuple(names) if labels0 is not None else None, empty)
