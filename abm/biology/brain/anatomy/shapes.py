"""Region shapes of the parametric forebrain, registered in :data:`abm.registry.REGION_SHAPES`.

``forebrain``
    ``{shape: forebrain, structure: striatum, species: rat, origin: [x, y, z], scale: 1,
    side: left, level: 0.5 mm, slab: 1 mm}``: one structure of :mod:`.forebrain`
    (``cortex``, ``corpus_callosum``, ``striatum``, ``lateral_ventricle``, ``svz``,
    ``other``, or ``brain`` for all of them).
``mcao_core``, ``mcao_penumbra``
    The infarct of :class:`.lesions.MCAOLesion` and its rim; keys ``infarct_fraction`` and
    ``penumbra_width`` besides the anatomy's.
``contusion``, ``pericontusion``
    The cortical contusion of :class:`.lesions.Contusion` and its rim; keys
    ``tip_diameter``, ``depth``, ``site: [lateral, ap]``, ``rim_width``.

The anatomy keys (``species``, ``origin``, ``scale``, ``side``, ``level``, ``slab``) may be
given one by one or together under ``anatomy:`` (a mapping; the keys given one by one win),
so that a YAML anchor on the first ``anatomy:`` mapping (``anatomy: &brain {...}``) serves
every later region (``anatomy: *brain``, or ``<<: *brain`` as a merge key).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from pydantic import field_validator

from ....regions import Region, RegionShape
from ....registry import REGION_SHAPES, did_you_mean
from ....scenario.problems import Bad, custom
from ....scenario.quantities import Length, PosLength, PosNumber, SchemaModel, Unit01, Vec3
from .dimensions import SPECIES, lesion_defaults
from .forebrain import SIDES, STRUCTURES, Forebrain, structure_code
from .lesions import Contusion, MCAOLesion

__all__ = ["ForebrainRegion", "LesionRegion", "ForebrainShape", "MCAOCoreShape",
           "MCAOPenumbraShape", "ContusionShape", "PericontusionShape", "STRUCTURE_NAMES"]

#: What ``structure:`` accepts.
STRUCTURE_NAMES = STRUCTURES + ("brain",)

_ANATOMY_KEYS = ("species", "origin", "scale", "side", "level", "slab")


def _one_of(value, allowed, what):
    v = str(value)
    if v not in allowed:
        raise custom(f"unknown {what} '{v}'{did_you_mean(v, allowed)}; {what}s: "
                     f"{', '.join(allowed)}")
    return v


class _AnatomySchema(SchemaModel):
    species: str | None = None
    origin: Vec3 | None = None
    scale: PosNumber | None = None
    side: str | None = None
    level: Length | None = None
    slab: PosLength | None = None

    @field_validator("species", mode="before")
    @classmethod
    def _species(cls, v):
        return None if v is None else _one_of(v, SPECIES, "species")

    @field_validator("side", mode="before")
    @classmethod
    def _side(cls, v):
        return None if v is None else _one_of(v, SIDES, "side")


class _Placed(_AnatomySchema):
    anatomy: _AnatomySchema | None = None


def _forebrain(raw, *, one_side: bool = False) -> Forebrain:
    """The :class:`Forebrain` of a validated mapping (keys given one by one win over ``anatomy``)."""
    vals = {}
    for k in _ANATOMY_KEYS:
        v = getattr(raw, k)
        if v is None and raw.anatomy is not None:
            v = getattr(raw.anatomy, k)
        vals[k] = v
    if vals["origin"] is None:
        raise Bad("give the anatomy's origin: [x, y, z] = the midline, the top of the cerebrum "
                  "and the coronal plane of 'level', in lattice coordinates (e.g. "
                  "[6 mm, 9 mm, 0.5 mm])", key="origin")
    side = vals["side"] or "left"
    if one_side and side == "both":
        raise Bad(f"a {raw.shape} lesion is in one hemisphere: give side: left or side: right",
                  key="side")
    return Forebrain(vals["species"] or "rat", tuple(vals["origin"]), vals["scale"] or 1.0, side,
                     vals["level"], vals["slab"])


class _AnatomyRegion(Region):
    """A region of the parametric anatomy (a message naming the anatomy when it leaves the domain)."""

    def bounds(self):
        """The anatomy's bounding box, µm."""
        return self.forebrain.bounds()

    def outside_domain(self, extent):
        """A message if the anatomy does not fit in ``[0, extent]`` (µm), else None."""
        b = self.bounds()
        lo_z, hi_z = b[2]
        if lo_z > hi_z:
            return (f"the slab of the {self.forebrain.describe()} misses the cerebrum; move the "
                    f"level or the slab into the brain")
        for a, ((lo, hi), ext) in enumerate(zip(b, extent)):
            tol = 1e-9 * max(ext, 1.0)
            if lo < -tol or hi > ext + tol:
                return (f"the lattice does not contain the {self.forebrain.describe()}: along "
                        f"{'xyz'[a]} it spans {lo:g}–{hi:g} µm, the domain 0–{ext:g} µm; move "
                        f"the origin, enlarge the domain, cut a thinner slab or lower the scale")
        return None


@dataclass(frozen=True)
class ForebrainRegion(_AnatomyRegion):
    """The voxels of one structure (or ``brain``: all) of a :class:`Forebrain`."""

    forebrain: Forebrain
    structure: str
    kind: str = field(default="forebrain", init=False)

    def mask(self, shape, dx, labels=None, label_names=None):
        """Boolean array of ``shape``: True on the structure's voxels."""
        lab = self.forebrain.labels(shape, dx)
        if self.structure == "brain":
            return lab > 0
        return lab == structure_code(self.structure)

    def describe(self):
        """One-line description (units µm)."""
        return f"{self.structure} of the {self.forebrain.describe()}"


