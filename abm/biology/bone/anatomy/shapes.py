"""Region shapes of the bone geometries, registered in :data:`abm.registry.REGION_SHAPES`.

The metaphysis (:mod:`.metaphysis`), keys ``center: [x, y]`` (required), ``radii: [a, b]``,
``cortical_thickness``, ``bv_tv``, ``smoothing``, ``seed``, ``preset: rat_tibia``:

``metaphysis_cortex``
    the cortical shell;
``trabecular_bone``
    the trabecular network inside the endocortical envelope;
``metaphysis_marrow``
    the marrow space between the trabeculae;
``endocortical_space``
    both together: the trabecular volume of interest of micro-CT.

The calvarial defect (:mod:`.calvaria`), keys ``center: [x, y]`` and ``bottom`` (required),
``diameter``, ``thickness``, ``preset: rat_calvaria``:

``calvarial_bone``
    the host bone plate outside the defect;
``calvarial_defect``
    the empty cylinder through the plate.

Defaults come from ``seeds/anatomy.csv``. As with the forebrain, the geometry keys may be
given one by one or together under ``anatomy:`` (the keys given one by one win), so a YAML
anchor on the first ``anatomy:`` mapping serves every later region.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import numpy as np
from pydantic import BeforeValidator, field_validator

from .... import units as U
from ....regions import Region, RegionShape
from ....registry import REGION_SHAPES, did_you_mean
from ....scenario.problems import Bad, custom, typename
from ....scenario.quantities import Length, NonNegInt, PosLength, SchemaModel, Unit01
from .calvaria import CALVARIA_STRUCTURES, CalvarialDefect
from .dimensions import bone_preset
from .metaphysis import METAPHYSIS_STRUCTURES, Metaphysis

__all__ = ["MetaphysisRegion", "CalvariaRegion", "MetaphysisCortexShape", "TrabecularBoneShape",
           "MetaphysisMarrowShape", "EndocorticalSpaceShape", "CalvarialBoneShape",
           "CalvarialDefectShape"]


def _vec2(v):
    if not isinstance(v, (list, tuple)):
        raise custom(f"expected 2 values [x, y], got {typename(v)}")
    if len(v) != 2:
        raise custom(f"expected 2 values [x, y], got {len(v)}")
    out = []
    for i, x in enumerate(v):
        try:
            out.append(U.to_internal(x, U.LENGTH, minimum=None))
        except U.UnitProblem as exc:
            raise custom(str(exc), key=i) from None
    return tuple(out)


Vec2 = Annotated[tuple[float, float], BeforeValidator(_vec2)]


def _preset_name(v, allowed):
    v = str(v)
    if v not in allowed:
        raise custom(f"unknown preset '{v}'{did_you_mean(v, allowed)}; presets: "
                     f"{', '.join(allowed)}")
    return v


def _merged(raw, keys) -> dict:
    """The geometry keys of a validated mapping (given one by one win over ``anatomy``)."""
    out = {}
    for k in keys:
        v = getattr(raw, k)
        if v is None and raw.anatomy is not None:
            v = getattr(raw.anatomy, k)
        out[k] = v
    return out


def _rect_meets_ellipse(extent, center, radii) -> bool:
    """Whether the x–y rectangle ``[0, ex] × [0, ey]`` meets the ellipse (µm)."""
    (cx, cy), (a, b) = center, radii
    # the nearest point of the rectangle in the metric that makes the ellipse a circle
    px, py = min(max(cx, 0.0), extent[0]), min(max(cy, 0.0), extent[1])
    return ((px - cx) / a) ** 2 + ((py - cy) / b) ** 2 < 1.0


# ---------------------------------------------------------------- metaphysis
_TIBIA_KEYS = ("preset", "center", "radii", "cortical_thickness", "bv_tv", "smoothing", "seed")


class _MetaphysisKeys(SchemaModel):
    preset: str | None = None
    center: Vec2 | None = None
    radii: Vec2 | None = None
    cortical_thickness: PosLength | None = None
    bv_tv: Unit01 | None = None
    smoothing: PosLength | None = None
    seed: NonNegInt | None = None

    @field_validator("preset", mode="before")
    @classmethod
    def _preset(cls, v):
        return None if v is None else _preset_name(v, ("rat_tibia",))


class _MetaphysisSchema(_MetaphysisKeys):
    shape: str
    anatomy: _MetaphysisKeys | None = None


def _metaphysis(raw, ctx) -> Metaphysis:
    """The :class:`Metaphysis` of a validated mapping, checked (raises Bad)."""
    v = _merged(raw, _TIBIA_KEYS)
    d = bone_preset(v["preset"] or "rat_tibia")
    if v["center"] is None:
        raise Bad("give the metaphysis's center: [x, y] = where the bone's long axis (along z) "
                  "crosses the lattice's x-y plane, e.g. [0 um, 0 um] for a quadrant of the "
                  "cross-section with the axis on the domain's corner", key="center")
    radii = v["radii"] or (d["periosteal_semi_axis_x"], d["periosteal_semi_axis_y"])
    if min(radii) <= 0:
        raise Bad(f"radii must be positive (got {radii[0]:g}, {radii[1]:g} µm)", key="radii")
    t = v["cortical_thickness"] or d["cortical_thickness"]
    if not t < min(radii):
        raise Bad(f"cortical_thickness ({t:g} µm) must be smaller than the smaller periosteal "
                  f"semi-axis ({min(radii):g} µm)", key="cortical_thickness")
    bv = d["bv_tv"] if v["bv_tv"] is None else float(v["bv_tv"])
    if not 0.0 < bv < 1.0:
        raise Bad(f"bv_tv must lie between 0 and 1 (a volume fraction, e.g. 0.25), got {bv:g}",
                  key="bv_tv")
    s = v["smoothing"] or d["smoothing"]
    if s < ctx.dx:
        raise Bad(f"smoothing ({s:g} µm) is below the voxel edge ({ctx.dx:g} µm): the network "
                  f"would be unresolved noise; give at least {ctx.dx:g} µm or use smaller voxels",
                  key="smoothing")
    return Metaphysis(tuple(v["center"]), tuple(radii), t, bv, s, 0 if v["seed"] is None
                      else int(v["seed"]))


@dataclass(frozen=True)
class MetaphysisRegion(Region):
    """The voxels of one structure of a :class:`Metaphysis` (``endocortical``: VOI)."""

    metaphysis: Metaphysis
    structure: str
    kind: str = field(default="metaphysis", init=False)

    def mask(self, shape, dx, labels=None, label_names=None):
        """Boolean array of ``shape``: True on the structure's voxels."""
        lab = self.metaphysis.labels(shape, dx)
        if self.structure == "endocortical":
            return (lab == METAPHYSIS_STRUCTURES["trabecular"]) | \
                (lab == METAPHYSIS_STRUCTURES["marrow"])
        return lab == METAPHYSIS_STRUCTURES[self.structure]

    def describe(self):
        """One-line description (units µm)."""
        return f"{self.structure} of the {self.metaphysis.describe()}"

    def outside_domain(self, extent):
        """A message if the endocortical envelope misses the domain (µm), else None.

        The metaphysis is cut to the domain on purpose (a quadrant or a block of the
        cross-section), so only an envelope wholly outside is a problem.
        """
        m = self.metaphysis
        if _rect_meets_ellipse(extent, m.center, m.inner_radii):
            return None
        return (f"the {m.describe()} has no endocortical space in the domain 0–{extent[0]:g} × "
                f"0–{extent[1]:g} µm; move its center into or next to the domain")


