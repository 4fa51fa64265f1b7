"""What a route delivers: the factors of the delivered fraction and when it arrives.

A delivered fraction is a sum of terms, each a product of named factors (an
intracarotid dose has a first-pass term and a systemic one), so ``abm validate``
can show where every number comes from. Arrivals are split into a few timeline
placements whose counts add up exactly to the delivered total
(:func:`arrival_schedule`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Factor", "Delivery", "arrival_schedule", "ARRIVAL_PARTS", "ARRIVAL_SPAN"]

#: Timeline placements an arrival over time is split into.
ARRIVAL_PARTS = 8
#: Arrivals are spread over this many half-times (97% of a first-order entry); the rest
#: arrives with the last part, so the parts add up to the whole delivered count.
ARRIVAL_SPAN = 5


@dataclass(frozen=True)
class Factor:
    """One factor of a delivered fraction: ``value`` (a plain number) and what it is."""

    name: str
    value: float


@dataclass(frozen=True)
class Delivery:
    """The delivered fraction of a dose, as terms of factors, and its time course.

    Attributes
    ----------
    route : str
    terms : tuple of tuple of Factor
        ``fraction = Σ_terms Π_factors value``.
    half_time : float or None
        Half-time of first-order arrival, min; None: everything arrives at once.
    override : bool
        True when the scenario gave ``delivered_fraction`` (one factor, that value).
    """

    route: str
    terms: tuple
    half_time: float | None = None
    override: bool = False

    @property
    def fraction(self) -> float:
        """The delivered fraction of the dose."""
        return float(sum(math.prod(f.value for f in t) for t in self.terms))

    def explain(self) -> str:
        """``"0.05 lung pass × 0.02 brain share × ..."`` (terms joined by `` + ``)."""
        parts = [" × ".join(f"{f.value:.3g} {f.name}" for f in t) for t in self.terms]
        text = " + ".join(f"({p})" if len(self.terms) > 1 else p for p in parts)
        return text + ("" if len(self.terms) == 1 and len(self.terms[0]) == 1
                       else f" = {self.fraction:.3g}")


def arrival_schedule(n_total: int, half_time: float | None, parts: int = ARRIVAL_PARTS):
    """Delays (min) and counts of the placements of ``n_total`` cells arriving over time.

    First-order arrival with half-time ``half_time``: by delay ``t`` a fraction
    ``F(t) = 1 - 2^(-t / half_time)`` has arrived. The span ``ARRIVAL_SPAN × half_time``
    is cut into ``parts`` equal intervals; the cells of interval ``k`` (ending at
    ``t_k``) are placed at ``t_k``: ``round(n F(t_k)) - round(n F(t_{k-1}))``, with
    ``F(t_parts)`` taken as 1, so the counts add up to ``n_total`` exactly.

    Parameters
    ----------
    n_total : int
        Cells delivered in all.
    half_time : float or None
        Min; None or 0: all at delay 0 (also when ``n_total`` is 0).
    parts : int

    Returns
    -------
    list of (float, int)
        ``(delay, count)`` pairs in time order (counts may be 0).
    """
    if not half_time or n_total == 0:
        return [(0.0, int(n_total))]
    span = ARRIVAL_SPAN * half_time
    out, before = [], 0
    for k in range(1, parts + 1):
        t = span * k / parts
        cum = n_total if k == parts else int(round(n_total * (1.0 - 2.0 ** (-t / half_time))))
        out.append((t, cum - before))
        before = cum
    return out
