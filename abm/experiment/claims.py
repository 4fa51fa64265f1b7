"""A reported finding checked against runs of both arms: group statistics and tests.

A :class:`~abm.scenario.arms.Claim` says that a readout, at a time, is larger (or smaller)
in arm ``a`` than in arm ``b``. :func:`compare_claim` takes each animal's value of that
readout at the claim's time, the value at the **last readout time at or before it** (a run
records readouts every ``outputs.readout_every``; a shortened run ends earlier, and then
its last row is used and the result says so), and reports per arm n, mean, SD (ddof = 1)
and SEM, a two-sided Welch t-test and a two-sided Mann-Whitney U test (SciPy), Hedges' g
with its 95 % interval (:mod:`.effect_size`), and whether the direction holds (the arms'
means go the way the paper reports; significance is a separate question, read ``p_welch``
and ``p_mann_whitney``).

Animals whose value is NaN (e.g. a fraction of cells in a region with no cells) are left
out of their arm's statistics; ``n`` counts the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..errors import ModelInputError
from .animals import RunTable
from .effect_size import hedges_g, hedges_g_ci95

__all__ = ["ArmValues", "ClaimResult", "compare_claim", "format_minutes"]


@dataclass(frozen=True)
class ArmValues:
    """One arm's values of a readout at one time, one per animal, and their statistics.

    Attributes
    ----------
    arm : str
    values : tuple of float
        Per animal, in seed order (NaN kept here, left out of the statistics).
    seeds : tuple of int
    n : int
        Animals with a finite value.
    mean, sd, sem : float
        Mean, sample SD (ddof = 1; NaN for n < 2) and SD / sqrt(n), in the readout's unit.
    """

    arm: str
    values: tuple
    seeds: tuple
    n: int
    mean: float
    sd: float
    sem: float

    @classmethod
    def of(cls, arm: str, values: Sequence[float], seeds: Sequence[int]) -> "ArmValues":
        """Statistics of ``values`` (NaN left out)."""
        v = np.asarray(values, dtype=np.float64)
        f = v[np.isfinite(v)]
        n = int(f.size)
        mean = float(f.mean()) if n else float("nan")
        sd = float(np.std(f, ddof=1)) if n > 1 else float("nan")
        sem = sd / math.sqrt(n) if n > 1 else float("nan")
        return cls(arm, tuple(float(x) for x in v), tuple(int(s) for s in seeds), n, mean, sd, sem)

    def finite(self) -> np.ndarray:
        """The values that enter the statistics."""
        v = np.asarray(self.values, dtype=np.float64)
        return v[np.isfinite(v)]


@dataclass(frozen=True)
class ClaimResult:
    """A claim compared over runs of its two arms.

    Attributes
    ----------
    claim : Claim
    unit : str
        The readout's unit.
    time_used : float
        Readout time the values were taken at, min (the last at or before the claim's time;
        the last row of the runs when the claim names no time).
    a, b : ArmValues
        The claim's arms, ``a op b``.
    t_welch, p_welch : float
        Welch's t statistic and its two-sided p value (NaN when an arm has fewer than 2
        values or neither arm varies).
    u_mann_whitney, p_mann_whitney : float
        Mann-Whitney U of arm ``a`` and its two-sided p value (NaN when an arm is empty).
    hedges_g : float
        Standardised difference ``a - b`` (:func:`~abm.experiment.effect_size.hedges_g`).
    g_ci95 : tuple of 2 float
    holds : bool
        The means go the claimed way (False when either mean is NaN).
    notes : tuple of str
        What a reader should know: a run ending before the claim's time, animals left out,
        tests that could not be computed.
    """

    claim: object
    unit: str
    time_used: float
    a: ArmValues
    b: ArmValues
    t_welch: float
    p_welch: float
    u_mann_whitney: float
    p_mann_whitney: float
    hedges_g: float
    g_ci95: tuple
    holds: bool
    notes: tuple = ()

    def describe(self) -> str:
        """One line: readout, time, both arms as mean +/- SD (n), p values, g, the verdict.

        Example: ``count BMSC in core at 14 d: treated 120 +/- 8 (n=10) > control 0 +/- 0
        (n=10); Welch p=2.1e-09, Mann-Whitney p=0.00018, g=20.1; holds``.
        """
        c = self.claim
        when = f"at {format_minutes(c.time)}" if c.time is not None else "at the end"
        if c.time is None or abs(self.time_used - c.time) > 1e-9 * max(1.0, c.time):
            when += f" (readout at {format_minutes(self.time_used)})"
        unit = f" {self.unit}" if self.unit and self.unit not in ("1", "cells") else ""
        arms = f"{_arm_text(self.a, unit)} {c.op} {_arm_text(self.b, unit)}"
        verdict = "holds" if self.holds else "does NOT hold"
        tail = f"; {'; '.join(self.notes)}" if self.notes else ""
        return (f"{c.readout} {when}: {arms}; Welch p={_num(self.p_welch)}, Mann-Whitney "
                f"p={_num(self.p_mann_whitney)}, g={_num(self.hedges_g, 3)}; {verdict}{tail}")

    def as_dict(self) -> dict:
        """JSON-ready: every number a float or None (for NaN), infinities as strings."""
        c = self.claim

        def arm(v: ArmValues) -> dict:
            return {"arm": v.arm, "n": v.n, "mean": _js(v.mean), "sd": _js(v.sd),
                    "sem": _js(v.sem), "values": [_js(x) for x in v.values],
                    "seeds": list(v.seeds)}

        return {"readout": c.readout, "unit": self.unit, "time_min": c.time,
                "time_used_min": self.time_used, "expect": f"{c.a} {c.op} {c.b}",
                "source": c.source, "a": arm(self.a), "b": arm(self.b),
                "t_welch": _js(self.t_welch), "p_welch": _js(self.p_welch),
                "u_mann_whitney": _js(self.u_mann_whitney),
                "p_mann_whitney": _js(self.p_mann_whitney), "hedges_g": _js(self.hedges_g),
                "hedges_g_ci95": [_js(x) for x in self.g_ci95], "holds": self.holds,
                "notes": list(self.notes), "describe": self.describe()}


def compare_claim(claim, runs: dict) -> ClaimResult:
    """Compare a claim's two arms over their runs.

    Parameters
    ----------
    claim : abm.scenario.arms.Claim
        The finding (readout, time in min or None for the end, arms ``a op b``).
    runs : dict of str to sequence of RunTable
        Arm -> its runs (as :func:`~abm.experiment.run_arms` returns); must hold both of
        the claim's arms.

    Returns
    -------
    ClaimResult

    Raises
    ------
    abm.errors.ModelInputError
        An arm of the claim has no runs, the readout was not recorded, or a run has no
        readout at or before the claim's time.
    """
    from scipy import stats  # noqa: PLC0415

    for arm in (claim.a, claim.b):
        if not runs.get(arm):
            raise ModelInputError(f"claim '{claim.readout}: {claim.a} {claim.op} {claim.b}' needs "
                                  f"runs of arm {arm!r}; the runs given are of: "
                                  f"{', '.join(runs) or 'no arm'}")
    notes = []
    used, ends = [], []
    per_arm = {}
    for arm in (claim.a, claim.b):
        tables: Sequence[RunTable] = runs[arm]
        vals = [t.value(claim.readout, claim.time) for t in tables]
        used += [float(t.time_min[t.row_at(claim.time)]) for t in tables]
        ends += [float(t.time_min[-1]) for t in tables]
        per_arm[arm] = ArmValues.of(arm, vals, [t.seed for t in tables])
        left = len(vals) - per_arm[arm].n
        if left:
            notes.append(f"{left} {arm} animal{'s' if left > 1 else ''} without a value (NaN)")
    time_used = min(used)
    if max(used) != min(used):
        notes.append(f"runs read at different times ({format_minutes(min(used))} to "
                     f"{format_minutes(max(used))})")
    if claim.time is not None and max(ends) < claim.time * (1 - 1e-9):
        notes.append(f"runs end at {format_minutes(max(ends))}, before the claim's "
                     f"{format_minutes(claim.time)}")
    a, b = per_arm[claim.a], per_arm[claim.b]
    xa, xb = a.finite(), b.finite()

    t = p = float("nan")
    if a.n >= 2 and b.n >= 2:
        if a.sd == 0.0 and b.sd == 0.0:
            notes.append("no spread in either arm: Welch t undefined")
        else:
            res = stats.ttest_ind(xa, xb, equal_var=False)
            t, p = float(res.statistic), float(res.pvalue)
    else:
        notes.append("fewer than 2 animals in an arm: no Welch t-test")
    u = pu = float("nan")
    if a.n >= 1 and b.n >= 1:
        res = stats.mannwhitneyu(xa, xb, alternative="two-sided")
        u, pu = float(res.statistic), float(res.pvalue)
    g = hedges_g(xa, xb)
    holds = bool(math.isfinite(a.mean) and math.isfinite(b.mean) and claim.holds(a.mean, b.mean))
    unit = runs[claim.a][0].units.get(claim.readout, "")
    return ClaimResult(claim, unit, time_used, a, b, t, p, u, pu, g, hedges_g_ci95(xa, xb),
                       holds, tuple(notes))


def format_minutes(minutes: float) -> str:
    """A simulated time for people: ``'14 d'``, ``'6 h'``, ``'90 min'``, ``'2.5 min'``."""
    m = float(minutes)
    if m >= 1440 and m % 1440 == 0:
        return f"{m / 1440:g} d"
    if m >= 60 and m % 60 == 0:
        return f"{m / 60:g} h"
    return f"{m:g} min"


def _arm_text(v: ArmValues, unit: str) -> str:
    return f"{v.arm} {_num(v.mean, 4)} +/- {_num(v.sd, 2)}{unit} (n={v.n})"


def _num(x: float, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}" if x != 0 else "0"


def _js(x: Optional[float]):
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x
