"""A reported finding compared over hand-made run tables: values, statistics, tests, verdict.

Every expected number is computed here independently: Welch's t and its Satterthwaite
degrees of freedom by hand, the Mann-Whitney U by counting pairs.
"""

import math
import warnings
from itertools import product

import numpy as np
import pytest
from scipy import stats

from abm.errors import ModelInputError
from abm.experiment import RunTable, compare_claim
from abm.scenario.arms import Claim

TIMES = np.array([0.0, 60.0, 120.0, 180.0])


def table(arm, seed, values, readout="count BMSC in core", times=TIMES):
    return RunTable(arm, seed, np.asarray(times, float), np.arange(len(times)),
                    {readout: np.asarray(values, float)}, {readout: "cells"})


def runs(treated_end, control_end, readout="count BMSC in core"):
    """Each animal's table: 0 at t = 0, its end value from 120 min on."""
    return {"treated": [table("treated", s, [0, v / 2, v, v], readout)
                        for s, v in enumerate(treated_end, 1)],
            "control": [table("control", s, [0, v / 2, v, v], readout)
                        for s, v in enumerate(control_end, 1)]}


def claim(time=150.0, op=">"):
    return Claim("count BMSC in core", time, "treated", op, "control", "a test")


def test_the_value_is_the_last_readout_at_or_before_the_claim_time():
    r = runs([10, 12, 14], [1, 2, 3])
    res = compare_claim(claim(time=100.0), r)                 # 60 min is the row used
    assert res.time_used == 60.0
    assert res.a.values == (5.0, 6.0, 7.0) and res.b.values == (0.5, 1.0, 1.5)
    assert "readout at 1 h" in res.describe()
    res = compare_claim(claim(time=None), r)                  # the end
    assert res.time_used == 180.0 and res.a.values == (10.0, 12.0, 14.0)


def test_group_statistics_and_the_welch_test_match_a_hand_computation():
    ta, tb = [10.0, 12.0, 14.0, 19.0], [1.0, 2.0, 6.0]
    res = compare_claim(claim(), runs(ta, tb))
    ma, mb = np.mean(ta), np.mean(tb)
    va, vb = np.var(ta, ddof=1), np.var(tb, ddof=1)
    assert (res.a.n, res.b.n) == (4, 3)
    assert res.a.mean == pytest.approx(ma) and res.a.sd == pytest.approx(math.sqrt(va))
    assert res.a.sem == pytest.approx(math.sqrt(va / 4))
    se2 = va / 4 + vb / 3
    t = (ma - mb) / math.sqrt(se2)
    df = se2 ** 2 / ((va / 4) ** 2 / 3 + (vb / 3) ** 2 / 2)     # Welch-Satterthwaite
    assert res.t_welch == pytest.approx(t, rel=1e-12)
    assert res.p_welch == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-9)
    assert res.holds and compare_claim(claim(op="<"), runs(ta, tb)).holds is False


def test_the_mann_whitney_u_counts_the_pairs_where_a_is_larger():
    ta, tb = [3.0, 5.0, 5.0, 9.0], [1.0, 5.0, 7.0]
    res = compare_claim(claim(), runs(ta, tb))
    u = sum(1.0 if x > y else 0.5 if x == y else 0.0 for x, y in product(ta, tb))
    assert res.u_mann_whitney == u == 7.0
    assert 0 < res.p_mann_whitney <= 1


def test_nan_animals_are_left_out_and_said():
    res = compare_claim(claim(time=None), runs([10.0, np.nan, 14.0], [1.0, 2.0, 3.0]))
    assert res.a.n == 2 and res.a.mean == 12.0 and math.isnan(res.a.values[1])
    assert "1 treated animal without a value (NaN)" in res.describe()


def test_arms_without_spread_give_no_welch_test_and_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = compare_claim(claim(time=None), runs([5.0, 5.0, 5.0], [0.0, 0.0, 0.0]))
    assert math.isnan(res.p_welch) and res.hedges_g == math.inf and res.holds
    assert "no spread in either arm" in res.describe()
    assert res.as_dict()["hedges_g"] == "inf" and res.as_dict()["p_welch"] is None


def test_a_run_ending_before_the_claim_is_said():
    res = compare_claim(claim(time=14 * 1440.0), runs([10, 12], [1, 2]))
    assert res.time_used == 180.0
    assert "runs end at 3 h, before the claim's 14 d" in res.describe()


def test_describe_is_one_line_with_both_arms_p_values_and_the_verdict():
    text = compare_claim(claim(time=None), runs([120, 110, 130], [0, 1, 0])).describe()
    assert "\n" not in text
    assert text.startswith("count BMSC in core at the end (readout at 3 h): treated 120 +/- 10 "
                           "(n=3) > control 0.3333 +/- 0.58 (n=3); Welch p=")
    assert text.endswith("; holds")
    assert compare_claim(claim(time=None), runs([1, 2], [5, 6])).describe().endswith(
        "does NOT hold")


def test_missing_arms_readouts_and_times_are_named():
    r = runs([1, 2], [0, 0])
    with pytest.raises(ModelInputError, match="needs runs of arm 'control'"):
        compare_claim(claim(), {"treated": r["treated"]})
    bad = Claim("count BMSC in cor", None, "treated", ">", "control", "x")
    with pytest.raises(ModelInputError, match="did you mean 'count BMSC in core'"):
        compare_claim(bad, r)
    early = {k: [table(k, 1, [1.0, 2.0], times=[60.0, 120.0])] for k in ("treated", "control")}
    with pytest.raises(ModelInputError, match="no readout at or before t = 30 min"):
        compare_claim(claim(time=30.0), early)
