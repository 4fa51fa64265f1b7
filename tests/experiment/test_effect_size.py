"""Hedges' g against a hand computation and against what it is built to be: unbiased.

Cohen's d overestimates the standardised difference in small groups; Hedges' correction
J removes that bias (Hedges & Olkin 1985). The Monte Carlo checks draw normal groups with a
known true difference and test the estimator's mean and its interval's coverage.
"""

import math
import statistics

import numpy as np
import pytest

from abm.experiment import hedges_correction, hedges_g, hedges_g_ci95


def test_g_matches_a_hand_computation_with_the_approximate_correction():
    a, b = [12.0, 15.0, 11.0, 14.0, 13.0], [9.0, 10.0, 8.0, 11.0, 10.0, 9.5]
    sp = math.sqrt((4 * statistics.variance(a) + 5 * statistics.variance(b)) / 9)
    d = (statistics.mean(a) - statistics.mean(b)) / sp
    approx = (1 - 3 / (4 * 9 - 1)) * d          # J ~ 1 - 3/(4 df - 1)
    assert hedges_g(a, b) == pytest.approx(approx, rel=1e-3)
    assert hedges_g(b, a) == pytest.approx(-hedges_g(a, b), rel=1e-15)


@pytest.mark.parametrize("df, j", [(2, 0.5642), (10, 0.9227), (50, 0.9850)])
def test_the_exact_correction_is_the_gamma_ratio(df, j):
    # the Gamma ratio with math.gamma (the module uses lgamma), and 4 digits (J(2) = 1/sqrt(pi))
    ref = math.gamma(df / 2) / (math.sqrt(df / 2) * math.gamma((df - 1) / 2))
    assert hedges_correction(df) == pytest.approx(ref, rel=1e-12)
    assert hedges_correction(df) == pytest.approx(j, abs=1e-4)


def test_g_is_unbiased_where_cohens_d_is_not():
    rng = np.random.default_rng(7)
    g = np.array([hedges_g(rng.normal(1.0, 1.0, 5), rng.normal(0.0, 1.0, 5))
                  for _ in range(20000)])
    assert abs(g.mean() - 1.0) < 0.02                       # ~4 standard errors
    d = g / hedges_correction(8)
    assert d.mean() > 1.08                                  # d: ~11% too large at n = 5


def test_the_95_interval_covers_the_true_difference_about_95_percent_of_the_time():
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(4000):
        lo, hi = hedges_g_ci95(rng.normal(1.0, 1.0, 10), rng.normal(0.0, 1.0, 10))
        hits += lo <= 1.0 <= hi
    assert 0.93 < hits / 4000 < 0.965


def test_degenerate_groups_give_nan_or_an_infinite_g_without_warnings():
    assert math.isnan(hedges_g([1.0], [0.0, 1.0]))                  # n < 2
    assert hedges_g([3.0, 3.0], [0.0, 0.0]) == math.inf             # no spread, means differ
    assert hedges_g([0.0, 0.0], [3.0, 3.0]) == -math.inf
    assert math.isnan(hedges_g([2.0, 2.0], [2.0, 2.0]))
    assert all(math.isnan(x) for x in hedges_g_ci95([3.0, 3.0], [0.0, 0.0]))
    # NaN entries are left out
    assert hedges_g([1.0, 2.0, np.nan, 3.0], [0.0, 1.0]) == hedges_g([1.0, 2.0, 3.0], [0.0, 1.0])
