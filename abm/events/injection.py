"""The ``injection`` event: transplanted cells delivered by a route, as a mechanism.

``injection: {cell_type, dose, route, target, bbb_open, species, brain_volume,
delivered_fraction, arrival_half_time, state | states, values}``.

The route (:data:`abm.registry.ROUTES`, :mod:`abm.biology.delivery`) says how many of
the ``dose`` cells reach the simulated tissue, when, and where: an intravenous dose
meets the lungs first and then the brain's share of the blood, an intracarotid one
passes through the carotid territory first, both enter only where the blood-brain
barrier is open (``bbb_open`` labels, within ``target``) and arrive first-order over
hours; a stereotactic (intracerebral, intralesional) dose goes into ``target`` at once,
less a reflux loss. ``delivered_fraction`` overrides the mechanism (the given fraction,
placed at once unless ``arrival_half_time`` is given). ``abm validate`` shows the
factors, the delivered count and its time course.

Cells arriving over time become several timeline placements (:meth:`InjectionEvent.timeline`:
the resolver puts each on the timeline as an event of its own), so the runner fires
them in order and a checkpoint's count of fired events is all a resume needs.

``states: {A: 0.41, B: 0.59}`` gives each placed cell state A or B with those
probabilities, drawn from the counter-based generator keyed by (run seed, cell id).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np
from pydantic import Field

from kernels import rng as R

from ..biology.delivery import Delivery, Factor, arrival_schedule
from ..errors import ModelInputError
from ..regions import Region
from ..registry import EVENT_KINDS
from ..scenario.problems import Bad
from ..scenario.quantities import Count, NonNegTime, PosNumber, Raw, RegionRef, SchemaModel, Unit01
from .base import EventKind
from .delivery_route import (
    bbb_labels,
    body_for,
    entry_mask,
    entry_room,
    entry_volume,
    route_named,
)

__all__ = ["InjectionSpec", "InjectionEvent", "STATES_PURPOSE", "draw_states"]

#: Purpose (:func:`kernels.rng.uniform`) of the per-cell state draw at injection.
STATES_PURPOSE = 1001



class _Schema(SchemaModel):
    cell_type: str
    dose: Count
    route: str
    target: RegionRef
    bbb_open: Optional[list[str]] = None
    species: str = "rat"
    brain_volume: Optional[Raw] = None
    delivered_fraction: Optional[PosNumber] = None
    arrival_half_time: Optional[NonNegTime] = None
    state: Optional[str] = None
    states: dict[str, Unit01] = Field(default_factory=dict)
    values: dict[str, Unit01] = Field(default_factory=dict)


@dataclass(frozen=True)
class InjectionSpec:
    """Transplanted cells, one placement of a dose.

    Attributes
    ----------
    cell_type : str
    dose : float
        Cells injected.
    route : str
    delivery : Delivery
        The factors of the delivered fraction and the arrival half-time (min).
    target : Region
    bbb_open : tuple of str
        Labels cells may enter (empty: anywhere in ``target``).
    state : str or None
    states : tuple of (str, float)
        State fractions (sum 1), drawn per cell; empty: ``state`` for all.
    values : dict
    n_total : int
        Cells delivered by the whole dose: ``round(dose × fraction)``.
    part, parts : int
        This placement's index among the dose's placements, and their number.
    n_cells : int
        Cells this placement places.
    delay : float
        Its delay after the injection, min.
    """

    cell_type: str
    dose: float
    route: str
    delivery: Delivery
    target: Region
    bbb_open: tuple = ()
    state: str | None = None
    states: tuple = ()
    values: dict = field(default_factory=dict)
    n_total: int = 0
    part: int = 0
    parts: int = 1
    n_cells: int = 0
    delay: float = 0.0

    @property
    def delivered_fraction(self) -> float:
        """The fraction of the dose delivered (the product of the route's factors)."""
        return self.delivery.fraction


def _check_states(cls, raw) -> tuple:
    if not raw.states:
        return ()
    if raw.state is not None:
        raise Bad("give either state (one state for every cell) or states (fractions), not "
                  "both", key="states")
    for s in raw.states:
        if s not in cls.states:
            raise Bad(f"{cls.cell_type} has no state '{s}'; states: "
                      f"{', '.join(cls.states) or 'none'}", key=("states", s))
    total = sum(raw.states.values())
    if abs(total - 1.0) > 1e-6:
        raise Bad(f"state fractions must add up to 1, they add up to {total:g}; e.g. "
                  "states: {BDNF_positive: 0.41, BDNF_negative: 0.59}", key="states")
    return tuple((s, float(f)) for s, f in raw.states.items())


def draw_states(seed: int, ids, states) -> np.ndarray:
    """A state name per cell id, with the probabilities of ``states`` ((name, fraction) pairs).

    A pure function of (run seed, cell id): cell ``i`` takes the first state whose
    cumulative fraction exceeds ``uniform(seed, 0, id_i, STATES_PURPOSE)``.
    """
    names = np.asarray([s for s, _ in states], dtype=object)
    cum = np.cumsum([f for _, f in states])
    u = R.uniform(np, int(seed), 0, np.asarray(ids, np.int64), STATES_PURPOSE)
    k = np.minimum(np.searchsorted(cum, u, side="right"), len(names) - 1)
    return names[k]


class InjectionEvent(EventKind):
    """Cells delivered by a route: how many, when and where come from its mechanism."""

    name = "injection"
    schema = _Schema

    def resolve(self, raw, ctx) -> InjectionSpec:
        """The spec of the whole dose from its validated mapping (:meth:`EventKind.resolve`).

        Uses ``ctx.event_time`` (min) and ``ctx.labels_at`` for the volume a blood-borne
        dose can enter at that time.
        """
        cls = ctx.cell_type(raw.cell_type)
        ctx.check_state_values(cls, raw.state, raw.values)
        states = _check_states(cls, raw)
        route = route_named(raw.route)
        body = body_for(raw)
        target = ctx.sub(("target",), ctx.region, raw.target)
        frac = raw.delivered_fraction
        if frac is not None:
            if frac > 1:
                raise Bad(f"must be <= 1, got {frac:g}", key="delivered_fraction")
            names = bbb_labels(raw, ctx, route) if raw.bbb_open else ()
            delivery = Delivery(route.name, ((Factor("delivered_fraction (given)", frac),),),
                                override=True)
        else:
            names = bbb_labels(raw, ctx, route)
            vol = entry_volume(ctx, target, names) if route.needs_entry else 0.0
            if route.needs_entry and vol == 0:
                ctx.warnings.append(
                    f"the {route.name} injection at {ctx.event_time:g} min finds no voxel of "
                    f"{target.describe()} labelled {', '.join(names)} at that time, so it "
                    "delivers 0 cells; an injury that paints those labels must come first")
            delivery = route.cells(body, vol)
        if raw.arrival_half_time is not None:
            delivery = replace(delivery, half_time=raw.arrival_half_time or None)
        n_total = int(round(raw.dose * delivery.fraction))
        if names and n_total > 0:
            room = entry_room(ctx, target, names)
            if room is not None and n_total > room:
                raise Bad(f"{n_total} {cls.cell_type} cells cannot fit where they enter (the "
                          f"voxels of {target.describe()} labelled {', '.join(names)}): they "
                          f"hold at most {room}; lower the dose, widen bbb_open or raise the "
                          "capacity")
        return InjectionSpec(cls.cell_type, raw.dose, route.name, delivery, target, names,
                             raw.state, states, dict(raw.values), n_total, 0, 1, n_total, 0.0)

    def timeline(self, spec) -> list:
        """The dose's placements as ``(delay in min, spec)`` pairs (one per arrival part)."""
        sched = arrival_schedule(spec.n_total, spec.delivery.half_time)
        # the first placement describes the whole dose; later ones that place nobody are left out
        sched = sched[:1] + [(t, n) for t, n in sched[1:] if n > 0]
        return [(t, replace(spec, part=k, parts=len(sched), n_cells=int(n), delay=float(t)))
                for k, (t, n) in enumerate(sched)]

    def describe(self, spec) -> str:
        """A short phrase for ``abm validate`` (:meth:`EventKind.describe`)."""
        where = spec.target.describe() + (f" where {' or '.join(spec.bbb_open)}"
                                          if spec.bbb_open else "")
        if spec.part > 0:
            return (f"arrival {spec.part + 1}/{spec.parts} ({spec.delay:g} min after the "
                    f"injection): {spec.n_cells} {spec.cell_type} into {where}")
        d = spec.delivery
        if d.fraction == 1.0 and not d.override:        # the whole dose, as given
            text = f"{spec.n_total} {spec.cell_type} ({spec.route}) into {where}"
        else:
            how = "delivered_fraction given" if d.override else "route mechanism"
            text = (f"{spec.n_total} {spec.cell_type} ({spec.route}, {how}: {spec.dose:g} cells "
                    f"× {d.explain()} = {spec.dose * d.fraction:.4g} cells) into {where}")
        if spec.parts > 1:
            text += (f", arriving first-order (half-time {d.half_time:g} min) in {spec.parts} "
                     f"placements until {self.timeline(spec)[-1][0]:g} min after the "
                     f"injection, the first ({spec.n_cells} cells) {spec.delay:g} min after it")
        if spec.states:
            text += "; states " + ", ".join(f"{s} {f:g}" for s, f in spec.states)
        return text

    def expected_cells(self, spec) -> int:
        """Cells this placement adds."""
        return int(spec.n_cells)

    def fire(self, spec, model, ctx) -> None:
        """Place this part's cells in the open voxels of the target (:meth:`EventKind.fire`)."""
        n = int(spec.n_cells)
        if n == 0:
            return
        mask = entry_mask(ctx, spec.target, spec.bbb_open)
        if spec.bbb_open and not mask.any():
            ctx.log.warning("t = %g min: %d %s cells (%s route) find no voxel labelled %s in "
                            "%s and are lost", model.time, n, spec.cell_type, spec.route,
                            ", ".join(spec.bbb_open), spec.target.describe())
            return
        values = dict(spec.values or {})
        if spec.state is not None:
            values["state"] = spec.state
        if spec.states:
            ids = np.arange(model._next_id, model._next_id + n, dtype=np.int64)
            values["state"] = draw_states(model.seed, ids, spec.states)
        try:
            model.seed_cells(spec.cell_type, n, region=mask, **values)
        except ModelInputError as exc:
            raise ModelInputError(f"injection of {spec.cell_type} at t = {ctx.time:g} min: {exc}; "
                                  "lower the dose or delivered_fraction, or widen the "
                                  "target") from None
        ctx.log.info("t = %g min: injected %d %s cells (%s route, placement %d/%d)", model.time,
                     n, spec.cell_type, spec.route, spec.part + 1, spec.parts)


EVENT_KINDS.register(InjectionEvent(), builtin=True)
