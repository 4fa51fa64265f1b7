"""Arms of one experiment and the findings its paper reports.

An experiment and its control are the same animal with and without the treatment, so they
belong in one scenario file::

    arms:
      treated: {}                         # the first arm is the default
      control: {without: [bmsc]}          # leave out the events named 'bmsc'
      cxcr4_blocked: {set: ["cell_types.BMSC.chemotaxis.SDF-1a=0 um^2/min"]}
    events:
      - {name: bmsc, at: 24 h, injection: {...}}
    reported:                              # what the paper found, checked by the validation
      - {readout: count BMSC in core, at: 14 d, expect: treated > control,
         source: "Zhang et al. 2006 via seed 000_58091ff4731d18ef.txt"}

``abm run FILE --arm control`` (an override ``arm=control``) selects an arm. An arm's
``set:`` entries are ``--set`` overrides applied before the file is validated; its
``without:`` events are removed after. Both are stored with the run (as the override), so a
resumed run is the same arm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from pydantic import Field

from .problems import did_you_mean
from .quantities import NonNegTime, SchemaModel
from .yamltree import apply_override

__all__ = ["ArmSchema", "ReportedSchema", "Arm", "Claim", "select_arm", "arm_events", "claims"]

_EXPECT = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*(>|<)\s*([A-Za-z_][\w-]*)\s*$")


class ArmSchema(SchemaModel):
    """One entry of ``arms:``."""

    description: str = ""
    without: list[str] = Field(default_factory=list)
    set: list[str] = Field(default_factory=list)


class ReportedSchema(SchemaModel):
    """One entry of ``reported:``: a finding of the paper, as a comparison of two arms."""

    readout: str
    at: Optional[NonNegTime] = None
    expect: str
    source: str


@dataclass(frozen=True)
class Arm:
    """A named variant of the experiment.

    Attributes
    ----------
    name, description : str
    without : tuple of str
        Names of the events this arm leaves out.
    set : tuple of str
        ``key.path=value`` overrides this arm applies.
    """

    name: str
    description: str = ""
    without: tuple = ()
    set: tuple = ()


@dataclass(frozen=True)
class Claim:
    """A reported finding: ``readout`` at ``time`` is larger (``>``) or smaller in arm ``a``.

    Attributes
    ----------
    readout : str
        A readout of ``outputs.readouts``, as written there.
    time : float or None
        Simulated time, min; None for the end of the run.
    a, op, b : str
        Arm names and ``">"`` or ``"<"``: the paper found ``a op b``.
    source : str
        The paper (with DOI) or seed that reports it.
    """

    readout: str
    time: Optional[float]
    a: str
    op: str
    b: str
    source: str

    def holds(self, value_a: float, value_b: float) -> bool:
        """True when the two arms' values go the way the paper reports."""
        return value_a > value_b if self.op == ">" else value_a < value_b


def select_arm(data: dict, problems, name: str) -> Optional[str]:
    """Pick the arm of a scenario tree before validation and apply its ``set:`` overrides.

    Parameters
    ----------
    data : dict
        The YAML tree (changed in place).
    problems : Problems
        Where a wrong arm name is reported (at ``arm``).
    name : str
        File name for messages.

    Returns
    -------
    str or None
        The arm chosen (``arm:``, else the first of ``arms:``); None without ``arms:``.
    """
    if not isinstance(data, dict):
        return None
    arms = data.get("arms")
    if "arm" in data and not arms:
        problems.add(("arm",), "this scenario declares no arms: remove 'arm' (or --arm), or list "
                               "the arms under 'arms:'")
        problems.raise_first()
    if not isinstance(arms, dict) or not arms:
        return None
    chosen = data.get("arm", next(iter(arms)))
    if chosen not in arms:
        problems.add(("arm",), f"unknown arm {chosen!r}{did_you_mean(str(chosen), list(arms))}; "
                               f"this scenario's arms are: {', '.join(map(str, arms))}")
        problems.raise_first()
    spec = arms[chosen]
    if isinstance(spec, dict) and isinstance(spec.get("set"), list):
        for ov in spec["set"]:
            if isinstance(ov, str):
                apply_override(data, ov, name)
    return chosen


def arm_events(raw, chosen: Optional[str], problems) -> list:
    """The validated events of the chosen arm (its ``without:`` names removed).

    Every name under any arm's ``without:`` must name an event; event names are unique.
    """
    events = list(raw.events)
    names = [e.name for e in events]
    seen = {}
    for i, n in enumerate(names):
        if n is not None and n in seen:
            problems.add(("events", i, "name"), f"event name {n!r} also names event {seen[n]}; "
                                                f"give each event its own name")
        seen.setdefault(n, i)
    for an, spec in (raw.arms or {}).items():
        for j, n in enumerate((spec.without if spec else ())):
            if n not in seen:
                problems.add(("arms", an, "without", j),
                             f"no event is named {n!r}{did_you_mean(n, [m for m in names if m])}; "
                             f"add 'name: {n}' to the event this arm leaves out")
    problems.raise_first()
    if chosen is None:
        return events
    drop = set((raw.arms[chosen].without if raw.arms[chosen] else ()))
    return [e for e in events if e.name not in drop]


def arms_of(raw) -> dict:
    """The declared arms as :class:`Arm` objects, in file order."""
    return {n: Arm(n, (s.description if s else ""), tuple(s.without if s else ()),
                   tuple(s.set if s else ()))
            for n, s in (raw.arms or {}).items()}


def claims(raw, readouts: list, problems) -> tuple:
    """The ``reported:`` findings, checked against the arms and the readouts."""
    out = []
    arms = list(raw.arms or {})
    for i, r in enumerate(raw.reported or ()):
        m = _EXPECT.match(r.expect)
        if m is None:
            problems.add(("reported", i, "expect"),
                         f"cannot read {r.expect!r}: write 'ARM > ARM' or 'ARM < ARM', e.g. "
                         f"'treated > control'")
            continue
        a, op, b = m.groups()
        for arm in (a, b):
            if arm not in arms:
                problems.add(("reported", i, "expect"),
                             f"no arm named {arm!r}{did_you_mean(arm, arms)}"
                             + (f"; the arms are {', '.join(arms)}" if arms else
                                "; declare the arms under 'arms:'"))
        if r.readout not in readouts:
            problems.add(("reported", i, "readout"),
                         f"{r.readout!r} is not one of outputs.readouts; add it there, written "
                         f"the same way")
        out.append(Claim(r.readout, r.at, a, op, b, r.source))
    return tuple(out)