class _MetaphysisShape(RegionShape):
    schema = _MetaphysisSchema
    structure = ""

    def build(self, raw, ctx) -> MetaphysisRegion:
        """The structure's region (lengths in µm)."""
        return MetaphysisRegion(_metaphysis(raw, ctx), self.structure)


@REGION_SHAPES.register
class MetaphysisCortexShape(_MetaphysisShape):
    """``{shape: metaphysis_cortex, center: [x, y], radii, cortical_thickness, seed, ...}``."""

    name = "metaphysis_cortex"
    structure = "cortex"


@REGION_SHAPES.register
class TrabecularBoneShape(_MetaphysisShape):
    """``{shape: trabecular_bone, center: [x, y], bv_tv, smoothing, seed, ...}``."""

    name = "trabecular_bone"
    structure = "trabecular"


@REGION_SHAPES.register
class MetaphysisMarrowShape(_MetaphysisShape):
    """``{shape: metaphysis_marrow, ...}``: the marrow between the trabeculae."""

    name = "metaphysis_marrow"
    structure = "marrow"


@REGION_SHAPES.register
class EndocorticalSpaceShape(_MetaphysisShape):
    """``{shape: endocortical_space, ...}``: marrow and trabeculae (the micro-CT VOI)."""

    name = "endocortical_space"
    structure = "endocortical"


