"""The ``exosomes`` event: a dose of vesicles in the units papers use, by a route.

``exosomes: {dose, route, target, field, particles_per_ug, bbb_open, species,
brain_volume, organ, into, marrow_volume, vesicles, marrow_factor, potency}``. ``dose`` is vesicle protein (``100 ug``) or a particle count
(``1e10 particles``); protein becomes particles through ``particles_per_ug`` (default
the ``seeds/delivery.csv`` estimate). ``route: local`` puts the whole dose into
``target`` at once; ``route: intravenous`` delivers the brain's share of the blood
to the voxels of ``target`` with a ``bbb_open`` label
(:mod:`abm.biology.delivery.intravenous`), at once (vesicles leave the blood within
minutes). The particles are added to ``field`` (default ``exosome``, a particle
concentration such as 1e9 particles/mL) evenly over those voxels, as a bolus.

``organ`` names the organ the simulated tissue belongs to: ``brain`` (the default: all
of the above) or ``bone_marrow``. To the marrow, ``intravenous`` and
``intraperitoneal`` doses deliver the marrow's share of a blood-borne dose in
proportion to the simulated marrow (the voxels of ``target`` labelled one of ``into``,
default ``[marrow]``) over the animal's whole marrow (``marrow_volume``, default by
``species``), times the ``vesicles`` preset's marrow factor (``native``,
``bone_targeted``, ...; ``marrow_factor`` and ``potency`` override it)
(:mod:`abm.biology.delivery.marrow`). A route with an arrival half-time
(``intraperitoneal``: absorption over hours) loads a first-order depot of the delivered
amount into those voxels instead of a bolus, so the dose arrives over time and all of
it arrives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Optional

from .. import units as U
from ..biology.delivery import (
    ORGANS,
    SPECIES,
    Delivery,
    Factor,
    Route,
    marrow_of,
    particles_of,
    vesicle_preset,
    vesicle_presets,
)
from ..regions import Region
from ..registry import EVENT_KINDS, ROUTES
from ..scenario.problems import Bad, choices, did_you_mean
from ..scenario.quantities import Raw, RegionRef, SchemaModel, converted
from .base import EventKind
from .delivery_route import (
    VOLUME,
    bbb_labels,
    body_for,
    entry_mask,
    entry_volume,
    route_named,
)

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
    organ: str = "brain"
    into: Optional[list[str]] = None
    marrow_volume: Optional[Raw] = None
    vesicles: str = "native"
    marrow_factor: Optional[float] = None
    potency: Optional[float] = None


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
    organ : {"brain", "bone_marrow"}
    vesicles : str
        The vesicle preset.

    ``bbb_open`` holds the entry labels of either organ (``into`` for the marrow).
    """

    field: str
    particles: float
    counted: str
    delivery: Delivery
    target: Region
    bbb_open: tuple
    amount: float
    organ: str = "brain"
    vesicles: str = "native"

    @property
    def delivered_particles(self) -> float:
        """Particles that reach the simulated tissue."""
        return self.particles * self.delivery.fraction


def vesicle_dose(raw, ctx, what: str):
    """A vesicle dose (``raw.dose``, ``raw.particles_per_ug``, ``raw.field``) in particles.

    Shared by the ``exosomes`` and ``hydrogel`` events.

    Returns
    -------
    tuple
        The field's unit, the particles given, how they were counted (text) and one
        particle as an amount of the field (field unit × µm³).

    Raises
    ------
    Bad
        A dose that is neither protein nor particles, a bad ``particles_per_ug``, or a field
        that is not a particle concentration (``what`` names the dose in the message).
    """
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
        raise Bad(f"field '{raw.field}' is in {unit}, not a particle concentration: {what} "
                  "goes into a field of particles (e.g. exosome, in 1e9 particles/mL)",
                  key="field") from None
    return unit, particles, counted, per_particle


