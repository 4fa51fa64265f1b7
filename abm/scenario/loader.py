"""Scenario files: a virtual experiment in YAML, read safely, converted once, validated whole.

:func:`load_scenario` reads a YAML file with PyYAML's *safe* loader, applies
``--set key.path=value`` overrides, validates the structure with pydantic v2,
converts every physical quantity once into the engine's internal units with
pint (:mod:`abm.units`: length µm, time min, each field's own concentration
unit, amount = concentration × µm³, cells as counts), checks every cross
reference (fields, cell types, tissue labels, rule signals and behaviours,
readouts) and returns a :class:`Scenario` of plain objects holding internal
floats. Any mistake ends in one :class:`ScenarioError` naming the file, the
line, the key path and what was expected, e.g.::

    quickstart.yaml, line 14, fields.SDF-1a.diffusion: expected a diffusivity
    (area/time, e.g. '70 um^2/s'), got '70 um' (a length)

(one line). When several things are wrong, the first by line is reported,
followed by ``(N more problems; fix this one first)``.

The file format
---------------
(``docs/scenario-format.md`` has a full annotated example.)

``name`` (required, str), ``description`` (optional str).

``domain`` (required): ``extent`` three lengths; ``voxel`` the voxel edge
(length > 0); the lattice shape is ``round(extent / voxel)`` per axis, at
least 3 each, and the simulated extent is ``shape × voxel``. ``dt`` the cell
time step and ``duration`` the simulated time (times > 0; the run has
``round(duration/dt)`` steps). ``seed`` (optional int >= 0; absent: drawn at
run time), ``capacity`` (optional default cells per voxel, int >= 0, default 1).

``tissue`` (optional): ``default`` (label 0; keys ``name`` (default
``parenchyma``), ``diffusion_scale``, ``decay_scale`` (dimensionless >= 0,
default 1), ``permeable`` (default true), ``capacity`` (default
``domain.capacity``)); ``labels``: a list, each with ``name``, ``region``, the
same keys as the default, and ``initially`` (default true; false = declared
but not painted at t = 0, an injury event paints it later, and then
``region`` may be omitted). Labels get the integers 1, 2, ... in order and are
painted in order (later wins). ``all`` is reserved.

``fields`` (required, at least one): name → spec. A name in
``seeds/fields.csv`` takes its defaults (unit, diffusion, decay); for other
names ``unit`` and ``diffusion`` are required. Keys: ``unit`` (a
concentration unit pint can read: ``ng/mL``, ``nM``, ``1e9 particles/mL``,
``mmHg``), ``diffusion`` (area/time >= 0), ``decay`` (1/time >= 0) *or*
``half_life`` (time > 0; decay = ln 2 / half_life; not both), ``initial``
(concentration >= 0), ``boundary``: ``no-flux`` (default) or a mapping of faces
``x-, x+, y-, y+, z-, z+`` to fixed concentrations. A field given as ``VEGF:``
with nothing after it takes all its defaults. Field names must not contain
``.`` or spaces.

``cell_types`` (optional): built-in type name (``BMSC``, ``Microglia``,
``Astrocyte``, ``NeuralProgenitor``, ``Osteoblast``) → ``parameters`` (overrides
of ``seeds/cells.csv``, each a quantity in a unit of the right dimension; see
the unit table below) and ``rules`` (a list of rows ``{signal, direction,
behaviour, max_response, half_max, hill_power}``, or the path of a rules CSV
relative to the scenario file, read with :func:`abm.rules.load_rules`, whose
numbers are already in internal units and whose rows must name the enclosing
cell type). Only the listed types are in the model.

``populations`` (optional list, placed at t = 0): ``cell_type``, ``region``
(a tissue label name, ``all``, or an inline region), exactly one of ``count``
(cells, >= 0; a bare whole number is accepted) and ``density`` (cells/volume;
count = round(density × region volume at t = 0)), ``state`` (one of the type's
states), ``values`` (phenotype variables, 0–1).

``events`` (optional list; sorted by time, stable): each has ``at`` (time in
[0, duration]) and exactly one of

* ``injury: {region, label, release}``: paint ``label`` (a declared tissue
  label) over ``region``; ``release`` is an optional list of depots (below,
  without ``region``: the injury region);
* ``injection: {cell_type, dose, route, delivered_fraction, target, state,
  values}``: ``route`` in intracerebral, intravenous, intra-arterial, local;
  ``delivered_fraction`` in (0, 1], default 1 for intracerebral/local and
  required for intravenous/intra-arterial; ``round(dose × fraction)`` cells are
  placed in ``target``;
* ``bolus: {field, amount, region}``: an amount spread over the region at once;
* ``depot: {field, region, amount, law, rate | half_life}``: ``law``
  ``first_order`` (``rate`` 1/time or ``half_life``) or ``constant`` (``rate``
  amount/time; ``amount`` may be ``inf`` for a source that never empties).

``outputs`` (optional): ``snapshot_every`` (default duration/10),
``checkpoint_every`` (default snapshot_every), ``readout_every`` (default
dt × max(1, round(snapshot_every/dt/10))), ``fields`` (default all),
``agents`` (default all cell types), ``readouts`` (default ``count <type>`` per
type) with the grammar ``count <type> [<state>] [in <label>]``,
``fraction <type> <state>``, ``mean|max <field> [in <label>]``, ``total <field>``.

Region mappings (key ``shape``): ``sphere`` (center[3], radius), ``ellipsoid``
(center[3], radii[3]), ``box`` (lower[3], upper[3]), ``shell`` (center,
inner_radius < outer_radius), ``mask`` (``file``: .npy or .h5/.hdf5 relative to
the scenario file, ``dataset`` for HDF5; the lattice shape; nonzero = inside).
Coordinates are positions in µm from 0 to the extent; a voxel is inside when
its centre is (:mod:`abm.regions`). A region reaching outside the domain, or
containing no voxel, is an error.

Units of parameters, rule ``max_response`` and behaviours: speed µm/min;
chemotaxis µm²/min; division, death, secretion:F, uptake:F,
differentiation:X, transition:A->B, gain:V, loss:V 1/min; target:F F's unit;
release:F amount/min; death_release:F amount; chemotaxis_half_saturation the
unit of the chemotaxis field; persistence min; initial:V dimensionless. Rule
``half_max`` is in the signal's unit (a field: its unit; age, time,
time_since:*: min; other signals dimensionless). A bare number is accepted
only where the value is dimensionless (scales, fractions, Hill powers,
receptor levels, capacity, seed, cell counts); ``inf`` only for a constant
depot's amount.

Overrides
---------
``load_scenario(path, overrides=("domain.dt=2 min", "events.0.at=3 h"))``:
each ``key.path=value`` is applied to the parsed YAML tree before validation
(only ``.`` separates parts, so ``fields.SDF-1a.diffusion`` and
``cell_types.BMSC.parameters.secretion:VEGF`` work; integer parts index
lists; the value is read as a YAML flow value). Problems in overridden values
are reported as ``--set <path>`` instead of a line.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import numpy as np
import yaml
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag,
                      ValidationError, model_validator)
from pydantic_core import PydanticCustomError

from .. import rules as rules_
from .. import units as U
from ..registry import CELL_TYPES
from ..errors import ModelInputError
from ..fields import Species, TissueClass
from ..regions import (AXES, BoxRegion, EllipsoidRegion, LabelRegion, MaskRegion, Region,
                      ShellRegion, SphereRegion)

__all__ = ["ScenarioError", "Scenario", "Domain", "TissueLabel", "FieldSpec", "CellTypeSpec",
           "PopulationSpec", "Event", "InjurySpec", "InjectionSpec", "BolusSpec", "DepotSpec",
           "Outputs", "Readout", "load_scenario", "load_scenario_text", "build_labels",
           "catalogue", "parameter_kind", "parse_readout"]

FACES = ("x-", "x+", "y-", "y+", "z-", "z+")
ROUTES = ("intracerebral", "intravenous", "intra-arterial", "local")
READOUT_KINDS = ("count", "fraction", "mean", "max", "total")
#: Largest lattice (voxels) on which the loader paints labels to count cells and room; above it
#: those checks are left to placement time (the runner's memory check refuses such lattices first).
PAINT_LIMIT = 200_000_000


# ============================================================================ errors
class ScenarioError(ModelInputError):
    """A mistake in a scenario file, as one message.

    Attributes
    ----------
    file : str
        Scenario file name (or the name given to :func:`load_scenario_text`).
    line : int or None
        1-based line of the offending key (None: from an override, or no line).
    path : str
        Key path, e.g. ``"fields.SDF-1a.diffusion"`` or ``"events[2].injection.dose"``.
    problem : str
        The message without the location.
    """

    def __init__(self, problem: str, file: str = "<scenario>", line: int | None = None,
                 path: str = "", where: str | None = None, more: int = 0):
        self.file, self.line, self.path, self.problem = file, line, path, problem
        parts = [file]
        if where:
            parts.append(where)
        elif line is not None:
            parts.append(f"line {line}")
        if path and not (where and where.endswith(path)):
            parts.append(path)
        msg = ", ".join(parts) + ": " + problem
        if more:
            msg += f" ({more} more problem{'s' if more > 1 else ''}; fix this one first)"
        super().__init__(" ".join(msg.split("\n")))


class _Bad(Exception):
    """A problem found while resolving; ``key`` extends the location."""

    def __init__(self, message: str, key=None):
        super().__init__(message)
        self.key = key


def _did_you_mean(word, choices) -> str:
    choices = [str(c) for c in choices]
    m = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f" (did you mean '{m[0]}'?)" if m else ""


def _choices(choices) -> str:
    choices = sorted(str(c) for c in choices)
    return ", ".join(choices) if choices else "(none)"


def _custom(message: str, key=None):
    return PydanticCustomError("scenario", "{message}", {"message": message, "key": key})


# ============================================================================ raw schema
def _q(kind: U.Kind, **bounds):
    def conv(v):
        try:
            return U.to_internal(v, kind, **bounds)
        except U.UnitProblem as exc:
            raise _custom(str(exc)) from None
    return BeforeValidator(conv)


def _vec3(kind: U.Kind, **bounds):
    def conv(v):
        if not isinstance(v, (list, tuple)):
            raise _custom(f"expected 3 values [x, y, z], got {_typename(v)}")
        if len(v) != 3:
            raise _custom(f"expected 3 values [x, y, z], got {len(v)}")
        out = []
        for i, x in enumerate(v):
            try:
                out.append(U.to_internal(x, kind, **bounds))
            except U.UnitProblem as exc:
                raise _custom(str(exc), key=i) from None
        return tuple(out)
    return BeforeValidator(conv)


def _raw_value(v):
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise _custom(f"expected a number with a unit, got {_typename(v)}")
    return v


def _typename(v) -> str:
    if v is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: f"'{v}'", bool: str(v).lower()}.get(
        type(v), repr(v))


Length = Annotated[float, _q(U.LENGTH, minimum=None)]
PosLength = Annotated[float, _q(U.LENGTH, positive=True)]
NonNegLength = Annotated[float, _q(U.LENGTH)]
PosTime = Annotated[float, _q(U.TIME, positive=True)]
NonNegTime = Annotated[float, _q(U.TIME)]
Diffusivity = Annotated[float, _q(U.DIFFUSIVITY)]
Rate = Annotated[float, _q(U.RATE)]
Scale = Annotated[float, _q(U.DIMENSIONLESS)]
PosNumber = Annotated[float, _q(U.DIMENSIONLESS, positive=True)]
Unit01 = Annotated[float, _q(U.DIMENSIONLESS, maximum=1.0)]
Count = Annotated[float, _q(U.CELL_COUNT)]
Density = Annotated[float, _q(U.CELL_DENSITY)]
Vec3 = Annotated[tuple[float, float, float], _vec3(U.LENGTH, minimum=None)]
PosVec3 = Annotated[tuple[float, float, float], _vec3(U.LENGTH, positive=True)]
NonNegInt = Annotated[int, Field(ge=0)]
Raw = Annotated[Any, BeforeValidator(_raw_value)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data):
        if isinstance(data, dict):
            allowed = list(cls.model_fields)
            for k in data:
                if k not in allowed:
                    raise _custom(f"unknown key '{k}'{_did_you_mean(k, allowed)}; allowed keys: "
                                  f"{', '.join(allowed)}", key=k)
        return data


class _Sphere(_Model):
    shape: Literal["sphere"]
    center: Vec3
    radius: PosLength


class _Ellipsoid(_Model):
    shape: Literal["ellipsoid"]
    center: Vec3
    radii: PosVec3


class _Box(_Model):
    shape: Literal["box"]
    lower: Vec3
    upper: Vec3

    @model_validator(mode="after")
    def _ordered(self):
        for a in range(3):
            if not self.upper[a] > self.lower[a]:
                raise _custom(f"upper must exceed lower along {AXES[a]} "
                              f"({self.upper[a]:g} <= {self.lower[a]:g} µm)", key="upper")
        return self


class _Shell(_Model):
    shape: Literal["shell"]
    center: Vec3
    inner_radius: NonNegLength
    outer_radius: PosLength

    @model_validator(mode="after")
    def _ordered(self):
        if not self.inner_radius < self.outer_radius:
            raise _custom(f"inner_radius ({self.inner_radius:g} µm) must be smaller than "
                          f"outer_radius ({self.outer_radius:g} µm)", key="inner_radius")
        return self


class _Mask(_Model):
    shape: Literal["mask"]
    file: str
    dataset: Optional[str] = None


SHAPES = ("sphere", "ellipsoid", "box", "shell", "mask")


def _region_tag(v):
    if isinstance(v, str):
        return "<label>"
    if isinstance(v, dict):
        s = v.get("shape")
        return None if s is None else str(s)
    return None


RegionRef = Annotated[Union[Annotated[str, Tag("<label>")], Annotated[_Sphere, Tag("sphere")],
                            Annotated[_Ellipsoid, Tag("ellipsoid")], Annotated[_Box, Tag("box")],
                            Annotated[_Shell, Tag("shell")], Annotated[_Mask, Tag("mask")]],
                      Discriminator(_region_tag)]


class _Domain(_Model):
    extent: PosVec3
    voxel: PosLength
    dt: PosTime
    duration: PosTime
    seed: Optional[NonNegInt] = None
    capacity: NonNegInt = 1


class _TissueDefault(_Model):
    name: str = "parenchyma"
    diffusion_scale: Scale = 1.0
    decay_scale: Scale = 1.0
    permeable: bool = True
    capacity: Optional[NonNegInt] = None


class _TissueLabel(_Model):
    name: str
    region: Optional[RegionRef] = None
    diffusion_scale: Scale = 1.0
    decay_scale: Scale = 1.0
    permeable: bool = True
    capacity: Optional[NonNegInt] = None
    initially: bool = True


class _Tissue(_Model):
    default: _TissueDefault = Field(default_factory=_TissueDefault)
    labels: list[_TissueLabel] = Field(default_factory=list)


def _boundary(v):
    if v is None or v == "no-flux":
        return {}
    if isinstance(v, str):
        raise _custom(f"expected 'no-flux' or a mapping of faces ({', '.join(FACES)}) to fixed "
                      f"values, got '{v}'{_did_you_mean(v, ['no-flux'])}")
    if not isinstance(v, dict):
        raise _custom(f"expected 'no-flux' or a mapping of faces to values, got {_typename(v)}")
    for k in v:
        if k not in FACES:
            raise _custom(f"unknown face '{k}'{_did_you_mean(k, FACES)} (faces: "
                          f"{', '.join(FACES)})", key=k)
    return dict(v)


class _Field(_Model):
    unit: Optional[str] = None
    diffusion: Optional[Diffusivity] = None
    decay: Optional[Rate] = None
    half_life: Optional[PosTime] = None
    initial: Optional[Raw] = None
    boundary: Annotated[dict, BeforeValidator(_boundary)] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_decay(self):
        if self.decay is not None and self.half_life is not None:
            raise _custom("give either decay or half_life, not both", key="half_life")
        return self


class _Rule(_Model):
    signal: str
    direction: Literal["increases", "decreases"]
    behaviour: str
    max_response: Raw
    half_max: Raw
    hill_power: PosNumber


def _rules_tag(v):
    if isinstance(v, str):
        return "<rules-file>"
    if isinstance(v, list):
        return "<rules-rows>"
    return None


class _CellType(_Model):
    parameters: dict[str, Raw] = Field(default_factory=dict)
    rules: Annotated[Union[Annotated[str, Tag("<rules-file>")],
                           Annotated[list[_Rule], Tag("<rules-rows>")]],
                     Discriminator(_rules_tag)] = Field(default_factory=list)


class _Population(_Model):
    cell_type: str
    region: RegionRef
    count: Optional[Count] = None
    density: Optional[Density] = None
    state: Optional[str] = None
    values: dict[str, Unit01] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_amount(self):
        if (self.count is None) == (self.density is None):
            raise _custom("give exactly one of count and density",
                          key="density" if self.count is not None else None)
        return self


class _Release(_Model):
    field: str
    region: Optional[RegionRef] = None
    amount: Raw
    law: Literal["first_order", "constant"]
    rate: Optional[Raw] = None
    half_life: Optional[PosTime] = None


class _Injury(_Model):
    region: RegionRef
    label: str
    release: list[_Release] = Field(default_factory=list)


class _Injection(_Model):
    cell_type: str
    dose: Count
    route: Literal["intracerebral", "intravenous", "intra-arterial", "local"]
    delivered_fraction: Optional[PosNumber] = None
    target: RegionRef
    state: Optional[str] = None
    values: dict[str, Unit01] = Field(default_factory=dict)


class _Bolus(_Model):
    field: str
    amount: Raw
    region: RegionRef


class _Event(_Model):
    at: NonNegTime
    injury: Optional[_Injury] = None
    injection: Optional[_Injection] = None
    bolus: Optional[_Bolus] = None
    depot: Optional[_Release] = None

    @model_validator(mode="after")
    def _one_kind(self):
        given = [k for k in ("injury", "injection", "bolus", "depot") if getattr(self, k)]
        if len(given) != 1:
            raise _custom("an event needs exactly one of injury, injection, bolus, depot"
                          + (f" (got {', '.join(given)})" if given else ""),
                          key=given[1] if len(given) > 1 else None)
        return self


class _Outputs(_Model):
    snapshot_every: Optional[PosTime] = None
    checkpoint_every: Optional[PosTime] = None
    readout_every: Optional[PosTime] = None
    fields: Optional[list[str]] = None
    agents: Optional[list[str]] = None
    readouts: Optional[list[str]] = None


class _Scenario(_Model):
    name: str
    description: str = ""
    domain: _Domain
    tissue: _Tissue = Field(default_factory=_Tissue)
    fields: Annotated[dict[str, Optional[_Field]], Field(min_length=1)]
    cell_types: dict[str, Optional[_CellType]] = Field(default_factory=dict)
    populations: list[_Population] = Field(default_factory=list)
    events: list[_Event] = Field(default_factory=list)
    outputs: _Outputs = Field(default_factory=_Outputs)


# ============================================================================ resolved objects
@dataclass(frozen=True)
class Domain:
    """The lattice and the clock.

    Attributes
    ----------
    shape : tuple of 3 int
        Voxels per axis.
    dx : float
        Voxel edge, µm.
    extent : tuple of 3 float
        ``shape × dx``, µm.
    dt : float
        Cell time step, min.
    duration : float
        Simulated time, min.
    n_steps : int
        ``round(duration / dt)``.
    seed : int or None
        Run seed (None: drawn at run time).
    capacity : int
        Default cells per voxel.
    """

    shape: tuple[int, int, int]
    dx: float
    extent: tuple[float, float, float]
    dt: float
    duration: float
    n_steps: int
    seed: int | None
    capacity: int

    @property
    def voxel_volume(self) -> float:
        """µm³."""
        return self.dx ** 3


@dataclass(frozen=True)
class TissueLabel:
    """One tissue label (its index in ``Scenario.tissue`` is its integer value).

    Attributes
    ----------
    name : str
    diffusion_scale, decay_scale : float
        Multipliers of every field's diffusion and decay (dimensionless).
    permeable : bool
    capacity : int
        Cells per voxel in this tissue.
    region : Region or None
        Where it is painted at t = 0 (None for label 0 and for labels painted by events only).
    initially : bool
        Whether it is painted at t = 0.
    """

    name: str
    diffusion_scale: float = 1.0
    decay_scale: float = 1.0
    permeable: bool = True
    capacity: int = 1
    region: Region | None = None
    initially: bool = True

    def tissue_class(self) -> TissueClass:
        """The field engine's :class:`~abm.fields.TissueClass` of this label."""
        return TissueClass(self.name, self.diffusion_scale, self.decay_scale, self.permeable)


