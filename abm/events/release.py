"""Depots: amounts of a field released over time.

A depot is an amount of a field loaded at a place and released over time (first-order or
at a constant rate). Used by the ``depot`` event and by an injury's ``release`` list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Optional

from .. import units as U
from ..regions import Region
from ..scenario.problems import Bad
from ..scenario.quantities import PosTime, Raw, RegionRef, SchemaModel, converted

__all__ = ["DepotSpec", "ReleaseSchema", "resolve_depot", "load_depot"]


class ReleaseSchema(SchemaModel):
    """``{field, region, amount, law, rate | half_life}``."""

    field: str
    region: Optional[RegionRef] = None
    amount: Raw
    law: Literal["first_order", "constant"]
    rate: Optional[Raw] = None
    half_life: Optional[PosTime] = None


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
    if d.law == "first_order":
        if (d.rate is None) == (d.half_life is None):
            raise Bad("a first_order depot needs exactly one of rate (1/time) and half_life",
                      key="rate" if d.rate is not None else None)
        if d.half_life is not None:
            rate = math.log(2) / d.half_life
        else:
            rate = converted(d.rate, U.RATE, key="rate", positive=True)
    else:
        if d.half_life is not None:
            raise Bad("a constant depot releases at a fixed rate (amount/time); half_life "
                      "applies to first_order only", key="half_life")
        if d.rate is None:
            raise Bad("a constant depot needs rate (amount per time, e.g. '1 ng/h')")
        rate = converted(d.rate, U.amount_rate_kind(d.field, unit), key="rate", positive=True)
    return DepotSpec(d.field, region, amount, d.law, rate)


def load_depot(spec: DepotSpec, mask, model) -> None:
    """Start ``spec`` releasing over the voxels of ``mask`` (the field engine's depot)."""
    model.fields.add_depot(spec.field, mask, spec.amount, spec.law, spec.rate)
