"""Building blocks of the scenario schema.

The strict model base class (unknown keys are
refused with a did-you-mean), quantities with units converted once on the way in, and a
region reference checked against the registered region shapes. Event kinds, region
shapes and other registered kinds build their schemas from these. See
docs/scenario-format.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from .. import units as U
from ..registry import REGION_SHAPES
from .problems import Bad, custom, did_you_mean, typename

__all__ = ["SchemaModel", "quantity", "converted", "vector3", "Length", "PosLength", "NonNegLength", "PosTime",
           "NonNegTime", "Diffusivity", "Rate", "Scale", "PosNumber", "Unit01", "Count", "Density",
           "Vec3", "PosVec3", "NonNegInt", "Raw", "RegionRef"]


class SchemaModel(BaseModel):
    """A mapping of the scenario file: unknown keys are an error naming the allowed ones."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data):
        if isinstance(data, dict):
            allowed = list(cls.model_fields)
            for k in data:
                if k not in allowed:
                    raise custom(f"unknown key '{k}'{did_you_mean(k, allowed)}; allowed keys: "
                                 f"{', '.join(allowed)}", key=k)
        return data


def quantity(kind: U.Kind, **bounds):
    """A validator converting a quantity to internal units.

    Converts a value with a unit into ``kind``'s internal unit
    (:func:`abm.units.to_internal`; ``bounds`` as there).
    """
    def conv(v):
        try:
            return U.to_internal(v, kind, **bounds)
        except U.UnitProblem as exc:
            raise custom(str(exc)) from None
    return BeforeValidator(conv)


def converted(value, kind: U.Kind, key=None, **bounds) -> float:
    """``value`` (a number with a unit) in ``kind``'s internal unit, for event resolvers.

    Raises
    ------
    Bad
        The unit problem, placed at ``key`` of the mapping being resolved.
    """
    try:
        return U.to_internal(value, kind, **bounds)
    except U.UnitProblem as exc:
        raise Bad(str(exc), key=key) from None


def vector3(kind: U.Kind, **bounds):
    """A validator converting a list of three values with units (a position, radii)."""
    def conv(v):
        if not isinstance(v, (list, tuple)):
            raise custom(f"expected 3 values [x, y, z], got {typename(v)}")
        if len(v) != 3:
            raise custom(f"expected 3 values [x, y, z], got {len(v)}")
        out = []
        for i, x in enumerate(v):
            try:
                out.append(U.to_internal(x, kind, **bounds))
            except U.UnitProblem as exc:
                raise custom(str(exc), key=i) from None
        return tuple(out)
    return BeforeValidator(conv)


def _raw_value(v):
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise custom(f"expected a number with a unit, got {typename(v)}")
    return v


def _region_ref(v):
    """Validate a region reference.

    A tissue label name (str, kept as is) or a region mapping validated by the schema of
    its registered shape.
    """
    if isinstance(v, str):
        return v
    names = REGION_SHAPES.names()
    if isinstance(v, dict):
        if v.get("shape") is None:
            raise custom(f"a region mapping needs a 'shape' key ({', '.join(names)})")
        s = str(v["shape"])
        if s not in names:
            raise custom(f"unknown region shape '{s}'{did_you_mean(s, names)}; shapes: "
                         f"{', '.join(names)}", key="shape")
        try:
            return REGION_SHAPES.get(s).schema.model_validate(v)
        except ValidationError as exc:
            errs = exc.errors()
            raise custom(errs[0].get("msg", "invalid region"), errors=errs) from None
    raise custom("expected a region: a tissue label name, 'all', or a mapping with a 'shape' "
                 f"key, got {typename(v)}")


Length = Annotated[float, quantity(U.LENGTH, minimum=None)]
PosLength = Annotated[float, quantity(U.LENGTH, positive=True)]
NonNegLength = Annotated[float, quantity(U.LENGTH)]
PosTime = Annotated[float, quantity(U.TIME, positive=True)]
NonNegTime = Annotated[float, quantity(U.TIME)]
Diffusivity = Annotated[float, quantity(U.DIFFUSIVITY)]
Rate = Annotated[float, quantity(U.RATE)]
Scale = Annotated[float, quantity(U.DIMENSIONLESS)]
PosNumber = Annotated[float, quantity(U.DIMENSIONLESS, positive=True)]
Unit01 = Annotated[float, quantity(U.DIMENSIONLESS, maximum=1.0)]
Count = Annotated[float, quantity(U.CELL_COUNT)]
Density = Annotated[float, quantity(U.CELL_DENSITY)]
Vec3 = Annotated[tuple[float, float, float], vector3(U.LENGTH, minimum=None)]
PosVec3 = Annotated[tuple[float, float, float], vector3(U.LENGTH, positive=True)]
NonNegInt = Annotated[int, Field(ge=0)]
#: A value whose unit depends on context (a field's unit, a behaviour's): kept raw.
Raw = Annotated[Any, BeforeValidator(_raw_value)]
#: A region: a tissue label name, ``all``, or a mapping with a registered ``shape``.
RegionRef = Annotated[Any, BeforeValidator(_region_ref)]