@dataclass(frozen=True)
class FieldSpec:
    """A diffusing field in internal units.

    Attributes
    ----------
    name : str
    unit : str
        Concentration unit (every concentration of this field is in it).
    diffusion : float
        µm²/min.
    decay : float
        1/min.
    initial : float
        Initial concentration, ``unit``.
    fixed_faces : dict
        Face (``"x-"`` ...) to fixed concentration, ``unit``.
    """

    name: str
    unit: str
    diffusion: float
    decay: float
    initial: float = 0.0
    fixed_faces: dict = field(default_factory=dict)

    def species(self) -> Species:
        """The field engine's :class:`~abm.fields.Species`."""
        return Species(self.name, self.diffusion, self.decay, self.initial, self.unit,
                       dict(self.fixed_faces))


@dataclass(frozen=True)
class CellTypeSpec:
    """A cell type of the model.

    Attributes
    ----------
    name : str
        Built-in type name.
    parameters : dict
        Parameter overrides given in the file only, internal units.
    rules : list of tuple
        ``(cell_type, signal, direction, behaviour, max_response, half_max, hill_power)``,
        ``max_response`` in the behaviour's internal unit, ``half_max`` in the signal's.
    """

    name: str
    parameters: dict
    rules: list


@dataclass(frozen=True)
class PopulationSpec:
    """Cells placed at t = 0.

    Attributes
    ----------
    cell_type : str
    region : Region
    count : int or None
        As given.
    density : float or None
        As given, cells/µm³.
    state : str or None
    values : dict
        Phenotype variables (0–1).
    n_cells : int or None
        Cells to place: ``count``, or ``round(density × region volume at t = 0)``
        (None only for a density on a lattice larger than ``PAINT_LIMIT`` voxels
        with labels painted at t = 0: then counted at placement).
    """

    cell_type: str
    region: Region
    count: int | None
    density: float | None
    state: str | None
    values: dict
    n_cells: int | None = 0


