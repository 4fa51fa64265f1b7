"""The pydantic models of a scenario file.

Structure and units; cross references are
:mod:`.resolve`'s). The event model has one key per registered event kind and is built,
with the top-level model, from the registry contents at load time (:func:`scenario_model`),
so kinds a plugin registers are known. See docs/scenario-format.md.
"""

from functools import lru_cache
from typing import Annotated, Literal, Optional, Union

from pydantic import BeforeValidator, Discriminator, Field, Tag, create_model, model_validator

from ..registry import EVENT_KINDS
from .arms import ArmSchema, ReportedSchema
from .problems import custom, did_you_mean, typename
from .quantities import (
    Count,
    Density,
    Diffusivity,
    NonNegInt,
    NonNegTime,
    PosLength,
    PosNumber,
    PosTime,
    PosVec3,
    Rate,
    Raw,
    RegionRef,
    Scale,
    SchemaModel,
    Unit01,
)

__all__ = ["FACES", "DomainSchema", "TissueSchema", "FieldSchema", "RuleSchema", "CellTypeSchema",
           "PopulationSchema", "OutputsSchema", "RepeatSchema", "event_model", "scenario_model", "STRUCTURE_KEYS"]

FACES = ("x-", "x+", "y-", "y+", "z-", "z+")


class DomainSchema(SchemaModel):
    """``domain:``: the lattice and the clock."""

    extent: PosVec3
    voxel: PosLength
    dt: PosTime
    duration: PosTime
    seed: Optional[NonNegInt] = None
    capacity: NonNegInt = 1


class TissueDefaultSchema(SchemaModel):
    name: str = "parenchyma"
    diffusion_scale: Scale = 1.0
    decay_scale: Scale = 1.0
    permeable: bool = True
    capacity: Optional[NonNegInt] = None


class TissueLabelSchema(SchemaModel):
    name: str
    region: Optional[RegionRef] = None
    diffusion_scale: Scale = 1.0
    decay_scale: Scale = 1.0
    permeable: bool = True
    capacity: Optional[NonNegInt] = None
    initially: bool = True


class TissueSchema(SchemaModel):
    """``tissue:``: the default tissue and the labels."""

    default: TissueDefaultSchema = Field(default_factory=TissueDefaultSchema)
    labels: list[TissueLabelSchema] = Field(default_factory=list)


def _boundary(v):
    if v is None or v == "no-flux":
        return {}
    if isinstance(v, str):
        raise custom(f"expected 'no-flux' or a mapping of faces ({', '.join(FACES)}) to fixed "
                     f"values, got '{v}'{did_you_mean(v, ['no-flux'])}")
    if not isinstance(v, dict):
        raise custom(f"expected 'no-flux' or a mapping of faces to values, got {typename(v)}")
    for k in v:
        if k not in FACES:
            raise custom(f"unknown face '{k}'{did_you_mean(k, FACES)} (faces: "
                         f"{', '.join(FACES)})", key=k)
    return dict(v)


class FieldSchema(SchemaModel):
    """One entry of ``fields:``."""

    unit: Optional[str] = None
    diffusion: Optional[Diffusivity] = None
    decay: Optional[Rate] = None
    half_life: Optional[PosTime] = None
    initial: Optional[Raw] = None
    boundary: Annotated[dict, BeforeValidator(_boundary)] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_decay(self):
        if self.decay is not None and self.half_life is not None:
            raise custom("give either decay or half_life, not both", key="half_life")
        return self


class RuleSchema(SchemaModel):
    """One rule row."""

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


def _rule_item_tag(v):
    if isinstance(v, str):
        return "<rules-file>"
    if isinstance(v, dict):
        return "<rule-row>"
    return None


#: One item of a ``rules:`` list: a rule row, or a rules table (its rows are added).
RuleItem = Annotated[Union[Annotated[str, Tag("<rules-file>")],
                           Annotated[RuleSchema, Tag("<rule-row>")]],
                     Discriminator(_rule_item_tag)]


def _variables_tag(v):
    if isinstance(v, list):
        return "<var-list>"
    if isinstance(v, dict):
        return "<var-map>"
    return None


class ChemotaxisSchema(SchemaModel):
    field: str
    receptor: Optional[str] = None


#: Keys of a cell type entry that declare structure (a new type, or one extending another).
STRUCTURE_KEYS = ("extends", "states", "variables", "chemotaxis", "colour", "state_colours")


