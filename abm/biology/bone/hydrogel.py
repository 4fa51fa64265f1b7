"""The ``hydrogel`` event: an exosome-loaded hydrogel placed in a region (seed 001).

``hydrogel: {gel, dose, region, field, particles_per_ug, vesicles, potency, ...}`` puts a
gel holding ``dose`` (µg of vesicle protein or particles, as for the ``exosomes`` event)
into ``region`` (a bone defect, say); it releases into ``field`` (default ``exosome``)
over the permeable voxels of the region with the law of its kind. The kinds are the three
that seed 001_70475427c1d3b693.txt describes, each a preset of ``seeds/delivery.csv``
rows ``gel:<kind>:<parameter>``, every one of which the event can override:

``thermosensitive`` (e.g. PLGA-PEG-PLGA: injected as a liquid, gels at body temperature)
    A burst then sustained release, as two first-order parts: a share ``burst_fraction``
    with half-time ``burst_half_time`` (released before the network has closed and from
    the surface) and the rest with half-time ``half_time``. Released by time ``t``::

        F(t) = b (1 - exp(-ln2 t / t_b)) + (1 - b) (1 - exp(-ln2 t / t_s))

``photocrosslinked`` (e.g. GelMA: cured by light, degradation set by crosslinking)
    Degradation-controlled: a constant rate until the gel is gone after ``duration``
    (zero order): ``F(t) = min(t / T, 1)``.

``pH_responsive`` (dynamic Schiff-base bonds that break in weak acid)
    First-order at a rate that rises with the local excess acidity (the ``trigger`` field,
    default ``H+``: excess H+ over pH 7.4, nM) by a Hill function, from ``ln2 /
    neutral_half_time`` at pH 7.4 to ``ln2 / acid_half_time`` in strong acid, halfway at
    ``half_max`` with power ``hill``; each voxel of the gel releases at its own acidity.
    At a constant excess ``c``: ``F(t) = 1 - exp(-k(c) t)``. The acid comes from the cells
    of scenarios that opt into ``seeds/rules/macrophage_acidification.csv`` (M1 macrophages)
    and ``osteoclast_acidification.csv`` (osteoclasts on bone); without them H+ stays 0 and
    the gel releases at its neutral rate.

All three are built on the field engine's generic depot laws (``first_order``,
``constant``, and the triggered first-order depot of
:meth:`abm.fields.FieldSolver.add_triggered_depot`), which release exactly the load:
what is in the field, plus what decayed, plus what is left in the gel, is the dose.
A single bolus of the same dose for comparison is ``exosomes: {route: local, ...}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ... import units as U
from ...biology.delivery import vesicle_preset, vesicle_presets
from ...biology.delivery.parameters import parameter
from ...events.base import EventKind
from ...events.exosomes import vesicle_dose
from ...fields.sources import hill_rate
from ...regions import Region
from ...registry import EVENT_KINDS
from ...scenario.problems import Bad, choices, did_you_mean
from ...scenario.quantities import PosTime, Raw, RegionRef, SchemaModel

__all__ = ["GELS", "GEL_PARAMETERS", "ReleasePart", "Trigger", "HydrogelSpec", "HydrogelEvent",
           "released_fraction"]

#: Gel kinds, each with its rows ``gel:<kind>:<parameter>`` in seeds/delivery.csv.
GELS = ("thermosensitive", "photocrosslinked", "pH_responsive")

#: The parameters of each gel kind (the event may override each).
GEL_PARAMETERS = {
    "thermosensitive": ("burst_fraction", "burst_half_time", "half_time"),
    "photocrosslinked": ("duration",),
    "pH_responsive": ("neutral_half_time", "acid_half_time", "half_max", "hill"),
}


class _Schema(SchemaModel):
    gel: str
    dose: Raw
    region: RegionRef
    field: str = "exosome"
    particles_per_ug: Optional[Raw] = None
    vesicles: str = "native"
    potency: Optional[float] = None
    burst_fraction: Optional[float] = None
    burst_half_time: Optional[PosTime] = None
    half_time: Optional[PosTime] = None
    duration: Optional[PosTime] = None
    neutral_half_time: Optional[PosTime] = None
    acid_half_time: Optional[PosTime] = None
    half_max: Optional[Raw] = None
    hill: Optional[float] = None
    trigger: str = "H+"


@dataclass(frozen=True)
class ReleasePart:
    """A part of the load released by one engine law.

    Attributes
    ----------
    law : {"first_order", "constant"}
    amount : float
        Field unit × µm³.
    rate : float
        1/min (first order) or amount/min (constant).
    """

    law: str
    amount: float
    rate: float


@dataclass(frozen=True)
class Trigger:
    """The acid trigger of a pH-responsive gel.

    Attributes
    ----------
    field : str
        The trigger field (``H+``).
    rate, rate_max : float
        First-order release rate at trigger level 0 and at full trigger, 1/min.
    half_max : float
        Trigger level of half the rise, in the trigger field's unit.
    hill : float
    """

    field: str
    rate: float
    rate_max: float
    half_max: float
    hill: float


@dataclass(frozen=True)
class HydrogelSpec:
    """A loaded gel and how it releases.

    Attributes
    ----------
    field : str
    gel : str
        One of :data:`GELS`.
    particles : float
        Particles loaded (times the vesicles' potency: native-particle equivalents).
    counted : str
        How the particles were counted.
    amount : float
        Load, field unit × µm³.
    region : Region
    parts : tuple of ReleasePart
        Thermosensitive and photo-crosslinked gels.
    trigger : Trigger or None
        pH-responsive gels.
    """

    field: str
    gel: str
    particles: float
    counted: str
    amount: float
    region: Region
    parts: tuple = ()
    trigger: Trigger | None = None


def released_fraction(spec: HydrogelSpec, t, level: float = 0.0):
    """Fraction of the load released by ``t`` minutes after the gel is placed (analytic).

    Parameters
    ----------
    spec : HydrogelSpec
    t : float or ndarray
        Minutes since the gel was placed (>= 0).
    level : float
        For a pH-responsive gel: the trigger field's level, held constant (its unit).

    Returns
    -------
    float or ndarray
        The released fraction, 0-1.
    """
    t = np.asarray(t, dtype=np.float64)
    if spec.trigger is not None:
        tr = spec.trigger
        k = hill_rate(level, tr.rate, tr.rate_max, tr.half_max, tr.hill)
        return -np.expm1(-k * t)
    out = np.zeros_like(t)
    for p in spec.parts:
        if p.law == "first_order":
            out = out + p.amount * -np.expm1(-p.rate * t)
        else:
            out = out + np.minimum(p.rate * t, p.amount)
    return out / spec.amount if spec.amount > 0 else out


def _value(raw, key: str, gel: str) -> float:
    """The gel parameter ``key``: the event's override or the seeds row (internal units)."""
    given = getattr(raw, key)
    if given is None:
        return parameter(f"gel:{gel}:{key}")
    return given


class HydrogelEvent(EventKind):
    """An exosome-loaded hydrogel (thermosensitive, photo-crosslinked or pH-responsive)."""

    name = "hydrogel"
    schema = _Schema

    def resolve(self, raw, ctx) -> HydrogelSpec:
        """The spec of the event from its validated mapping (:meth:`EventKind.resolve`)."""
        if raw.gel not in GELS:
            raise Bad(f"unknown gel '{raw.gel}'{did_you_mean(raw.gel, GELS)}; gels: "
                      f"{choices(GELS)}", key="gel")
        for other, keys in GEL_PARAMETERS.items():
            for key in keys:
                if other != raw.gel and key not in GEL_PARAMETERS[raw.gel] \
                        and getattr(raw, key) is not None:
                    raise Bad(f"{key} applies to gel: {other}, not to a {raw.gel} gel (its "
                              f"parameters: {', '.join(GEL_PARAMETERS[raw.gel])})", key=key)
        unit, particles, counted, per_particle = vesicle_dose(raw, ctx, "a gel dose of vesicles")
        presets = vesicle_presets()
        if raw.vesicles not in presets:
            raise Bad(f"unknown vesicles '{raw.vesicles}'{did_you_mean(raw.vesicles, presets)};"
                      f" presets: {choices(presets)}", key="vesicles")
        if raw.potency is not None and not (math.isfinite(raw.potency) and raw.potency > 0):
            raise Bad(f"potency must be a finite number > 0, got {raw.potency!r}", key="potency")
        potency = vesicle_preset(raw.vesicles, potency=raw.potency).potency
        if potency != 1:
            particles *= potency
            counted += f" × {potency:g} potency"
        amount = particles * per_particle
        region = ctx.sub(("region",), ctx.region, raw.region)
        if raw.gel == "thermosensitive":
            b = _value(raw, "burst_fraction", raw.gel)
            if not (math.isfinite(b) and 0 <= b <= 1):
                raise Bad(f"burst_fraction must lie in 0-1, got {b!r}", key="burst_fraction")
            tb, ts = _value(raw, "burst_half_time", raw.gel), _value(raw, "half_time", raw.gel)
            parts = (ReleasePart("first_order", b * amount, math.log(2) / tb),
                     ReleasePart("first_order", (1 - b) * amount, math.log(2) / ts))
            return HydrogelSpec(raw.field, raw.gel, particles, counted, amount, region, parts)
        if raw.gel == "photocrosslinked":
            dur = _value(raw, "duration", raw.gel)
            return HydrogelSpec(raw.field, raw.gel, particles, counted, amount, region,
                                (ReleasePart("constant", amount, amount / dur),))
        return HydrogelSpec(raw.field, raw.gel, particles, counted, amount, region,
                            trigger=self._trigger(raw, ctx))

    @staticmethod
    def _trigger(raw, ctx) -> Trigger:
        if raw.trigger not in ctx.field_units:
            raise Bad(f"a pH_responsive gel releases where the tissue is acid, read from the "
                      f"field '{raw.trigger}', which the scenario does not declare; add it under "
                      f"fields (e.g. 'H+: {{}}' for the seeds/fields.csv row: excess H+ over pH "
                      f"7.4, nM) or name another field in trigger; fields: "
                      f"{choices(list(ctx.field_units))}", key="trigger")
        t_unit = ctx.field_unit(raw.trigger)
        given = raw.half_max if raw.half_max is not None else \
            f"{parameter('gel:pH_responsive:half_max')} nM"
        try:
            half_max = U.to_internal(given, U.concentration_kind(raw.trigger, t_unit),
                                     positive=True)
        except U.UnitProblem as exc:
            raise Bad(f"half_max must be a level of the trigger field '{raw.trigger}' (in "
                      f"{t_unit}): {exc}", key="half_max") from None
        hill = _value(raw, "hill", "pH_responsive")
        if not (math.isfinite(hill) and hill > 0):
            raise Bad(f"hill must be a finite number > 0, got {hill!r}", key="hill")
        tn = _value(raw, "neutral_half_time", "pH_responsive")
        ta = _value(raw, "acid_half_time", "pH_responsive")
        return Trigger(raw.trigger, math.log(2) / tn, math.log(2) / ta, half_max, float(hill))

    def describe(self, spec) -> str:
        """A short phrase for ``abm validate`` (:meth:`EventKind.describe`)."""
        head = (f"{spec.particles:.3g} particles of {spec.field} ({spec.counted}) in a "
                f"{spec.gel} gel in {spec.region.describe()}: ")
        if spec.trigger is not None:
            tr = spec.trigger
            return head + (f"first-order, half-time {math.log(2) / tr.rate / 1440:g} d at "
                           f"{tr.field} 0 to {math.log(2) / tr.rate_max / 1440:g} d in acid "
                           f"(half-way at {tr.field} {tr.half_max:g}, Hill {tr.hill:g})")
        if spec.gel == "photocrosslinked":
            return head + f"constant rate until gone after {spec.amount / spec.parts[0].rate / 1440:g} d"
        b, s = spec.parts
        frac = b.amount / spec.amount if spec.amount else 0.0
        return head + (f"{100 * frac:g}% burst (half-time {math.log(2) / b.rate / 60:g} h), "
                       f"the rest first-order (half-time {math.log(2) / s.rate / 1440:g} d)")

    def fire(self, spec, model, ctx) -> None:
        """Place the gel: load its depots over the region's voxels (:meth:`EventKind.fire`)."""
        mask = ctx.mask(spec.region)
        if spec.trigger is not None:
            tr = spec.trigger
            model.fields.add_triggered_depot(spec.field, mask, spec.amount, tr.rate, tr.field,
                                             tr.rate_max, tr.half_max, tr.hill)
        else:
            for p in spec.parts:
                if p.amount > 0:
                    model.fields.add_depot(spec.field, mask, p.amount, p.law, p.rate)
        ctx.log.info("t = %g min: %s gel with %.3g particles of %s", model.time, spec.gel,
                     spec.particles, spec.field)


EVENT_KINDS.register(HydrogelEvent(), builtin=True)