@dataclass(frozen=True)
class DepotSpec:
    """A loaded amount released into a field over time.

    Attributes
    ----------
    field : str
    region : Region or None
        None inside an injury: the injury's region.
    amount : float
        Field unit × µm³ (``inf`` allowed for ``constant``).
    law : {"first_order", "constant"}
    rate : float
        1/min for ``first_order``; amount/min for ``constant``.
    """

    field: str
    region: Region | None
    amount: float
    law: str
    rate: float


@dataclass(frozen=True)
class InjurySpec:
    """Paint tissue label ``label`` over ``region`` and start ``release`` depots."""

    region: Region
    label: str
    release: list


@dataclass(frozen=True)
class InjectionSpec:
    """Transplanted cells.

    Attributes
    ----------
    cell_type : str
    dose : float
        Cells injected.
    route : str
    delivered_fraction : float
        Fraction of the dose that reaches the simulated tissue, (0, 1].
    target : Region
    state : str or None
    values : dict
    """

    cell_type: str
    dose: float
    route: str
    delivered_fraction: float
    target: Region
    state: str | None = None
    values: dict = field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        """Cells placed: ``round(dose × delivered_fraction)``."""
        return int(round(self.dose * self.delivered_fraction))


@dataclass(frozen=True)
class BolusSpec:
    """An amount (field unit × µm³) spread evenly over ``region`` at once."""

    field: str
    amount: float
    region: Region


@dataclass(frozen=True)
class Event:
    """Something that happens at ``time`` (min); ``kind`` names the type of ``spec``."""

    time: float
    kind: str
    spec: object


@dataclass(frozen=True)
class Readout:
    """A recorded measure.

    Attributes
    ----------
    text : str
        As written (the column name).
    kind : {"count", "fraction", "mean", "max", "total"}
    cell_type, state, field, label : str or None
    unit : str
        ``"cells"``, ``"1"``, the field unit, or ``"<field unit>*um^3"`` for totals.
    """

    text: str
    kind: str
    cell_type: str | None = None
    state: str | None = None
    field: str | None = None
    label: str | None = None
    unit: str = "1"


@dataclass(frozen=True)
class Outputs:
    """What is written and how often (intervals in min)."""

    snapshot_every: float
    checkpoint_every: float
    readout_every: float
    fields: list
    agents: list
    readouts: list


