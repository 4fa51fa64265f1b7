"""Depots: amounts of a field released over time.

A depot is an amount of a field loaded at a place and released over time (first-order, at
a constant rate, or ``triggered``: first-order at a rate that rises with the local level of
another field by a Hill function, from ``rate | half_life`` at level 0 to the trigger's
``rate | half_life`` at full trigger). Used by the ``depot`` event and by an injury's
``release`` list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Optional

from .. import units as U
from ..regions import Region
from ..scenario.problems import Bad
from ..scenario.quantities import PosTime, Raw, RegionRef, SchemaModel, converted

__all__ = ["DepotSpec", "DepotTrigger", "ReleaseSchema", "TriggerSchema", "resolve_depot",
           "load_depot"]


class TriggerSchema(SchemaModel):
    """``trigger: {field, half_max, hill, rate | half_life}`` of a ``triggered`` depot."""

    field: str
    half_max: Raw
    hill: float = 1.0
    rate: Optional[Raw] = None
    half_life: Optional[PosTime] = None


class ReleaseSchema(SchemaModel):
    """``{field, region, amount, law, rate | half_life, trigger}``."""

    field: str
    region: Optional[RegionRef] = None
    amount: Raw
    law: Literal["first_order", "constant", "triggered"]
    rate: Optional[Raw] = None
    half_life: Optional[PosTime] = None
    trigger: Optional[TriggerSchema] = None


@dataclass(frozen=True)
class DepotTrigger:
    """What sets the rate of a ``triggered`` depot.

    Attributes
    ----------
    field : str
    rate_max : float
        1/min at full trigger.
    half_max : float
        Level of half the rise, in the trigger field's unit.
    hill : float
    """

    field: str
    rate_max: float
    half_max: float
    hill: float


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
    law : {"first_order", "constant", "triggered"}
    rate : float
        1/min for ``first_order`` (and ``triggered`` at trigger level 0); amount/min for
        ``constant``.
    trigger : DepotTrigger or None
        ``triggered`` only.
    """

    field: str
    region: Region | None
    amount: float
    law: str
    rate: float
    trigger: DepotTrigger | None = None


def resolve_depot(d: ReleaseSchema, ctx, *, in_injury: bool) -> DepotSpec:
    """A :class:`DepotSpec` from its mapping (units by the field's unit).

    Raises
    ------
    Bad
        Unknown field, a missing region (outside an injury), or a bad amount or rate.
    """
    unit = ctx.field_unit(d.field)
    if d.region is None:
        if not in_injury:
            raise Bad("a depot needs a region (where it releases)", key="region")
        region = None
    else:
        region = ctx.sub(("region",), ctx.region, d.region)
    try:
        amount = U.to_internal(d.amount, U.amount_kind(d.field, unit),
                               allow_inf=d.law == "constant")
    except U.UnitProblem as exc:
        msg = str(exc)
        if "finite" in msg:
            msg += " (only a constant-law depot may hold an infinite amount)"
        raise Bad(msg, key="amount") from None
    if d.trigger is not None and d.law != "triggered":
        raise Bad(f"trigger applies to law: triggered, not to a {d.law} depot", key="trigger")
    if d.law in ("first_order", "triggered"):
        rate = _first_order_rate(d, d.law)
        if d.law == "triggered":
            return DepotSpec(d.field, region, amount, d.law, rate, _trigger(d, ctx))
    else:
        if d.half_life is not None:
            raise Bad("a constant depot releases at a fixed rate (amount/time); half_life "
                      "applies to first_order only", key="half_life")
        if d.rate is None:
            raise Bad("a constant depot needs rate (amount per time, e.g. '1 ng/h')")
        rate = converted(d.rate, U.amount_rate_kind(d.field, unit), key="rate", positive=True)
    return DepotSpec(d.field, region, amount, d.law, rate)


def _first_order_rate(d, what: str, prefix=()) -> float:
    """1/min from exactly one of ``d.rate`` and ``d.half_life`` (Bad otherwise)."""
    if (d.rate is None) == (d.half_life is None):
        raise Bad(f"a {what} depot needs exactly one of rate (1/time) and half_life",
                  key=(*prefix, "rate") if d.rate is not None else (prefix or None))
    if d.half_life is not None:
        return math.log(2) / d.half_life
    return converted(d.rate, U.RATE, key=(*prefix, "rate"), positive=True)


def _trigger(d: ReleaseSchema, ctx) -> DepotTrigger:
    """The trigger of a ``triggered`` depot, its level in the trigger field's unit."""
    tr = d.trigger
    if tr is None:
        raise Bad("a triggered depot needs trigger: {field, half_max, hill, rate | half_life} "
                  "(the field whose level raises the release rate, and the rate at full trigger)")
    unit = ctx.field_unit(tr.field, key=("trigger", "field"))
    half_max = converted(tr.half_max, U.concentration_kind(tr.field, unit),
                         key=("trigger", "half_max"), positive=True)
    if not (math.isfinite(tr.hill) and tr.hill > 0):
        raise Bad(f"hill must be a finite number > 0, got {tr.hill!r}", key=("trigger", "hill"))
    rate_max = _first_order_rate(tr, "trigger of a triggered", prefix=("trigger",))
    return DepotTrigger(tr.field, rate_max, half_max, float(tr.hill))


def load_depot(spec: DepotSpec, mask, model) -> None:
    """Start ``spec`` releasing over the voxels of ``mask`` (the field engine's depot)."""
    if spec.law == "triggered":
        tr = spec.trigger
        model.fields.add_triggered_depot(spec.field, mask, spec.amount, spec.rate, tr.field,
                                         tr.rate_max, tr.half_max, tr.hill)
        return
    model.fields.add_depot(spec.field, mask, spec.amount, spec.law, spec.rate)
