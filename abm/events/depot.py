"""The ``depot`` event: a field loaded into a region and released over time (a hydrogel,
a slow-release implant): ``depot: {field, region, amount, law, rate | half_life}``."""

from __future__ import annotations

from ..registry import EVENT_KINDS
from .base import EventKind
from .release import DepotSpec, ReleaseSchema, load_depot, resolve_depot

__all__ = ["DepotSpec", "DepotEvent"]


class DepotEvent(EventKind):
    """Load a depot; it releases with its law from then on."""

    name = "depot"
    schema = ReleaseSchema

    def resolve(self, raw, ctx) -> DepotSpec:
        return resolve_depot(raw, ctx, in_injury=False)

    def describe(self, spec) -> str:
        return f"{spec.field} {spec.law} into {spec.region.describe()}"

    def fire(self, spec, model, ctx) -> None:
        load_depot(spec, ctx.mask(spec.region), model)
        ctx.log.info("t = %g min: depot of %s", model.time, spec.field)


EVENT_KINDS.register(DepotEvent(), builtin=True)