@dataclass(frozen=True)
class Scenario:
    """A validated virtual experiment, every number in internal units.

    Attributes
    ----------
    name, description : str
    text : str
        The original file text.
    overrides : tuple of str
        ``--set`` overrides applied.
    source : str
        File name.
    base_dir : Path
        Folder that relative paths (masks, rules) are resolved against.
    domain : Domain
    tissue : list of TissueLabel
        Index = integer label; ``tissue[0]`` is the default tissue.
    fields : list of FieldSpec
    cell_types : list of CellTypeSpec
    populations : list of PopulationSpec
    events : list of Event
        Sorted by time.
    outputs : Outputs
    """

    name: str
    description: str
    text: str
    overrides: tuple
    source: str
    base_dir: Path
    domain: Domain
    tissue: list
    fields: list
    cell_types: list
    populations: list
    events: list
    outputs: Outputs

    def label_index(self, name: str) -> int:
        """Integer value of tissue label ``name``."""
        names = [t.name for t in self.tissue]
        if name not in names:
            raise ModelInputError(f"unknown tissue label {name!r}{_did_you_mean(name, names)}; "
                                  f"labels: {', '.join(names)}")
        return names.index(name)

    @property
    def label_names(self) -> list[str]:
        """Tissue label names in label order."""
        return [t.name for t in self.tissue]

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise ModelInputError(f"unknown field {name!r}")

    def capacity_map(self, labels) -> np.ndarray:
        """Cells per voxel (int32 array) from a label array and each label's capacity."""
        caps = np.array([t.capacity for t in self.tissue], dtype=np.int32)
        return caps[np.asarray(labels)]

    def summary(self) -> str:
        """A few lines describing the scenario (for ``abm validate``)."""
        d = self.domain
        lines = [f"scenario {self.name}" + (f": {self.description.strip()}" if self.description
                                            else "")]
        lines.append(f"  lattice {d.shape[0]} x {d.shape[1]} x {d.shape[2]} voxels of {d.dx:g} µm "
                     f"({' x '.join(f'{e:g}' for e in d.extent)} µm); dt {d.dt:g} min, "
                     f"{d.n_steps} steps ({d.duration:g} min); seed "
                     f"{'drawn at run time' if d.seed is None else d.seed}")
        lines.append("  tissue: " + ", ".join(
            f"{i} {t.name}" + ("" if t.initially else " (painted by an event)")
            for i, t in enumerate(self.tissue)))
        lines.append("  fields: " + "; ".join(
            f"{f.name} [{f.unit}] D {f.diffusion:g} µm²/min, decay {f.decay:g}/min"
            for f in self.fields))
        lines.append("  cell types: " + ("; ".join(
            f"{c.name} ({len(c.parameters)} parameter override(s), {len(c.rules)} rule(s))"
            for c in self.cell_types) or "none"))
        lines.append("  populations: " + ("; ".join(
            f"{p.n_cells if p.n_cells is not None else '?'} {p.cell_type}" + (f" {p.state}" if p.state else "")
            + f" in {p.region.describe()}" for p in self.populations) or "none"))
        lines.append("  events: " + ("; ".join(
            f"{e.time:g} min {e.kind} {_event_brief(e)}" for e in self.events) or "none"))
        o = self.outputs
        lines.append(f"  outputs: snapshots every {o.snapshot_every:g} min, checkpoints every "
                     f"{o.checkpoint_every:g} min, readouts every {o.readout_every:g} min: "
                     + ", ".join(r.text for r in o.readouts))
        return "\n".join(lines)


def _event_brief(e: Event) -> str:
    s = e.spec
    if e.kind == "injury":
        return f"'{s.label}' over {s.region.describe()}"
    if e.kind == "injection":
        return f"{s.n_cells} {s.cell_type} ({s.route}) into {s.target.describe()}"
    if e.kind == "bolus":
        return f"{s.amount:g} {s.field} into {s.region.describe()}"
    return f"{s.field} {s.law} into {s.region.describe()}"


# ============================================================================ catalogue
def catalogue(cell_type: str, type_names, field_names, tissue_names):
    """Signals and behaviours a cell type understands, before a model exists.

    The same functions :class:`abm.model.TissueModel` uses (:mod:`abm.rules`).

    Parameters
    ----------
    cell_type : str
        A built-in cell type name.
    type_names, field_names, tissue_names : iterable of str
        Cell types, fields and tissue labels of the model.

    Returns
    -------
    (set of str, set of str)
        Signals and behaviours.
    """
    cls = _builtin(cell_type)
    types, fields = list(type_names), list(field_names)
    return (rules_.signal_names(cls, types, fields, tissue_names),
            rules_.behaviour_names(cls, types, fields))


def _builtin(name: str):
    if name in CELL_TYPES:
        return CELL_TYPES.get(name)
    raise _Bad(f"unknown cell type '{name}'{_did_you_mean(name, _builtin_names())}; built-in "
               f"types: {', '.join(_builtin_names())}")


def _builtin_names() -> list[str]:
    return CELL_TYPES.names()


def parameter_kind(name: str, cell_type: str, field_units: dict) -> U.Kind:
    """The kind (dimension, internal unit) of a parameter or behaviour.

    Parameters
    ----------
    name : str
        E.g. ``"speed"``, ``"secretion:VEGF"``, ``"target:VEGF"``.
    cell_type : str
        Cell type (for ``chemotaxis_half_saturation``).
    field_units : dict
        Field name to its concentration unit.
    """
    head, _, tail = name.partition(":")
    if name == "speed":
        return U.SPEED
    if name == "chemotaxis":
        return U.CHEMOTAXIS
    if name == "persistence":
        return U.TIME
    if name in ("division", "death") or head in ("secretion", "uptake", "differentiation",
                                                 "transition", "gain", "loss"):
        return U.RATE
    if head == "initial":
        return U.DIMENSIONLESS
    if name == "chemotaxis_half_saturation":
        f = _builtin(cell_type).chemotaxis_field
        if f not in field_units:
            raise _Bad(f"{cell_type} chemotaxes on {f!r}, which is not a declared field; add the "
                       f"field to 'fields'")
        return U.concentration_kind(f, field_units[f])
    if tail in field_units:
        unit = field_units[tail]
        if head == "target":
            return U.concentration_kind(tail, unit)
        if head == "release":
            return U.amount_rate_kind(tail, unit)
        if head == "death_release":
            return U.amount_kind(tail, unit)
    raise _Bad(f"no unit known for {name!r}")


def _signal_kind(signal: str, field_units: dict) -> U.Kind:
    if signal in field_units:
        return U.concentration_kind(signal, field_units[signal])
    if signal in rules_.TIME_SIGNALS:
        return U.TIME
    return U.DIMENSIONLESS


# ============================================================================ readouts
_READOUT_GRAMMAR = ("'count <type> [<state>] [in <label>]', 'fraction <type> <state>', "
                    "'mean|max <field> [in <label>]' or 'total <field>'")


def parse_readout(text: str, types: dict, field_units: dict, labels) -> Readout:
    """Parse a readout string (grammar in the module docs).

    Parameters
    ----------
    text : str
    types : dict
        Declared cell type name to its states (tuple of str).
    field_units : dict
        Field name to unit.
    labels : sequence of str
        Tissue label names.

    Raises
    ------
    ModelInputError
        Unknown kind or name (with did-you-mean), or bad grammar.
    """
    try:
        return _parse_readout(text, types, field_units, list(labels))
    except _Bad as exc:
        raise ModelInputError(str(exc)) from None


def _parse_readout(text, types, field_units, labels) -> Readout:
    if not isinstance(text, str):
        raise _Bad(f"a readout is a string such as 'count BMSC', got {_typename(text)}")
    toks = text.split()
    if not toks:
        raise _Bad(f"empty readout; write {_READOUT_GRAMMAR}")
    kind, rest = toks[0], toks[1:]
    if kind not in READOUT_KINDS:
        raise _Bad(f"unknown readout '{text}': '{kind}' is not a measure"
                   f"{_did_you_mean(kind, READOUT_KINDS)}; write {_READOUT_GRAMMAR}")
    label = None
    if "in" in rest:
        i = rest.index("in")
        label = " ".join(rest[i + 1:])
        rest = rest[:i]
        if kind in ("fraction", "total"):
            raise _Bad(f"readout '{text}': '{kind}' takes no 'in <label>'; write {_READOUT_GRAMMAR}")
        if label not in labels:
            raise _Bad(f"readout '{text}': unknown tissue label '{label}'"
                       f"{_did_you_mean(label, labels)}; labels: {_choices(labels)}")

    def need(n_min, n_max):
        if not n_min <= len(rest) <= n_max:
            raise _Bad(f"cannot read readout '{text}'; write {_READOUT_GRAMMAR}")

    if kind in ("count", "fraction"):
        need(2 if kind == "fraction" else 1, 2)
        ct = rest[0]
        if ct not in types:
            raise _Bad(f"readout '{text}': unknown cell type '{ct}'{_did_you_mean(ct, types)}; "
                       f"the scenario has {_choices(types)}")
        state = rest[1] if len(rest) > 1 else None
        if state is not None and state not in types[ct]:
            raise _Bad(f"readout '{text}': {ct} has no state '{state}'"
                       f"{_did_you_mean(state, types[ct])}; states: {_choices(types[ct])}")
        return Readout(text, kind, cell_type=ct, state=state, label=label,
                       unit="cells" if kind == "count" else "1")
    need(1, 1)
    f = rest[0]
    if f not in field_units:
        raise _Bad(f"readout '{text}': unknown field '{f}'{_did_you_mean(f, field_units)}; "
                   f"fields: {_choices(field_units)}")
    unit = field_units[f] + ("*um^3" if kind == "total" else "")
    return Readout(text, kind, field=f, label=label, unit=unit)