# ---------------------------------------------------------------- calvaria
_CALVARIA_KEYS = ("preset", "center", "diameter", "bottom", "thickness")


class _CalvariaKeys(SchemaModel):
    preset: str | None = None
    center: Vec2 | None = None
    diameter: PosLength | None = None
    bottom: Length | None = None
    thickness: PosLength | None = None

    @field_validator("preset", mode="before")
    @classmethod
    def _preset(cls, v):
        return None if v is None else _preset_name(v, ("rat_calvaria",))


class _CalvariaSchema(_CalvariaKeys):
    shape: str
    anatomy: _CalvariaKeys | None = None


def _calvaria(raw) -> CalvarialDefect:
    """The :class:`CalvarialDefect` of a validated mapping (raises Bad)."""
    v = _merged(raw, _CALVARIA_KEYS)
    d = bone_preset(v["preset"] or "rat_calvaria")
    if v["center"] is None:
        raise Bad("give the defect's center: [x, y] = where its axis crosses the plate, e.g. "
                  "[0 um, 200 um] for a radial strip starting at the defect's centre",
                  key="center")
    if v["bottom"] is None:
        raise Bad("give the plate's bottom: the height z of its inner (dural) surface, e.g. "
                  "200 um", key="bottom")
    return CalvarialDefect(tuple(v["center"]), v["diameter"] or d["defect_diameter"],
                           float(v["bottom"]), v["thickness"] or d["plate_thickness"])


@dataclass(frozen=True)
class CalvariaRegion(Region):
    """The host bone (``bone``) or the defect (``defect``) of a :class:`CalvarialDefect`."""

    calvaria: CalvarialDefect
    structure: str
    kind: str = field(default="calvaria", init=False)

    def mask(self, shape, dx, labels=None, label_names=None):
        """Boolean array of ``shape``: True on the structure's voxels."""
        return np.asarray(self.calvaria.labels(shape, dx) == CALVARIA_STRUCTURES[self.structure])

    def describe(self):
        """One-line description (units µm)."""
        return f"{self.structure} of the {self.calvaria.describe()}"

    def outside_domain(self, extent):
        """A message if the plate leaves the domain in z or the defect misses it, else None."""
        c = self.calvaria
        tol = 1e-9 * max(extent[2], 1.0)
        if c.bottom < -tol or c.top > extent[2] + tol:
            return (f"the {c.describe()} spans z = {c.bottom:g}–{c.top:g} µm, the domain "
                    f"0–{extent[2]:g} µm; lower its bottom or enlarge the domain along z")
        r = c.diameter / 2.0
        if not _rect_meets_ellipse(extent, c.center, (r, r)):
            return (f"the defect of the {c.describe()} misses the domain 0–{extent[0]:g} × "
                    f"0–{extent[1]:g} µm; move its center")
        return None


class _CalvariaShape(RegionShape):
    schema = _CalvariaSchema
    structure = ""

    def build(self, raw, ctx) -> CalvariaRegion:
        """The structure's region (lengths in µm)."""
        return CalvariaRegion(_calvaria(raw), self.structure)


@REGION_SHAPES.register
class CalvarialBoneShape(_CalvariaShape):
    """``{shape: calvarial_bone, center: [x, y], bottom, diameter, thickness}``: host bone."""

    name = "calvarial_bone"
    structure = "bone"


@REGION_SHAPES.register
class CalvarialDefectShape(_CalvariaShape):
    """``{shape: calvarial_defect, center: [x, y], bottom, diameter, thickness}``."""

    name = "calvarial_defect"
    structure = "defect"
