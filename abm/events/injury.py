"""The ``injury`` event.

Tissue label ``label`` painted over ``region`` (a stroke core, a
contusion, a bone defect), optionally with damage depots that start releasing at once:
``injury: {region, label, release: [depot without region, ...]}``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from ..regions import Region
from ..registry import EVENT_KINDS
from ..scenario.problems import Bad, did_you_mean
from ..scenario.quantities import RegionRef, SchemaModel
from .base import EventKind
from .release import ReleaseSchema, load_depot, resolve_depot

__all__ = ["InjurySpec", "InjuryEvent"]


class _Schema(SchemaModel):
    region: RegionRef
    label: str
    release: list[ReleaseSchema] = Field(default_factory=list)


@dataclass(frozen=True)
class InjurySpec:
    """Paint tissue label ``label`` over ``region`` and start ``release`` depots."""

    region: Region
    label: str
    release: list


class InjuryEvent(EventKind):
    """Relabel tissue (its diffusion, decay and capacity change at once) and load depots."""

    name = "injury"
    schema = _Schema

    def resolve(self, raw, ctx) -> InjurySpec:
        """The spec of the event from its validated mapping (:meth:`EventKind.resolve`)."""
        if raw.label not in ctx.tissue_names:
            raise Bad(f"unknown tissue label '{raw.label}'"
                      f"{did_you_mean(raw.label, ctx.tissue_names)}; declare it under "
                      f"tissue.labels (initially: false if only the injury paints it)",
                      key="label")
        region = ctx.sub(("region",), ctx.region, raw.region)
        rel = [ctx.sub(("release", k), resolve_depot, d, ctx, in_injury=True)
               for k, d in enumerate(raw.release)]
        return InjurySpec(region, raw.label, rel)

    def describe(self, spec) -> str:
        """A short phrase for ``abm validate`` (:meth:`EventKind.describe`)."""
        return f"'{spec.label}' over {spec.region.describe()}"

    def fire(self, spec, model, ctx) -> None:
        """Apply the event to the model now (:meth:`EventKind.fire`)."""
        mask = ctx.mask(spec.region)
        lab = ctx.labels().copy()
        lab[mask] = model.tissue_names.index(spec.label)
        model.set_tissue(lab)  # capacities follow the labels (the model's label_capacity)
        for d in spec.release:
            load_depot(d, mask if d.region is None else ctx.mask(d.region), model)
        ctx.log.info("t = %g min: injury, %d voxels become %s", model.time, int(mask.sum()),
                     spec.label)


EVENT_KINDS.register(InjuryEvent(), builtin=True)