# ============================================================================ YAML, lines, overrides
def _line_map(node, path=(), out=None, dups=None):
    """Map key paths to 1-based lines; record duplicate keys."""
    if out is None:
        out, dups = {}, []
    if isinstance(node, yaml.MappingNode):
        seen = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k.value)
            if key in seen:
                dups.append((path + (key,), k.start_mark.line + 1, seen[key]))
            seen[key] = k.start_mark.line + 1
            out[path + (key,)] = k.start_mark.line + 1
            _line_map(v, path + (key,), out, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out[path + (i,)] = v.start_mark.line + 1
            _line_map(v, path + (i,), out, dups)
    return out, dups


def _fmt_path(loc) -> str:
    s = ""
    for p in loc:
        if isinstance(p, int):
            s += f"[{p}]"
        else:
            s += ("." if s else "") + str(p)
    return s


def _apply_override(data, text: str, src: str):
    if not isinstance(text, str) or "=" not in text:
        raise ScenarioError(f"malformed override {text!r}: write KEY.PATH=VALUE, e.g. "
                            f"'domain.dt=2 min'", src, where="--set")
    key, _, value_text = text.partition("=")
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ScenarioError(f"malformed override {text!r}: the key path is empty or has an empty "
                            f"part; write KEY.PATH=VALUE, e.g. 'domain.dt=2 min'", src, where="--set")
    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"cannot read the value {value_text.strip()!r} as YAML "
                            f"({getattr(exc, 'problem', None) or exc})", src,
                            where=f"--set {key}") from None
    cur, loc = data, []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        here = _fmt_path(loc) or "the top level"
        if isinstance(cur, list):
            try:
                idx = int(part)
            except ValueError:
                raise ScenarioError(f"{here} is a list: use an index 0–{len(cur) - 1}, not "
                                    f"'{part}'", src, where=f"--set {key}") from None
            if not -len(cur) <= idx < len(cur):
                raise ScenarioError(f"{here} has {len(cur)} entries; index {idx} does not exist",
                                    src, where=f"--set {key}")
            idx %= len(cur)
            part_key = idx
        elif isinstance(cur, dict):
            part_key = part
            if part not in cur and not last:
                raise ScenarioError(f"{here} has no key '{part}'{_did_you_mean(part, cur)}",
                                    src, where=f"--set {key}")
        else:
            raise ScenarioError(f"{here} is {_typename(cur)}, not a mapping or list; cannot set "
                                f"'{part}' inside it", src, where=f"--set {key}")
        loc.append(part_key)
        if last:
            cur[part_key] = value
        else:
            if cur[part_key] is None and isinstance(cur, dict):
                cur[part_key] = {}
            cur = cur[part_key]
    return tuple(loc)


# ============================================================================ loading
def load_scenario(path, overrides=()) -> Scenario:
    """Read, validate and convert a scenario file.

    Parameters
    ----------
    path : str or Path
        YAML scenario file.
    overrides : sequence of str
        ``"key.path=value"`` overrides applied before validation.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        One message naming the file, line, key path and what was expected.
    """
    path = Path(path)
    if not path.exists():
        raise ScenarioError(f"scenario file not found (looked for {str(path.absolute())!r}); check "
                            f"the path, or copy one of the examples in scenarios/",
                            path.name or str(path))
    if not path.is_file():
        raise ScenarioError(f"{str(path)!r} is not a file; give the path of a YAML scenario file",
                            path.name or str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError("the file is not UTF-8 text; save the scenario as a UTF-8 YAML file",
                            path.name) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read the file ({exc.strerror or exc}); check its permissions",
                            path.name) from None
    return load_scenario_text(text, name=path.name, base_dir=path.parent.absolute(),
                              overrides=overrides)


def load_scenario_text(text: str, name: str = "<scenario>", base_dir=Path("."),
                       overrides=()) -> Scenario:
    """Validate and convert a scenario given as text (e.g. the copy stored in a run's HDF5 file).

    Parameters
    ----------
    text : str
        YAML text.
    name : str
        File name used in messages and in ``Scenario.source``.
    base_dir : Path
        Folder that relative paths (masks, rules CSVs) are resolved against.
    overrides : sequence of str
        ``"key.path=value"`` overrides.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
    """
    if isinstance(overrides, str):
        overrides = (overrides,)
    overrides = tuple(overrides or ())
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        ctx = getattr(exc, "context", None)
        cmark = getattr(exc, "context_mark", None)
        if ctx and cmark is not None and mark is not None and cmark.line != mark.line:
            ctx += f" that starts on line {cmark.line + 1}"
        raise ScenarioError(f"invalid YAML: {problem}" + (f" ({ctx})" if ctx else "")
                            + "; check indentation, colons and quotes", name,
                            line=None if mark is None else mark.line + 1) from None
    if not isinstance(data, dict):
        raise ScenarioError("the top level must be a mapping of keys (name, domain, fields, ...), "
                            f"got {_typename(data) if data is not None else 'an empty file'}",
                            name, line=1 if data is not None else None)
    lines, dups = _line_map(node)
    problems = _Problems(name, lines)
    for dpath, ln, first in dups:
        problems.add(dpath, f"key '{dpath[-1]}' given twice (also on line {first}); keep one")
    set_paths = []
    for ov in overrides:
        loc = _apply_override(data, ov, name)
        set_paths.append((loc, ov.partition("=")[0].strip()))
    problems.overrides = set_paths
    try:
        raw = _Scenario.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc, msg = _translate(err, data)
            problems.add(loc, msg)
        problems.raise_first()
        raise AssertionError("unreachable")  # pragma: no cover
    problems.raise_first()
    sc = _Resolver(raw, problems, text, name, Path(base_dir), overrides).resolve()
    problems.raise_first()
    return sc


class _Problems:
    """Problems found so far, each (loc, message); reported first by line."""

    def __init__(self, file: str, lines: dict):
        self.file, self.lines, self.items = file, lines, []
        self.overrides: list[tuple[tuple, str]] = []

    def add(self, loc, message: str):
        self.items.append((tuple(loc), message))

    def _where(self, loc):
        for oloc, key in self.overrides:
            if tuple(loc[:len(oloc)]) == oloc:
                return None, f"--set {key}"
        for n in range(len(loc), -1, -1):
            if tuple(loc[:n]) in self.lines:
                return self.lines[tuple(loc[:n])], None
        return None, None

    def raise_first(self):
        if not self.items:
            return
        located = []
        for k, (loc, msg) in enumerate(self.items):
            line, where = self._where(loc)
            order = (0 if where else 1, line if line is not None else 10**9, k)
            located.append((order, loc, msg, line, where))
        located.sort(key=lambda t: t[0])
        _, loc, msg, line, where = located[0]
        raise ScenarioError(msg, self.file, line=line, path=_fmt_path(loc), where=where,
                            more=len(located) - 1)


_TAGS = set(SHAPES) | {"<label>", "<rules-file>", "<rules-rows>"}


