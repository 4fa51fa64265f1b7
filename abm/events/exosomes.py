"""The ``exosomes`` event: a dose of vesicles in the units papers use, by a route.

``exosomes: {dose, route, target, field, particles_per_ug, bbb_open, species,
brain_volume}``. ``dose`` is vesicle protein (``100 ug``) or a particle count
(``1e10 particles``); protein becomes particles through ``particles_per_ug`` (default
the ``seeds/delivery.csv`` estimate). ``route: local`` puts the whole dose into
``target`` at once; ``route: intravenous`` delivers the brain's share of the blood
to the voxels of ``target`` with a ``bbb_open`` label
(:mod:`abm.biology.delivery.intravenous`), at once (vesicles leave the blood within
minutes). The particles are added to ``field`` (default ``exosome``, a particle
concentration such as 1e9 particles/mL) evenly over those voxels, as a bolus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .. import units as U
from ..biology.delivery import Delivery, particles_of
from ..regions import Region
from ..registry import EVENT_KINDS
from ..scenario.problems import Bad
from ..scenario.quantities import Raw, RegionRef, SchemaModel, converted
from .base import EventKind
from .delivery_route import bbb_labels, body_for, entry_mask, entry_volume, route_named

__all__ = ["ExosomeDoseSpec", "ExosomeDoseEvent", "PER_UG"]

#: Particles per µg of vesicle protein, internal unit 1/µg.
PER_UG = U.Kind("particles per ug of vesicle protein (e.g. '1e10 particles/ug')", "1/ug",
                "particles/ug")


class _Schema(SchemaModel):
    dose: Raw
    route: str
    target: RegionRef
    field: str = "exosome"
    particles_per_ug: Optional[Raw] = None
    bbb_open: Optional[list[str]] = None
    species: str = "rat"
    brain_volume: Optional[Raw] = None


@dataclass(frozen=True)
class ExosomeDoseSpec:
    """A vesicle dose delivered to a field.

    Attributes
    ----------
    field : str
    particles : float
        Particles given.
    counted : str
        How the particles were counted (``"100 ug × 1e+10 particles/ug"``).
    delivery : Delivery
    target : Region
    bbb_open : tuple of str
    amount : float
        Amount added to the field, field unit × µm³ (``particles × fraction`` converted).
    """

    field: str
    particles: float
    counted: str
    delivery: Delivery
    target: Region
    bbb_open: tuple
    amount: float

    @property
    def delivered_particles(self) -> float:
        """Particles that reach the simulated tissue."""
        return self.particles * self.delivery.fraction


class ExosomeDoseEvent(EventKind):
    """A dose of vesicles (µg of protein or particles), local or intravenous."""

    name = "exosomes"
    schema = _Schema

    def resolve(self, raw, ctx) -> ExosomeDoseSpec:
        """The spec of the event from its validated mapping (:meth:`EventKind.resolve`)."""
        unit = ctx.field_unit(raw.field)
        per = None
        if raw.particles_per_ug is not None:
            per = converted(raw.particles_per_ug, PER_UG, key="particles_per_ug", positive=True)
        try:
            particles, counted = particles_of(raw.dose, per)
        except U.UnitProblem as exc:
            raise Bad(str(exc), key="dose") from None
        try:
            per_particle = U.to_internal("1 particles", U.amount_kind(raw.field, unit))
        except U.UnitProblem:
            raise Bad(f"field '{raw.field}' is in {unit}, not a particle concentration: an "
                      "exosome dose goes into a field of particles (e.g. exosome, in 1e9 "
                      "particles/mL)", key="field") from None
        route = route_named(raw.route, vesicles=True)
        body = body_for(raw)
        target = ctx.sub(("target",), ctx.region, raw.target)
        names = bbb_labels(raw, ctx, route)
        vol = entry_volume(ctx, target, names) if route.needs_entry else 0.0
        if route.needs_entry and vol == 0:
            ctx.warnings.append(
                f"the {route.name} exosome dose at {ctx.event_time:g} min finds no voxel of "
                f"{target.describe()} labelled {', '.join(names)} at that time, so none "
                "reaches the tissue; an injury that paints those labels must come first")
        delivery = route.vesicle_delivery(body, vol)
        amount = particles * delivery.fraction * per_particle
        return ExosomeDoseSpec(raw.field, particles, counted, delivery, target, names, amount)

    def describe(self, spec) -> str:
        """A short phrase for ``abm validate`` (:meth:`EventKind.describe`)."""
        where = spec.target.describe() + (f" where {' or '.join(spec.bbb_open)}"
                                          if spec.bbb_open else "")
        return (f"{spec.delivered_particles:.3g} particles of {spec.field} ({spec.delivery.route}"
                f": {spec.counted} × {spec.delivery.explain()}) into {where}")

    def fire(self, spec, model, ctx) -> None:
        """Add the delivered particles to the field, evenly over the open voxels (:meth:`EventKind.fire`)."""
        mask = entry_mask(ctx, spec.target, spec.bbb_open)
        if not mask.any():
            ctx.log.warning("t = %g min: the exosome dose finds no voxel labelled %s in %s and "
                            "is lost", model.time, ", ".join(spec.bbb_open),
                            spec.target.describe())
            return
        model.fields.add_bolus(spec.field, mask, spec.amount)
        ctx.log.info("t = %g min: %.3g particles of %s (%s route)", model.time,
                     spec.delivered_particles, spec.field, spec.delivery.route)


EVENT_KINDS.register(ExosomeDoseEvent(), builtin=True)
