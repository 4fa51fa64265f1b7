"""The ``bolus`` event.

An amount of a field spread evenly over a region at once (an
injection of exosomes or a growth factor): ``bolus: {field, amount, region}``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import units as U
from ..regions import Region
from ..registry import EVENT_KINDS
from ..scenario.quantities import Raw, RegionRef, SchemaModel, converted
from .base import EventKind

__all__ = ["BolusSpec", "BolusEvent"]


class _Schema(SchemaModel):
    field: str
    amount: Raw
    region: RegionRef


@dataclass(frozen=True)
class BolusSpec:
    """An amount (field unit × µm³) spread evenly over ``region`` at once."""

    field: str
    amount: float
    region: Region


class BolusEvent(EventKind):
    """Add an amount to a field, evenly over a region."""

    name = "bolus"
    schema = _Schema

    def resolve(self, raw, ctx) -> BolusSpec:
        """The spec of the event from its validated mapping (:meth:`EventKind.resolve`)."""
        unit = ctx.field_unit(raw.field)
        amount = converted(raw.amount, U.amount_kind(raw.field, unit), key="amount")
        region = ctx.sub(("region",), ctx.region, raw.region)
        return BolusSpec(raw.field, amount, region)

    def describe(self, spec) -> str:
        """A short phrase for ``abm validate`` (:meth:`EventKind.describe`)."""
        return f"{spec.amount:g} {spec.field} into {spec.region.describe()}"

    def fire(self, spec, model, ctx) -> None:
        """Apply the event to the model now (:meth:`EventKind.fire`)."""
        model.fields.add_bolus(spec.field, ctx.mask(spec.region), spec.amount)
        ctx.log.info("t = %g min: bolus of %s", model.time, spec.field)


EVENT_KINDS.register(BolusEvent(), builtin=True)
