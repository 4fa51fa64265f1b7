"""Effect sizes and their pooling, as a preclinical meta-analysis reports them.

Everything here is computed by statsmodels' meta-analysis module
(:mod:`statsmodels.stats.meta_analysis`), which its authors verified against R's
``meta`` and ``metafor``:

* per study and outcome, the group means and SDs (``ddof=1``) and **Hedges' g**
  (:func:`~statsmodels.stats.meta_analysis.effectsize_smd`: the standardized mean
  difference treated minus control with the small-sample bias correction) with its
  variance and normal 95% CI;
* across studies, **DerSimonian-Laird random effects**
  (:func:`~statsmodels.stats.meta_analysis.combine_effects` with ``method_re="dl"``): the
  pooled g and its 95% CI, tau^2, I^2 and Cochran's Q test of heterogeneity;
* **subgroups**: the pooling within each level of a factor, and the test for subgroup
  differences: Cochran's Q among the subgroups' pooled estimates (a fixed-effect
  combination of them; df = levels - 1), as RevMan and metafor's subgroup analyses report.

An effect with no spread in either group (both SDs 0) has no standardized size: it is
reported as NaN and left out of the pooling, with a note; so is one whose SDs are only
floating-point noise (:data:`NO_SPREAD` of the means).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["GroupSummary", "Effect", "Pooled", "summarize", "hedges_g", "pool", "subgroup_test"]

#: Two-sided 95% normal quantile.
Z95 = float(stats.norm.ppf(0.975))
#: SDs at or below this fraction of the group means are floating-point rounding, not spread
#: between animals (identical runs summed in another order differ by ~1e-16 relative).
NO_SPREAD = 1e-9


@dataclass(frozen=True)
class GroupSummary:
    """Mean, SD (ddof 1) and number of the finite values of one group."""

    mean: float
    sd: float
    n: int


def summarize(values) -> GroupSummary:
    """Summary of one arm's outcome values (NaNs, runs without the value, left out)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return GroupSummary(math.nan, math.nan, 0)
    return GroupSummary(float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else math.nan, int(x.size))


@dataclass(frozen=True)
class Effect:
    """Hedges' g of one comparison in one study, with its variance and 95% CI."""

    g: float
    var: float
    ci_low: float
    ci_high: float
    note: str = ""


def hedges_g(treated: GroupSummary, control: GroupSummary) -> Effect:
    """Hedges' g of treated vs control (statsmodels ``effectsize_smd``)."""
    from statsmodels.stats.meta_analysis import effectsize_smd  # noqa: PLC0415

    if treated.n < 2 or control.n < 2:
        return Effect(math.nan, math.nan, math.nan, math.nan,
                      "fewer than 2 animals with a value in an arm")
    scale = max(abs(treated.mean), abs(control.mean))
    if not max(treated.sd, control.sd) > NO_SPREAD * scale:
        return Effect(math.nan, math.nan, math.nan, math.nan,
                      "no variation between animals in either arm (SDs 0, or rounding noise only)")
    g, v = effectsize_smd(treated.mean, treated.sd, treated.n, control.mean, control.sd, control.n)
    g, v = float(g), float(v)
    h = Z95 * math.sqrt(v)
    return Effect(g, v, g - h, g + h)


@dataclass(frozen=True)
class Pooled:
    """A DerSimonian-Laird random-effects pooling.

    Attributes
    ----------
    g, se, ci_low, ci_high : float
        Pooled effect, its standard error and normal 95% CI.
    tau2 : float
        Between-study variance (DL).
    i2 : float
        I^2 as a fraction (0-1; metafor prints it in percent).
    q, q_df, q_p : float
        Cochran's Q, its degrees of freedom and chi-square p-value.
    k : int
        Studies pooled.
    weights : list of float
        Relative random-effects weight of each study (sums to 1).
    """

    g: float
    se: float
    ci_low: float
    ci_high: float
    tau2: float
    i2: float
    q: float
    q_df: int
    q_p: float
    k: int
    weights: list


def pool(effects, variances) -> Pooled:
    """DerSimonian-Laird random-effects pooling (statsmodels ``combine_effects``).

    With one study the "pooled" effect is that study's, tau^2 = 0 and there is no
    heterogeneity test (Q, p and I^2 are NaN).
    """
    from statsmodels.stats.meta_analysis import combine_effects  # noqa: PLC0415

    y = np.asarray(effects, dtype=float)
    v = np.asarray(variances, dtype=float)
    if y.size == 0:
        raise ValueError("nothing to pool")
    if y.size == 1:
        se = math.sqrt(v[0])
        return Pooled(float(y[0]), se, float(y[0] - Z95 * se), float(y[0] + Z95 * se), 0.0,
                      math.nan, math.nan, 0, math.nan, 1, [1.0])
    with np.errstate(invalid="ignore"):     # square roots of a negative tau^2's variances
        r = combine_effects(y, v, method_re="dl")
        (lo_fe, hi_fe), (lo, hi), *_ = r.conf_int()
    h = r.test_homogeneity()
    q, p, df = h.statistic, h.pvalue, h.df
    if r.tau2 < 0:
        # Q below its df: DerSimonian and Laird truncate tau^2 at 0, and the random-effects
        # estimate is then the fixed-effect one; statsmodels (0.14-0.15) leaves tau^2
        # negative and weights with it, so its fixed-effect results are taken instead
        return Pooled(float(r.mean_effect_fe), float(r.sd_eff_w_fe), float(lo_fe), float(hi_fe),
                      0.0, 0.0, float(q), int(df), float(p), int(y.size),
                      [float(w) for w in r.weights_rel_fe])
    return Pooled(float(r.mean_effect_re), float(r.sd_eff_w_re), float(lo), float(hi),
                  float(r.tau2), max(0.0, float(r.i2)), float(q), int(df), float(p), int(y.size),
                  [float(w) for w in r.weights_rel_re])


def subgroup_test(pooled: dict) -> tuple[float, int, float]:
    """Test for subgroup differences: (Q, df, p) among the subgroups' pooled effects.

    ``pooled`` maps each level to its :class:`Pooled`; the Q statistic is the
    heterogeneity of their estimates combined with their own variances (fixed effect).
    """
    from statsmodels.stats.meta_analysis import combine_effects  # noqa: PLC0415

    est = [p for p in pooled.values() if math.isfinite(p.g) and p.se > 0]
    if len(est) < 2:
        return math.nan, 0, math.nan
    with np.errstate(invalid="ignore"):     # Q does not depend on tau^2 (may be < 0 here)
        r = combine_effects(np.array([p.g for p in est]), np.array([p.se ** 2 for p in est]),
                            method_re="dl")
    h = r.test_homogeneity()
    q, p, df = h.statistic, h.pvalue, h.df
    return float(q), int(df), float(p)