def _translate(err: dict, data) -> tuple[tuple, str]:
    """A pydantic error as (loc in the data tree, message)."""
    loc = []
    cur = data
    for part in err["loc"]:
        if part in _TAGS and not (isinstance(cur, dict) and part in cur):
            continue
        loc.append(part)
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            cur = None
    typ, ctx, inp = err["type"], err.get("ctx") or {}, err.get("input")
    if typ == "scenario":
        if ctx.get("key") is not None:
            loc.append(ctx["key"])
        return tuple(loc), ctx["message"]
    if typ == "missing":
        return tuple(loc), f"missing required key '{loc[-1]}'"
    if typ in ("model_type", "dict_type", "model_attributes_type"):
        return tuple(loc), f"expected a mapping of keys, got {_typename(inp)}"
    if typ == "list_type":
        return tuple(loc), f"expected a list, got {_typename(inp)}"
    if typ in ("string_type", "string_sub_type"):
        return tuple(loc), f"expected a string, got {_typename(inp)}"
    if typ in ("int_type", "int_parsing", "int_from_float"):
        return tuple(loc), f"expected a whole number, got {_typename(inp)}"
    if typ in ("bool_type", "bool_parsing"):
        return tuple(loc), f"expected true or false, got {_typename(inp)}"
    if typ == "greater_than_equal":
        return tuple(loc), f"must be >= {ctx.get('ge')}, got {_typename(inp)}"
    if typ == "too_short" and loc and loc[-1] == "fields":
        return tuple(loc), "declare at least one field"
    if typ == "literal_error":
        expected = ctx.get("expected", "")
        opts = [o.strip().strip("'") for o in expected.replace(" or ", ",").split(",") if o.strip()]
        return tuple(loc), (f"expected one of {expected}, got {_typename(inp)}"
                            + _did_you_mean(inp, opts))
    if typ == "union_tag_invalid":
        tag = ctx.get("tag")
        if "_region_tag" in str(ctx.get("discriminator", "")):
            return tuple(loc) + ("shape",), (f"unknown region shape '{tag}'"
                                             f"{_did_you_mean(tag, SHAPES)}; shapes: "
                                             f"{', '.join(SHAPES)}")
        return tuple(loc), f"unexpected value {_typename(inp)}"
    if typ == "union_tag_not_found":
        if "_region_tag" in str(ctx.get("discriminator", "")):
            if isinstance(inp, dict):
                return tuple(loc), (f"a region mapping needs a 'shape' key ({', '.join(SHAPES)})")
            return tuple(loc), ("expected a region: a tissue label name, 'all', or a mapping with "
                                f"a 'shape' key, got {_typename(inp)}")
        return tuple(loc), ("expected a list of rule rows or the path of a rules CSV, got "
                            f"{_typename(inp)}")
    return tuple(loc), err.get("msg", typ)