class CellTypeSchema(SchemaModel):
    """One entry of ``cell_types:`` (a registered type or a declaration)."""

    extends: Optional[str] = None
    states: Optional[list[str]] = None
    variables: Optional[Annotated[Union[Annotated[list[str], Tag("<var-list>")],
                                        Annotated[dict[str, Unit01], Tag("<var-map>")]],
                                  Discriminator(_variables_tag)]] = None
    chemotaxis: Optional[ChemotaxisSchema] = None
    colour: Optional[str] = None
    state_colours: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, Raw] = Field(default_factory=dict)
    rules: Annotated[Union[Annotated[str, Tag("<rules-file>")],
                           Annotated[list[RuleItem], Tag("<rules-rows>")]],
                     Discriminator(_rules_tag)] = Field(default_factory=list)


class PopulationSchema(SchemaModel):
    """One entry of ``populations:``."""

    cell_type: str
    region: RegionRef
    count: Optional[Count] = None
    density: Optional[Density] = None
    state: Optional[str] = None
    values: dict[str, Unit01] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_amount(self):
        if (self.count is None) == (self.density is None):
            raise custom("give exactly one of count and density",
                         key="density" if self.count is not None else None)
        return self


class OutputsSchema(SchemaModel):
    """``outputs:``."""

    snapshot_every: Optional[PosTime] = None
    checkpoint_every: Optional[PosTime] = None
    readout_every: Optional[PosTime] = None
    fields: Optional[list[str]] = None
    agents: Optional[list[str]] = None
    readouts: Optional[list[str]] = None


class RepeatSchema(SchemaModel):
    """``repeat:`` of an event: more doses every ``every``, ``times`` doses in all or ``until`` a time."""

    every: PosTime
    times: Optional[Annotated[int, Field(ge=1)]] = None
    until: Optional[NonNegTime] = None

    @model_validator(mode="after")
    def _one_end(self):
        if (self.times is None) == (self.until is None):
            raise custom("give exactly one of times (doses in all, the first included) and "
                         "until (the time of the last dose at the latest)",
                         key="until" if self.times is not None else None)
        return self


def _one_kind(self):
    given = [k for k in type(self).kind_names if getattr(self, k) is not None]
    if len(given) != 1:
        raise custom(f"an event needs exactly one of {', '.join(type(self).kind_names)}"
                     + (f" (got {', '.join(given)})" if given else ""),
                     key=given[1] if len(given) > 1 else None)
    return self


@lru_cache(maxsize=16)
def _event_model(kinds: tuple):
    fields = {"at": (NonNegTime, ...), "repeat": (Optional[RepeatSchema], None),
              "name": (Optional[str], None)}
    for name, schema in kinds:
        fields[name] = (Optional[schema], None)
    model = create_model("EventSchema", __base__=SchemaModel,
                         __validators__={"_one_kind": model_validator(mode="after")(_one_kind)},
                         **fields)
    model.kind_names = tuple(n for n, _ in kinds)
    return model


def _kinds() -> tuple:
    from ..events import event_kind  # noqa: PLC0415

    return tuple((n, event_kind(n).schema) for n in EVENT_KINDS.names())


def event_model():
    """The model of one event: ``at`` and one optional key per registered event kind."""
    return _event_model(_kinds())


@lru_cache(maxsize=16)
def _scenario_model(kinds: tuple):
    return create_model(
        "ScenarioSchema", __base__=SchemaModel,
        name=(str, ...), description=(str, ""), plugins=(list[str], Field(default_factory=list)),
        domain=(DomainSchema, ...), tissue=(TissueSchema, Field(default_factory=TissueSchema)),
        fields=(Annotated[dict[str, Optional[FieldSchema]], Field(min_length=1)], ...),
        cell_types=(dict[str, Optional[CellTypeSchema]], Field(default_factory=dict)),
        processes=(dict[str, Optional[dict[str, Raw]]], Field(default_factory=dict)),
        populations=(list[PopulationSchema], Field(default_factory=list)),
        events=(list[_event_model(kinds)], Field(default_factory=list)),
        outputs=(OutputsSchema, Field(default_factory=OutputsSchema)),
        arms=(Optional[dict[str, Optional[ArmSchema]]], None), arm=(Optional[str], None),
        reported=(list[ReportedSchema], Field(default_factory=list)))


def scenario_model():
    """The model of a whole scenario file, over the event kinds registered now."""
    return _scenario_model(_kinds())


