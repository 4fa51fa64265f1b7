"""Checks of what a scenario will do, made before anything runs.

The clock (dt against the duration), events that would never happen, and injections whose
cells cannot fit in their target. A certain failure is a problem reported at its line
(:class:`~abm.scenario.problems.Bad`); suspicious but legal input (a duration that is not a
whole number of steps, an event at or after the end, a dose of 0 as a vehicle control,
recording intervals longer than the run) is a warning, printed by ``abm validate`` and
``abm run`` and listed in the summary.
"""

from __future__ import annotations

import math

import numpy as np

from .problems import Bad

__all__ = ["check_clock", "check_event", "check_outputs", "minutes"]

_EPS = 1e-9


def minutes(t: float) -> str:
    """``"180 min (3 h)"``-style text for a time in minutes."""
    if t >= 120 and abs(t / 60 - round(t / 60, 3)) < 1e-9:
        return f"{t:g} min ({t / 60:g} h)"
    return f"{t:g} min"


def check_clock(duration: float, dt: float, warnings: list) -> int:
    """Number of steps of ``dt`` (min) covering ``duration`` (min); Bad if none fits.

    Raises
    ------
    Bad
        ``dt`` longer than the duration (the run would simulate a whole step past it).
    """
    if dt > duration * (1 + _EPS):
        raise Bad(f"dt ({minutes(dt)}) is longer than the duration ({minutes(duration)}): the run "
                  f"would simulate one step of {minutes(dt)}, past the end, and events in between "
                  f"would never fire; make dt at most the duration (e.g. dt: "
                  f"{_divisor(duration):g} min)", key="dt")
    n = int(round(duration / dt))
    if abs(n * dt - duration) > 1e-6 * duration:
        warnings.append(f"domain.duration ({minutes(duration)}) is not a whole number of steps of "
                        f"dt ({minutes(dt)}): {n} steps simulate {minutes(n * dt)}; choose a dt "
                        "that divides the duration to simulate it exactly")
    return n


def _divisor(duration: float) -> float:
    """A round dt (min) that divides ``duration``: 1 min if it is whole, else the duration."""
    return 1.0 if abs(duration - round(duration)) < 1e-9 and duration >= 1 else duration


def check_event(ctx, ev, kind, warnings: list) -> None:
    """Refuse an event whose cells cannot fit; warn about one that never happens or a dose of 0.

    An event at or after the end is legal (a short trial run of a long scenario, a run
    cut short by ``--until``) but never happens, so it is a warning.

    Parameters
    ----------
    ctx : Resolver
        Gives the domain, the tissue and region masks.
    ev : Event
        The resolved event (time in min).
    kind : EventKind
    warnings : list of str
        Appended to.
    """
    d = ctx.dom
    step = max(0, math.ceil(ev.time / d.dt - _EPS))
    if step >= d.n_steps:
        end = d.n_steps * d.dt
        how = "when" if abs(ev.time - end) < _EPS else "after"
        fix = ("the end set by --until/--set" if ctx.duration_overridden else
               "extend domain.duration (or --until) or remove the event if it is not meant")
        warnings.append(f"the {ev.kind} event at {minutes(ev.time)} comes {how} the run ends "
                        f"({minutes(end)}) and will never happen; {fix}")
    n = _expected(kind, ev.spec)
    if n is None:
        return
    if n == 0 and hasattr(ev.spec, "dose"):
        warnings.append(f"the {ev.kind} event at {minutes(ev.time)} places 0 cells (dose × "
                        "delivered fraction rounds to 0): fine for a vehicle control, otherwise "
                        "raise the dose")
        return
    target = getattr(ev.spec, "target", None)
    room = _upper_room(ctx, target) if n > 0 and target is not None else None
    if room is not None and n > room:
        raise Bad(f"{n:.6g} {getattr(ev.spec, 'cell_type', '')} cells cannot fit in "
                  f"{target.describe()}: it holds at most {room} (its voxels × the largest "
                  "voxel capacity of any tissue); lower the dose or delivered_fraction, widen "
                  "the target, or raise the capacity")


def _expected(kind, spec) -> int | None:
    try:
        return int(kind.expected_cells(spec))
    except Exception:  # noqa: BLE001 - a kind without a count places no cells we can check
        return None


def _upper_room(ctx, region) -> int | None:
    """Most cells ``region`` can hold at any time (voxels × largest capacity), or None."""
    if math.prod(ctx.dom.shape) > 50_000_000:
        return None
    try:
        mask = ctx._mask(region)
    except Exception:  # noqa: BLE001 - painted later by an event: counted at placement
        return None
    nvox = int(np.count_nonzero(mask))
    if nvox == 0:
        return None          # a label painted later: its size is known only then
    cap = max(int(t.capacity) for t in ctx.tissue)
    return nvox * cap


def check_outputs(outputs, dom, warnings: list) -> None:
    """Warn about recording intervals the run never reaches (longer than its duration)."""
    if outputs is None:
        return
    end = dom.n_steps * dom.dt
    for what, every in (("readout_every", outputs.readout_every),
                        ("snapshot_every", outputs.snapshot_every),
                        ("checkpoint_every", outputs.checkpoint_every)):
        if every > end * (1 + _EPS):
            warnings.append(f"outputs.{what} ({minutes(every)}) is longer than the run "
                            f"({minutes(end)}): it is never reached, so there is one only at the "
                            "start and the end; shorten it to record in between")

