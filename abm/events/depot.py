"""The ``depot`` event.

A field loaded into a region and released over time (a hydrogel,
a slow-release implant): ``depot: {field, region, amount, law, rate | half_life}``.
"""

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
        """The spec of the event from its validated mapping (:meth:`EventKind.resolve`)."""
        return resolve_depot(raw, ctx, in_injury=False)

    def describe(self, spec) -> str:
        """A short phrase for ``abm validate`` (:meth:`EventKind.describe`)."""
        return f"{spec.field} {spec.law} into {spec.region.describe()}"

    def fire(self, spec, model, ctx) -> None:
        """Apply the event to the model now (:meth:`EventKind.fire`)."""
        load_depot(spec, ctx.mask(spec.region), model)
        ctx.log.info("t = %g min: depot of %s", model.time, spec.field)


EVENT_KINDS.register(DepotEvent(), builtin=True)
