"""The ``depot`` event.

A field loaded into a region and released over time (a hydrogel,
a slow-release implant): ``depot: {field, region, amount, law, rate | half_life,
trigger}``; ``law: triggered`` releases first-order at a rate that another field's local
level raises (``trigger: {field, half_max, hill, rate | half_life}``, :mod:`.release`).
"""

from __future__ import annotations

import math

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
        text = f"{spec.field} {spec.law} into {spec.region.describe()}"
        if spec.trigger is not None:
            tr = spec.trigger
            text += (f" (half-life {math.log(2) / spec.rate:g} min at {tr.field} 0 to "
                     f"{math.log(2) / tr.rate_max:g} min at full trigger, half-way at "
                     f"{tr.field} {tr.half_max:g}, Hill {tr.hill:g})")
        return text

    def fire(self, spec, model, ctx) -> None:
        """Apply the event to the model now (:meth:`EventKind.fire`)."""
        load_depot(spec, ctx.mask(spec.region), model)
        ctx.log.info("t = %g min: depot of %s", model.time, spec.field)


EVENT_KINDS.register(DepotEvent(), builtin=True)