class ExosomeDoseEvent(EventKind):
    """A dose of vesicles (µg of protein or particles), local or intravenous."""

    name = "exosomes"
    schema = _Schema

    def resolve(self, raw, ctx) -> ExosomeDoseSpec:
        """The spec of the event from its validated mapping (:meth:`EventKind.resolve`)."""
        unit, particles, counted, per_particle = vesicle_dose(raw, ctx, "an exosome dose")
        route = route_named(raw.route, vesicles=True)
        if raw.organ not in ORGANS:
            raise Bad(f"unknown organ '{raw.organ}'{did_you_mean(raw.organ, ORGANS)}; organs: "
                      f"{choices(ORGANS)}", key="organ")
        preset = _preset(raw)
        target = ctx.sub(("target",), ctx.region, raw.target)
        if raw.organ == "bone_marrow":
            return self._to_marrow(raw, ctx, route, preset, target, particles, counted,
                                   per_particle)
        for key in ("into", "marrow_volume", "marrow_factor"):
            if getattr(raw, key) is not None:
                raise Bad(f"{key} applies to organ: bone_marrow only (this dose goes to the "
                          "brain; for the brain give bbb_open)", key=key)
        body = body_for(raw)
        names = bbb_labels(raw, ctx, route)
        vol = entry_volume(ctx, target, names) if route.needs_entry else 0.0
        if route.needs_entry and vol == 0:
            ctx.warnings.append(
                f"the {route.name} exosome dose at {ctx.event_time:g} min finds no voxel of "
                f"{target.describe()} labelled {', '.join(names)} at that time, so none "
                "reaches the tissue; an injury that paints those labels must come first")
        delivery = _with_potency(route.vesicle_delivery(body, vol), preset)
        amount = particles * delivery.fraction * per_particle
        return ExosomeDoseSpec(raw.field, particles, counted, delivery, target, names, amount,
                               "brain", preset.name)

    def _to_marrow(self, raw, ctx, route, preset, target, particles, counted, per_particle):
        if raw.bbb_open is not None:
            raise Bad("bbb_open applies to the brain; a dose to organ: bone_marrow enters the "
                      "voxels labelled one of into (default [marrow])", key="bbb_open")
        if raw.brain_volume is not None:
            raise Bad("brain_volume applies to the brain; for organ: bone_marrow give "
                      "marrow_volume (the whole skeleton's marrow)", key="brain_volume")
        if raw.species not in SPECIES:
            raise Bad(f"unknown species '{raw.species}'{did_you_mean(raw.species, SPECIES)}; "
                      f"presets: {choices(SPECIES)} (give marrow_volume for another animal)",
                      key="species")
        names = _marrow_labels(raw, ctx)
        vol = None
        if raw.marrow_volume is not None:
            vol = converted(raw.marrow_volume, VOLUME, key="marrow_volume", positive=True)
        marrow = marrow_of(raw.species, vol)
        entry = entry_volume(ctx, target, names) if route.needs_entry else 0.0
        delivery = route.marrow_delivery(marrow, entry, preset)
        if delivery is None:
            offered = [n for n in ROUTES.names()
                       if ROUTES.get(n).vesicles and
                       type(ROUTES.get(n)).marrow_delivery is not Route.marrow_delivery]
            raise Bad(f"route '{route.name}' does not deliver to organ: bone_marrow; routes to "
                      f"the marrow: {choices(offered)}", key="route")
        if route.needs_entry and entry == 0:
            ctx.warnings.append(
                f"the {route.name} exosome dose at {ctx.event_time:g} min finds no voxel of "
                f"{target.describe()} labelled {', '.join(names)}, so none reaches the marrow")
        amount = particles * delivery.fraction * per_particle
        return ExosomeDoseSpec(raw.field, particles, counted, delivery, target,
                               names if route.needs_entry else (), amount, "bone_marrow",
                               preset.name)

    def describe(self, spec) -> str:
        """A short phrase for ``abm validate`` (:meth:`EventKind.describe`)."""
        where = spec.target.describe() + (f" where {' or '.join(spec.bbb_open)}"
                                          if spec.bbb_open else "")
        organ = " (bone marrow)" if spec.organ == "bone_marrow" else ""
        vesicles = f" {spec.vesicles}" if spec.vesicles != "native" else ""
        when = (f", arriving first-order with half-time {spec.delivery.half_time / 60:g} h"
                if spec.delivery.half_time else "")
        return (f"{spec.delivered_particles:.3g} particles of{vesicles} {spec.field} "
                f"({spec.delivery.route}{organ}: {spec.counted} × {spec.delivery.explain()}) "
                f"into {where}{when}")

    def fire(self, spec, model, ctx) -> None:
        """Add the delivered particles to the field, evenly over the open voxels (:meth:`EventKind.fire`)."""
        mask = entry_mask(ctx, spec.target, spec.bbb_open)
        if not mask.any():
            ctx.log.warning("t = %g min: the exosome dose finds no voxel labelled %s in %s and "
                            "is lost", model.time, ", ".join(spec.bbb_open),
                            spec.target.describe())
            return
        half = spec.delivery.half_time
        if half:
            model.fields.add_depot(spec.field, mask, spec.amount, "first_order",
                                   math.log(2.0) / half)
            ctx.log.info("t = %g min: %.3g particles of %s (%s route) arriving with half-time "
                         "%g min", model.time, spec.delivered_particles, spec.field,
                         spec.delivery.route, half)
            return
        model.fields.add_bolus(spec.field, mask, spec.amount)
        ctx.log.info("t = %g min: %.3g particles of %s (%s route)", model.time,
                     spec.delivered_particles, spec.field, spec.delivery.route)


def _preset(raw):
    """The event's vesicle preset with its overrides (Bad if unknown or not > 0)."""
    names = vesicle_presets()
    if raw.vesicles not in names:
        raise Bad(f"unknown vesicles '{raw.vesicles}'{did_you_mean(raw.vesicles, names)}; "
                  f"presets: {choices(names)} (rows vesicles:<name>:marrow_factor and "
                  "vesicles:<name>:potency in seeds/delivery.csv)", key="vesicles")
    for key in ("marrow_factor", "potency"):
        v = getattr(raw, key)
        if v is not None and not (math.isfinite(v) and v > 0):
            raise Bad(f"{key} must be a finite number > 0, got {v!r}", key=key)
    return vesicle_preset(raw.vesicles, raw.marrow_factor, raw.potency)


def _with_potency(delivery: Delivery, preset) -> Delivery:
    """``delivery`` with the preset's potency as one more factor (unchanged when it is 1)."""
    if preset.potency == 1:
        return delivery
    terms = tuple(t + (Factor(f"potency ({preset.name})", preset.potency),)
                  for t in delivery.terms)
    return replace(delivery, terms=terms)


def _marrow_labels(raw, ctx) -> tuple:
    """The entry labels of a dose to the marrow (``into``, default ``[marrow]``), checked."""
    names = tuple(raw.into) if raw.into is not None else ("marrow",)
    if not names:
        raise Bad("into needs at least one tissue label (e.g. into: [marrow])", key="into")
    for k, n in enumerate(names):
        if n not in ctx.tissue_names:
            where = ("into", k) if raw.into is not None else "organ"
            hint = "" if raw.into is not None else (
                " (a dose to organ: bone_marrow enters the voxels labelled marrow; label the "
                "marrow or name its labels in into)")
            raise Bad(f"unknown tissue label '{n}'{did_you_mean(n, ctx.tissue_names)}{hint}; "
                      f"labels: {choices(ctx.tissue_names)}", key=where)
    return names


EVENT_KINDS.register(ExosomeDoseEvent(), builtin=True)
