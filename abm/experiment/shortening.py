"""A shortened variant of a scenario: long enough to fire the first treatment, a few steps more.

Regression tables and quick reports run a scenario for a short simulated time. How short is
decided from the scenario itself:

* the **treatment** events are those present in one arm and missing from another (an
  arm's ``without:``, or a ``set:`` that moves or changes an event); the shortened run
  lasts until the earliest of them has fired, plus ``steps_after`` steps;
* a scenario without such arms runs until its **last** event has fired, plus
  ``steps_after`` steps (so every event kind it uses fires once);
* a scenario without events runs ``steps_after`` steps.

A scenario whose treatment comes late (BMSCs a day after a stroke) would spend the whole
shortened run before it; ``treatment_at`` moves the events an arm leaves out by name
(``without:``) to an earlier time first, so that a short run still sees the treatment act.

An event at time ``t`` fires at the start of step ``ceil(t / dt)`` (:mod:`abm.run.runner`),
so the shortened duration is ``(ceil(t / dt) + steps_after) · dt``, never longer than the
scenario's own. A fixed ``duration`` may be given instead. The variant is a list of
``key.path=value`` overrides; with ``every_step`` it also records readouts every step and
writes a snapshot and a checkpoint only at the start and the end (recording does not change
the simulation).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from ..errors import ModelInputError

__all__ = ["Shortening", "treatment_times", "left_out_events", "shorten"]

_EPS = 1e-9


@dataclass(frozen=True)
class Shortening:
    """The overrides of a shortened scenario and why it is as long as it is.

    Attributes
    ----------
    overrides : tuple of str
        ``key.path=value`` overrides: the extra ones given, then the shortening's own.
    duration_min : float
        Simulated time of the shortened run, min.
    anchor_min : float or None
        Time of the event it waits for (the first treatment, else the last event), min;
        None for a scenario without events.
    anchor : str
        ``"first treatment"``, ``"last event"`` or ``"no events"``.
    """

    overrides: tuple
    duration_min: float
    anchor_min: Optional[float]
    anchor: str


def _arm_scenarios(scenario, overrides: Sequence[str]) -> dict:
    from ..scenario import load_scenario  # noqa: PLC0415

    base = load_scenario(scenario, list(overrides))
    if not base.arms:
        return {None: base}
    return {a: (base if a == base.arm else load_scenario(scenario, list(overrides) + [f"arm={a}"]))
            for a in base.arms}


def treatment_times(scenario, overrides: Sequence[str] = ()) -> list[float]:
    """Times (min) of the events some arm has and another lacks, sorted; empty if none.

    Parameters
    ----------
    scenario : str or Path
        Scenario file.
    overrides : sequence of str
        ``key.path=value`` overrides applied first.
    """
    per_arm = _arm_scenarios(scenario, overrides)
    keys = {a: Counter((float(e.time), e.kind) for e in sc.events) for a, sc in per_arm.items()}
    union: Counter = Counter()
    for c in keys.values():
        union |= c
    times = set()
    for c in keys.values():
        times.update(t for (t, _kind) in (union - c))
    return sorted(times)


def left_out_events(scenario) -> list[int]:
    """Indices (file order) of the events some arm leaves out by name (``without:``)."""
    from ..scenario.yamltree import read_tree  # noqa: PLC0415

    path = Path(scenario)
    data, _, _ = read_tree(path.read_text(encoding="utf-8"), path.name)
    arms = data.get("arms") if isinstance(data.get("arms"), dict) else {}
    names = {n for spec in arms.values() if isinstance(spec, dict)
             for n in (spec.get("without") or ()) if isinstance(n, str)}
    events = data.get("events") if isinstance(data.get("events"), list) else []
    return [i for i, e in enumerate(events) if isinstance(e, dict) and e.get("name") in names]


def shorten(scenario, *, steps_after: int = 5, duration: Optional[str] = None,
            treatment_at: Optional[str] = None, overrides: Sequence[str] = (),
            every_step: bool = True) -> Shortening:
    """The overrides that shorten a scenario (module docs).

    Parameters
    ----------
    scenario : str or Path
        Scenario file.
    steps_after : int
        Steps to run after the anchor event has fired (>= 1).
    duration : str, optional
        A fixed simulated time with its unit (``"3 h"``) instead of the anchor rule.
    treatment_at : str, optional
        A time with its unit: first move every event an arm leaves out by name to it
        (overrides ``events.<i>.at``, kept in the result).
    overrides : sequence of str
        Extra overrides applied first (e.g. a smaller ``domain.extent``); the shortening
        is computed on the scenario they give.
    every_step : bool
        Also record readouts every step, snapshots and checkpoints only at the start and end.

    Returns
    -------
    Shortening

    Raises
    ------
    abm.errors.ModelInputError
        ``steps_after`` below 1, a ``duration`` that is not a time, or ``treatment_at``
        for a scenario none of whose arms leaves out an event by name.
    abm.scenario.ScenarioError
        The scenario with the overrides is not valid.
    """
    if int(steps_after) < 1:
        raise ModelInputError(f"steps_after = {steps_after}; give 1 or more steps")
    overrides = tuple(str(o) for o in overrides)
    if treatment_at is not None:
        moved = left_out_events(scenario)
        if not moved:
            raise ModelInputError(f"treatment_at={treatment_at!r}: no arm of {Path(scenario).name} "
                                  "leaves out an event by name (without:), so there is no "
                                  "treatment to move")
        overrides += tuple(f"events.{i}.at={treatment_at}" for i in moved)
    per_arm = _arm_scenarios(scenario, overrides)
    sc = next(iter(per_arm.values()))
    dt, full = sc.domain.dt, sc.domain.n_steps * sc.domain.dt
    if duration is not None:
        from ..units import TIME, UnitProblem, to_internal  # noqa: PLC0415

        try:
            end = to_internal(duration, TIME, positive=True)
        except UnitProblem as exc:
            raise ModelInputError(f"duration {duration!r}: {exc}") from None
        anchor_min, anchor = None, "fixed duration"
    else:
        treat = treatment_times(scenario, overrides)
        events = sorted(float(e.time) for s in per_arm.values() for e in s.events)
        if treat:
            anchor_min, anchor = treat[0], "first treatment"
        elif events:
            anchor_min, anchor = events[-1], "last event"
        else:
            anchor_min, anchor = None, "no events"
        fire = 0 if anchor_min is None else max(0, math.ceil(anchor_min / dt - _EPS))
        end = (fire + int(steps_after)) * dt
    end = min(end, full)
    ov = [f"domain.duration={end!r} min"]
    if every_step:
        ov += [f"outputs.readout_every={dt!r} min", f"outputs.snapshot_every={end!r} min",
               f"outputs.checkpoint_every={end!r} min"]
    return Shortening(overrides + tuple(ov), end, anchor_min, anchor)