class _Resolver:
    """Second pass: cross references and context-dependent units, into plain objects."""

    def __init__(self, raw: _Scenario, problems: _Problems, text, name, base_dir, overrides):
        self.raw, self.p, self.text, self.name = raw, problems, text, name
        self.base_dir, self.overrides = base_dir, overrides
        self.field_units: dict[str, str] = {}
        self.labels0 = None

    # -- helpers
    def conv(self, loc, value, kind, **bounds):
        try:
            return U.to_internal(value, kind, **bounds)
        except U.UnitProblem as exc:
            raise _Bad(str(exc)) from None

    def attempt(self, loc, fn, *args, **kw):
        """Run ``fn``; on a problem record it at ``loc`` (+ its key) and return None."""
        try:
            return fn(*args, **kw)
        except _Bad as exc:
            key = exc.key if isinstance(exc.key, tuple) else (() if exc.key is None else (exc.key,))
            self.p.add(tuple(loc) + key, str(exc))
        except ModelInputError as exc:
            self.p.add(tuple(loc), str(exc))
        return None

    # -- sections
    def resolve(self) -> Scenario:
        r = self.raw
        dom = self.attempt(("domain",), self.domain)
        if dom is None:
            self.p.raise_first()
        self.dom = dom
        tissue = self.tissue()
        self.tissue_names = [t.name for t in tissue]
        fields = self.fields()
        self.types = {}
        for n in r.cell_types:
            cls = self.attempt(("cell_types", n), _builtin, n)
            if cls is not None:
                self.types[n] = cls
        self.p.raise_first()  # later sections need the names above
        self.tissue = tissue
        if any(t.initially and t.region is not None for t in tissue[1:]) \
                and math.prod(dom.shape) <= PAINT_LIMIT:
            self.labels0 = self.attempt(("tissue",), _paint, dom, tissue)
        cell_types = [ct for n, spec in r.cell_types.items()
                      if (ct := self.attempt(("cell_types", n), self.cell_type, n, spec))
                      is not None]
        pops = [pp for i, pop in enumerate(r.populations)
                if (pp := self.attempt(("populations", i), self.population, i, pop)) is not None]
        events = [ev for i, e in enumerate(r.events)
                  if (ev := self.attempt(("events", i), self.event, i, e)) is not None]
        events.sort(key=lambda e: e.time)
        outputs = self.attempt(("outputs",), self.outputs, fields)
        self.p.raise_first()
        return Scenario(name=r.name, description=r.description, text=self.text,
                        overrides=tuple(self.overrides), source=self.name, base_dir=self.base_dir,
                        domain=dom, tissue=tissue, fields=fields, cell_types=cell_types,
                        populations=pops, events=events, outputs=outputs)

    def domain(self) -> Domain:
        d = self.raw.domain
        shape = []
        for a, e in enumerate(d.extent):
            n = int(round(e / d.voxel))
            if n < 3:
                raise _Bad(f"the domain must be at least 3 voxels along {AXES[a]}: extent "
                           f"{e:g} µm / voxel {d.voxel:g} µm gives {n}; make the voxel smaller or "
                           f"the extent larger", key="extent")
            shape.append(n)
        n_steps = int(round(d.duration / d.dt))
        if n_steps < 1:
            raise _Bad(f"duration ({d.duration:g} min) is shorter than one step dt ({d.dt:g} min)",
                       key="duration")
        return Domain(tuple(shape), d.voxel, tuple(n * d.voxel for n in shape), d.dt, d.duration,
                      n_steps, d.seed, d.capacity)

    def region(self, loc, ref, *, need_voxels=True) -> Region:
        """Resolve a region reference; raise _Bad with the key inside ``ref`` when possible."""
        if isinstance(ref, str):
            names = ["all"] + list(self.tissue_names)
            if ref not in names:
                raise _Bad(f"unknown region '{ref}'{_did_you_mean(ref, names)}: a region is a "
                           f"tissue label ({_choices(self.tissue_names)}), 'all', or a mapping "
                           f"with a 'shape' key")
            return LabelRegion(ref)
        if isinstance(ref, _Sphere):
            reg = SphereRegion(ref.center, ref.radius)
        elif isinstance(ref, _Ellipsoid):
            reg = EllipsoidRegion(ref.center, ref.radii)
        elif isinstance(ref, _Box):
            reg = BoxRegion(ref.lower, ref.upper)
        elif isinstance(ref, _Shell):
            reg = ShellRegion(ref.center, ref.inner_radius, ref.outer_radius)
        else:
            reg = self.mask_region(ref)
        msg = reg.outside_domain(self.dom.extent)
        if msg:
            raise _Bad(msg)
        if need_voxels and reg.voxel_count(self.dom.shape, self.dom.dx) == 0:
            raise _Bad(f"region {reg.describe()} contains no voxel centre; make it larger (voxel "
                       f"{self.dom.dx:g} µm)")
        return reg

    def mask_region(self, ref: _Mask) -> MaskRegion:
        path = Path(ref.file)
        if not path.is_absolute():
            path = self.base_dir / path
        if not path.is_file():
            raise _Bad(f"mask file '{ref.file}' not found (looked for '{path}'); give a path "
                       f"relative to the scenario file", key="file")
        if path.suffix.lower() in (".h5", ".hdf5") and not ref.dataset:
            raise _Bad(f"mask file '{ref.file}' is HDF5: name the array with 'dataset:'",
                       key="file")
        try:
            arr = MaskRegion.load(path, ref.dataset)
        except ModelInputError as exc:
            raise _Bad(str(exc), key="file") from None
        if arr.shape != self.dom.shape:
            raise _Bad(f"mask '{ref.file}' has shape {arr.shape}, but the domain is "
                       f"{self.dom.shape} voxels; make the mask on the lattice "
                       f"(round(extent/voxel) per axis)", key="file")
        return MaskRegion(ref.file, ref.dataset, arr)

    def tissue(self) -> list:
        t = self.raw.tissue
        cap0 = self.raw.domain.capacity
        d = t.default
        out = [TissueLabel(d.name, d.diffusion_scale, d.decay_scale, d.permeable,
                           cap0 if d.capacity is None else d.capacity, None, True)]
        names = [d.name]
        for i, lab in enumerate(t.labels):
            loc = ("tissue", "labels", i)
            if lab.name == "all":
                self.p.add(loc + ("name",), "'all' is reserved (every voxel); choose another name")
            elif lab.name in names:
                self.p.add(loc + ("name",), f"tissue label '{lab.name}' is declared twice")
            names.append(lab.name)
            self.tissue_names = names[:-1]  # a label's region may name earlier labels only
            reg = None
            if lab.region is None:
                if lab.initially:
                    self.p.add(loc, f"label '{lab.name}' is painted at t = 0: give its region, or "
                                    f"set initially: false if an injury paints it later")
            else:
                reg = self.attempt(loc + ("region",), self.region, loc + ("region",), lab.region)
            if len(names) > 255:
                self.p.add(loc, "at most 255 tissue labels are supported")
            out.append(TissueLabel(lab.name, lab.diffusion_scale, lab.decay_scale, lab.permeable,
                                   cap0 if lab.capacity is None else lab.capacity, reg,
                                   lab.initially))
        self.tissue_names = names
        return out

    def fields(self) -> list:
        from ..seeds import load_field_defaults  # noqa: PLC0415

        defaults = load_field_defaults()
        out = []
        for name, f in self.raw.fields.items():
            loc = ("fields", name)
            spec = self.attempt(loc, self.field, name, f or _Field(), defaults.get(name))
            if spec is not None:
                out.append(spec)
                self.field_units[name] = spec.unit
        return out

    def field(self, name, f: _Field, dflt) -> FieldSpec:
        if not name or any(ch.isspace() for ch in name) or "." in name:
            raise _Bad(f"field name '{name}' must not be empty or contain spaces or '.'")
        known = "" if dflt is None else " or use a name from seeds/fields.csv"
        if f.unit is not None:
            try:
                unit = U.parse_unit(f.unit)
            except U.UnitProblem as exc:
                raise _Bad(str(exc), key="unit") from None
        elif dflt is not None:
            unit = dflt.unit
        else:
            raise _Bad(f"field '{name}' is not in seeds/fields.csv: give its unit (e.g. "
                       f"'unit: ng/mL'){known}", key=None)
        if f.diffusion is not None:
            diffusion = f.diffusion
        elif dflt is not None:
            diffusion = dflt.diffusion
        else:
            raise _Bad(f"field '{name}' is not in seeds/fields.csv: give its diffusion (e.g. "
                       f"'diffusion: 70 um^2/s')")
        if f.decay is not None:
            decay = f.decay
        elif f.half_life is not None:
            decay = math.log(2) / f.half_life
        else:
            decay = dflt.decay if dflt is not None else 0.0
        ck = U.concentration_kind(name, unit)
        initial = 0.0
        if f.initial is not None:
            try:
                initial = U.to_internal(f.initial, ck)
            except U.UnitProblem as exc:
                raise _Bad(str(exc), key="initial") from None
        faces = {}
        for face, v in f.boundary.items():
            try:
                faces[face] = U.to_internal(v, ck)
            except U.UnitProblem as exc:
                raise _Bad(str(exc), key="boundary") from None
        return FieldSpec(name, unit, float(diffusion), float(decay), initial, faces)

    def cell_type(self, name, spec: _CellType | None) -> CellTypeSpec:
        spec = spec or _CellType()
        loc = ("cell_types", name)
        sig, beh = catalogue(name, self.types, self.field_units, self.tissue_names)
        known = rules_.known_parameters(_builtin(name), self.types, self.field_units)
        cls = self.types[name]
        params = {}
        for k, v in spec.parameters.items():
            ploc = loc + ("parameters", k)
            if k not in known:
                self.p.add(ploc, f"{name} has no parameter '{k}'{_did_you_mean(k, known)}; "
                                 f"known: {_choices(known)}")
                continue
            kind = self.attempt(ploc, parameter_kind, k, name, self.field_units)
            if kind is None:
                continue
            val = self.attempt(ploc, self.conv, ploc, v, kind,
                               maximum=1.0 if k.startswith("initial:") else None)
            if val is not None:
                params[k] = val
        # the model's own checks, with a line: secretion needs a target, chemotaxis its field
        merged = {k: v for k, v in cls.default_parameters().items() if k in known
                  and not (k == "chemotaxis" and cls.chemotaxis_field not in self.field_units)}
        merged.update(params)
        for f in self.field_units:
            if merged.get(f"secretion:{f}", 0) > 0 and f"target:{f}" not in merged:
                self.p.add(loc + ("parameters", f"secretion:{f}"),
                           f"secretion:{f} needs a target:{f} (saturation concentration, "
                           f"{self.field_units[f]})")
        if cls.chemotaxis_field and cls.chemotaxis_field not in self.field_units \
                and params.get("chemotaxis", 0) > 0:
            self.p.add(loc + ("parameters", "chemotaxis"),
                       f"{name} chemotaxes on '{cls.chemotaxis_field}', which is not a declared "
                       f"field; add the field or set chemotaxis to 0")
        if "chemotaxis_half_saturation" in params and params["chemotaxis_half_saturation"] <= 0:
            self.p.add(loc + ("parameters", "chemotaxis_half_saturation"), "must be > 0")
        rules = []
        if isinstance(spec.rules, str):
            rules = self.rules_file(loc + ("rules",), name, spec.rules, sig, beh)
        else:
            for i, row in enumerate(spec.rules):
                r = self.attempt(loc + ("rules", i), self.rule, name, row, sig, beh)
                if r is not None:
                    rules.append(r)
        return CellTypeSpec(name, params, rules)

    def rule(self, ct, row: _Rule, sig, beh) -> tuple:
        if row.signal not in sig:
            raise _Bad(f"{ct} cannot sense '{row.signal}'{_did_you_mean(row.signal, sig)}; known "
                       f"signals: {_choices(sig)}", key="signal")
        if row.behaviour not in beh:
            raise _Bad(f"{ct} has no behaviour '{row.behaviour}'"
                       f"{_did_you_mean(row.behaviour, beh)}; known behaviours: {_choices(beh)}",
                       key="behaviour")
        kind = parameter_kind(row.behaviour, ct, self.field_units)
        try:
            mx = U.to_internal(row.max_response, kind)
        except U.UnitProblem as exc:
            raise _Bad(str(exc), key="max_response") from None
        try:
            hm = U.to_internal(row.half_max, _signal_kind(row.signal, self.field_units),
                               positive=True)
        except U.UnitProblem as exc:
            raise _Bad(str(exc), key="half_max") from None
        return (ct, row.signal, row.direction, row.behaviour, mx, hm, float(row.hill_power))

    def rules_file(self, loc, ct, file, sig, beh) -> list:
        from ..rules import load_rules  # noqa: PLC0415

        path = Path(file)
        if not path.is_absolute():
            path = self.base_dir / path
        try:
            rs = load_rules(path)
        except ModelInputError as exc:
            self.p.add(loc, str(exc))
            return []
        out = []
        for r in rs:
            if r.cell_type != ct:
                self.p.add(loc, f"{r.source}: the row is for '{r.cell_type}', but this rules file "
                                f"is given under cell_types.{ct}; keep only {ct} rows in it")
                continue
            if r.signal not in sig:
                self.p.add(loc, f"{r.source}: {ct} cannot sense '{r.signal}'"
                                f"{_did_you_mean(r.signal, sig)}")
                continue
            if r.behaviour not in beh:
                self.p.add(loc, f"{r.source}: {ct} has no behaviour '{r.behaviour}'"
                                f"{_did_you_mean(r.behaviour, beh)}")
                continue
            out.append((ct, r.signal, r.direction, r.behaviour, r.max_response, r.half_max,
                        r.hill_power))
        return out

    def _type_ref(self, name, key="cell_type"):
        if name not in self.types:
            extra = "" if name not in _builtin_names() else \
                "; add it under cell_types to include it in the model"
            raise _Bad(f"unknown cell type '{name}'{_did_you_mean(name, self.types)}; the "
                       f"scenario declares {_choices(self.types)}{extra}", key=key)
        return self.types[name]

    def _state_values(self, cls, state, values):
        if state is not None and state not in cls.states:
            raise _Bad(f"{cls.cell_type} has no state '{state}'{_did_you_mean(state, cls.states)}; "
                       f"states: {_choices(cls.states)}", key="state")
        for k in values:
            if k not in cls.variables:
                raise _Bad(f"{cls.cell_type} has no variable '{k}'"
                           f"{_did_you_mean(k, cls.variables)}; variables: "
                           f"{_choices(cls.variables)}", key="values")

    def _field_ref(self, name, key="field"):
        if name not in self.field_units:
            raise _Bad(f"unknown field '{name}'{_did_you_mean(name, self.field_units)}; declared "
                       f"fields: {_choices(self.field_units)}", key=key)
        return self.field_units[name]

    def _room(self, mask) -> int:
        caps = np.array([t.capacity for t in self.tissue], dtype=np.int64)
        if self.labels0 is None:
            return int(caps[0] * np.count_nonzero(mask))
        return int(caps[self.labels0][mask].sum())

    def _mask(self, region: Region) -> np.ndarray:
        labels = self.labels0 if self.labels0 is not None else \
            np.zeros(self.dom.shape, dtype=np.uint8)
        return region.mask(self.dom.shape, self.dom.dx, labels, self.tissue_names)

    def population(self, i, pop: _Population) -> PopulationSpec:
        cls = self._type_ref(pop.cell_type)
        self._state_values(cls, pop.state, pop.values)
        region = self._sub(("region",), self.region, None, pop.region)
        painted = any(t.initially and t.region is not None for t in self.tissue[1:])
        cap0 = self.tissue[0].capacity
        if painted and self.labels0 is None and isinstance(region, LabelRegion) \
                and region.name == "all":
            nvox, room = math.prod(self.dom.shape), None
        elif not painted and isinstance(region, LabelRegion):
            # only label 0 (everywhere) exists at t = 0
            nvox = math.prod(self.dom.shape) if region.name in ("all", self.tissue[0].name) else 0
            room = cap0 * nvox
        elif not painted and not isinstance(region, MaskRegion):
            nvox = region.voxel_count(self.dom.shape, self.dom.dx)
            room = cap0 * nvox
        elif self.labels0 is None and painted:
            nvox = room = None  # lattice too large to paint here; counted at placement
        else:
            mask = self._mask(region)
            nvox = int(np.count_nonzero(mask))
            room = self._room(mask)
        if nvox == 0:
            raise _Bad(f"region {region.describe()} has no voxels at t = 0", key="region")
        if pop.count is not None:
            if abs(pop.count - round(pop.count)) > 1e-9 * max(1.0, pop.count):
                raise _Bad(f"count must be a whole number of cells, got {pop.count:g}", key="count")
            n = count = int(round(pop.count))
        else:
            count = None
            n = None if nvox is None else int(round(pop.density * nvox * self.dom.voxel_volume))
        if room is not None and n > room:
            raise _Bad(f"{n} {cls.cell_type} cells do not fit in {region.describe()}: it has room "
                       f"for {room} (voxels × capacity); lower the number or raise the capacity",
                       key="count" if count is not None else "density")
        return PopulationSpec(cls.cell_type, region, count, pop.density, pop.state,
                              dict(pop.values), n)

    def depot(self, d: _Release, *, in_injury: bool) -> DepotSpec:
        unit = self._field_ref(d.field)
        if d.region is None:
            if not in_injury:
                raise _Bad("a depot needs a region (where it releases)", key="region")
            region = None
        else:
            region = self._sub(("region",), self.region, None, d.region)
        try:
            amount = U.to_internal(d.amount, U.amount_kind(d.field, unit),
                                   allow_inf=d.law == "constant")
        except U.UnitProblem as exc:
            msg = str(exc)
            if "finite" in msg:
                msg += " (only a constant-law depot may hold an infinite amount)"
            raise _Bad(msg, key="amount") from None
        if d.law == "first_order":
            if (d.rate is None) == (d.half_life is None):
                raise _Bad("a first_order depot needs exactly one of rate (1/time) and half_life",
                           key="rate" if d.rate is not None else None)
            if d.half_life is not None:
                rate = math.log(2) / d.half_life
            else:
                try:
                    rate = U.to_internal(d.rate, U.RATE, positive=True)
                except U.UnitProblem as exc:
                    raise _Bad(str(exc), key="rate") from None
        else:
            if d.half_life is not None:
                raise _Bad("a constant depot releases at a fixed rate (amount/time); half_life "
                           "applies to first_order only", key="half_life")
            if d.rate is None:
                raise _Bad("a constant depot needs rate (amount per time, e.g. '1 ng/h')")
            try:
                rate = U.to_internal(d.rate, U.amount_rate_kind(d.field, unit), positive=True)
            except U.UnitProblem as exc:
                raise _Bad(str(exc), key="rate") from None
        return DepotSpec(d.field, region, amount, d.law, rate)

    def event(self, i, e: _Event) -> Event:
        if e.injury is not None:
            inj = e.injury
            if inj.label not in self.tissue_names:
                raise _Bad(f"unknown tissue label '{inj.label}'"
                           f"{_did_you_mean(inj.label, self.tissue_names)}; declare it under "
                           f"tissue.labels (initially: false if only the injury paints it)",
                           key=("injury", "label"))
            region = self._sub(("injury", "region"), self.region, None, inj.region)
            rel = [self._sub(("injury", "release", k), self.depot, d, in_injury=True)
                   for k, d in enumerate(inj.release)]
            return Event(e.at, "injury", InjurySpec(region, inj.label, rel))
        if e.injection is not None:
            j = e.injection
            cls = self._sub(("injection",), self._type_ref, j.cell_type)
            self._sub(("injection",), self._state_values, cls, j.state, j.values)
            frac = j.delivered_fraction
            if frac is None:
                if j.route in ("intravenous", "intra-arterial"):
                    raise _Bad(f"an {j.route} injection needs delivered_fraction: the fraction of "
                               f"the dose that reaches this piece of tissue (e.g. 0.0005)",
                               key="injection")
                frac = 1.0
            if frac > 1:
                raise _Bad(f"must be <= 1, got {frac:g}", key=("injection", "delivered_fraction"))
            target = self._sub(("injection", "target"), self.region, None, j.target)
            return Event(e.at, "injection", InjectionSpec(cls.cell_type, j.dose, j.route, frac,
                                                          target, j.state, dict(j.values)))
        if e.bolus is not None:
            b = e.bolus
            unit = self._sub(("bolus",), self._field_ref, b.field)
            try:
                amount = U.to_internal(b.amount, U.amount_kind(b.field, unit))
            except U.UnitProblem as exc:
                raise _Bad(str(exc), key=("bolus", "amount")) from None
            region = self._sub(("bolus", "region"), self.region, None, b.region)
            return Event(e.at, "bolus", BolusSpec(b.field, amount, region))
        return Event(e.at, "depot", self._sub(("depot",), self.depot, e.depot, in_injury=False))

    def _sub(self, prefix, fn, *args, **kw):
        """Call ``fn``; prefix the key of a problem it raises with ``prefix``."""
        try:
            return fn(*args, **kw)
        except _Bad as exc:
            key = exc.key if isinstance(exc.key, tuple) else (() if exc.key is None else (exc.key,))
            raise _Bad(str(exc), key=tuple(prefix) + key) from None

    def outputs(self, fields) -> Outputs:
        o, d = self.raw.outputs, self.dom
        snap = o.snapshot_every if o.snapshot_every is not None else d.duration / 10
        ckpt = o.checkpoint_every if o.checkpoint_every is not None else snap
        rd = o.readout_every if o.readout_every is not None else \
            d.dt * max(1, round(snap / d.dt / 10))
        fnames = [f.name for f in fields]
        out_fields = fnames if o.fields is None else list(o.fields)
        for k, f in enumerate(out_fields):
            if f not in self.field_units:
                self.p.add(("outputs", "fields", k), f"unknown field '{f}'"
                           f"{_did_you_mean(f, fnames)}; declared fields: {_choices(fnames)}")
        agents = list(self.types) if o.agents is None else list(o.agents)
        for k, a in enumerate(agents):
            if a not in self.types:
                self.p.add(("outputs", "agents", k), f"unknown cell type '{a}'"
                           f"{_did_you_mean(a, self.types)}; the scenario declares "
                           f"{_choices(self.types)}")
        texts = [f"count {t}" for t in self.types] if o.readouts is None else list(o.readouts)
        states = {n: tuple(c.states) for n, c in self.types.items()}
        readouts = []
        for k, t in enumerate(texts):
            r = self.attempt(("outputs", "readouts", k), _parse_readout, t, states,
                             self.field_units, self.tissue_names)
            if r is not None:
                if any(x.text == r.text for x in readouts):
                    self.p.add(("outputs", "readouts", k), f"readout '{t}' is listed twice")
                readouts.append(r)
        return Outputs(snap, ckpt, rd, out_fields, agents, readouts)


def _paint(dom: Domain, tissue: list) -> np.ndarray:
    labels = np.zeros(dom.shape, dtype=np.uint8)
    names = [t.name for t in tissue]
    for i, t in enumerate(tissue[1:], start=1):
        if t.initially and t.region is not None:
            labels[t.region.mask(dom.shape, dom.dx, labels, names)] = i
    return labels


def build_labels(scenario: Scenario) -> np.ndarray:
    """Tissue labels at t = 0.

    Returns
    -------
    numpy uint8 array of ``scenario.domain.shape``
        0 everywhere, then each label with ``initially`` true painted in order
        (later labels win).
    """
    return _paint(scenario.domain, scenario.tissue)