@dataclass(frozen=True)
class LesionRegion(_AnatomyRegion):
    """One part of a lesion (``MCAOLesion``: core/penumbra; ``Contusion``: contusion/rim)."""

    lesion: object
    part: int
    name: str
    kind: str = field(default="lesion", init=False)

    @property
    def forebrain(self) -> Forebrain:
        """The anatomy the lesion is in."""
        return self.lesion.forebrain

    def mask(self, shape, dx, labels=None, label_names=None):
        """Boolean array of ``shape``: True on this part's voxels."""
        return np.array(self.lesion.parts(shape, dx)[self.part], dtype=bool)

    def describe(self):
        """One-line description (units µm)."""
        le = self.lesion
        if isinstance(le, MCAOLesion):
            size = (f"infarct fraction {le.infarct_fraction:g}, penumbra {le.penumbra_width:g} µm")
        else:
            size = (f"tip {le.tip_diameter:g} µm, depth {le.depth:g} µm at {le.site[0]:g} µm "
                    f"lateral, bregma {le.site[1] / 1000:+g} mm, rim {le.rim_width:g} µm")
        return f"{self.name} ({size}) in the {self.forebrain.describe()}"


# ---------------------------------------------------------------- forebrain
class _ForebrainSchema(_Placed):
    shape: str
    structure: str

    @field_validator("structure", mode="before")
    @classmethod
    def _structure(cls, v):
        return _one_of(v, STRUCTURE_NAMES, "structure")


@REGION_SHAPES.register
class ForebrainShape(RegionShape):
    """``{shape: forebrain, structure: S, origin: [x, y, z], species, scale, side, level, slab}``."""

    name = "forebrain"
    schema = _ForebrainSchema

    def build(self, raw, ctx) -> ForebrainRegion:
        """The structure's region (lengths in µm)."""
        return ForebrainRegion(_forebrain(raw), raw.structure)


# ---------------------------------------------------------------- MCAO
_MCAO = lesion_defaults("mcao")


class _MCAOSchema(_Placed):
    shape: str
    infarct_fraction: Unit01 = _MCAO["infarct_fraction"]
    penumbra_width: PosLength = _MCAO["penumbra_width"]


class _MCAOShape(RegionShape):
    schema = _MCAOSchema
    part = 0

    def build(self, raw, ctx) -> LesionRegion:
        """The lesion part's region; the infarct fraction is checked against the territory."""
        if not raw.infarct_fraction > 0:
            raise Bad("infarct_fraction must be > 0 (a fraction of the hemisphere, e.g. 0.35)",
                      key="infarct_fraction")
        lesion = MCAOLesion(_forebrain(raw, one_side=True), raw.infarct_fraction,
                            raw.penumbra_width)
        region = LesionRegion(lesion, self.part, self.name)
        extent = tuple(n * ctx.dx for n in ctx.shape)
        if region.outside_domain(extent) is None:
            top = lesion.territory_fraction(ctx.shape, ctx.dx)
            if raw.infarct_fraction > top:
                raise Bad(f"infarct_fraction {raw.infarct_fraction:g} is larger than the MCA "
                          f"territory of this model (cortex, corpus callosum, striatum: "
                          f"{top:.3g} of the hemisphere); give at most {top:.3g}",
                          key="infarct_fraction")
        return region


@REGION_SHAPES.register
class MCAOCoreShape(_MCAOShape):
    """``{shape: mcao_core, infarct_fraction: 0.35, penumbra_width: 500 um, <anatomy>}``."""

    name = "mcao_core"
    part = 0


@REGION_SHAPES.register
class MCAOPenumbraShape(_MCAOShape):
    """``{shape: mcao_penumbra, ...}``: the rim of the same lesion."""

    name = "mcao_penumbra"
    part = 1


# ---------------------------------------------------------------- contusion
_CCI = lesion_defaults("cci")


class _ContusionSchema(_Placed):
    shape: str
    tip_diameter: PosLength = _CCI["tip_diameter"]
    depth: PosLength = _CCI["depth"]
    site: tuple[Length, Length] = (_CCI["site_lateral"], _CCI["site_ap"])
    rim_width: PosLength = _CCI["rim_width"]

    @field_validator("site", mode="before")
    @classmethod
    def _site(cls, v):
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise custom("site is [lateral, ap]: the impact centre's distance lateral of the "
                         "midline and its position relative to bregma, e.g. [2 mm, -2 mm]")
        return v


class _ContusionShape(RegionShape):
    schema = _ContusionSchema
    part = 0

    def build(self, raw, ctx) -> LesionRegion:
        """The lesion part's region (the impact site must be on the brain)."""
        lesion = Contusion(_forebrain(raw, one_side=True), tuple(raw.site), raw.tip_diameter,
                           raw.depth, raw.rim_width)
        if math.isnan(lesion.surface_depth()):
            raise Bad(f"the impact site ({raw.site[0]:g} µm lateral, bregma "
                      f"{raw.site[1] / 1000:+g} mm) is off the {lesion.forebrain.species} "
                      f"cerebrum", key="site")
        return LesionRegion(lesion, self.part, self.name)


@REGION_SHAPES.register
class ContusionShape(_ContusionShape):
    """``{shape: contusion, tip_diameter: 3 mm, depth: 1 mm, site: [2 mm, -2 mm], <anatomy>}``."""

    name = "contusion"
    part = 0


@REGION_SHAPES.register
class PericontusionShape(_ContusionShape):
    """``{shape: pericontusion, rim_width: 500 um, ...}``: the rim of the same contusion."""

    name = "pericontusion"
    part = 1

