"""Effect sizes and pooling against values computed with R (metafor, meta) by others.

References (numbers nobody here computed):

* Hedges' g: the six studies of Chen & Peace, *Applied Meta-Analysis with R* (2013), as
  used in statsmodels' own test suite (``statsmodels/stats/tests/test_meta.py``,
  ``TestEffSmdMeta``), where the expected ``yi`` are R metafor's
  ``escalc(measure="SMD", ...)`` output and the variances R meta's ``metacont`` (``seTE^2``).
* DerSimonian-Laird: the interlaboratory example of Kacker (2004), pooled by R metafor
  ``rma(y, v, method="DL")``, printed in statsmodels' ``stats/tests/results/results_meta.py``
  (``exk1_dl``).
"""

import math

import numpy as np
import pandas as pd
import pytest

from abm.trial.analysis import effects_table
from abm.trial.spec import Arm, Comparison, Outcome, Resources, Study, Trial
from abm.trial.statistics import GroupSummary, hedges_g, pool, subgroup_test, summarize

# study, mean treated, SD, n, mean control, SD, n (Chen & Peace 2013)
CHEN_PEACE = [("Carroll", 94, 22, 60, 92, 20, 60), ("Grant", 98, 21, 65, 92, 22, 65),
              ("Peck", 98, 28, 40, 88, 26, 40), ("Donat", 94, 19, 200, 82, 17, 200),
              ("Stewart", 98, 21, 50, 88, 22, 45), ("Young", 96, 21, 85, 92, 22, 85)]
# metafor escalc(measure="SMD") yi
METAFOR_YI = [0.09452415852032972, 0.27735586626551018, 0.36654442951591998, 0.66438496832691396,
              0.46180628128769841, 0.18516443739910043]
# R meta metacont(sm="SMD") seTE^2
META_VI = [0.03337182573880991, 0.03107434965484927, 0.05088322525353587, 0.01055724834741877,
           0.04339324466573324, 0.02363264537147130]

# Kacker (2004): effects and variances; metafor rma(method="DL")
KACKER_Y = [61.0, 61.4, 62.21, 62.3, 62.34, 62.6, 62.7, 62.84, 65.9]
KACKER_V = [0.2025, 1.2100, 0.0900, 0.2025, 0.3844, 0.5625, 0.0676, 0.0225, 1.8225]
METAFOR_DL = dict(b=62.3901386044504, se=0.245749668040304, ci_lb=61.9084781058787,
                  ci_ub=62.8717991030221, tau2=0.288049246973751, QE=24.801897741835,
                  QEp=0.00167935146372742, I2=67.744403741711)


def test_hedges_g_agrees_with_metafor_and_meta():
    for row, yi, vi in zip(CHEN_PEACE, METAFOR_YI, META_VI):
        _, m1, s1, n1, m2, s2, n2 = row
        e = hedges_g(GroupSummary(m1, s1, n1), GroupSummary(m2, s2, n2))
        assert e.g == pytest.approx(yi, rel=1e-5)
        assert e.var == pytest.approx(vi, rel=1e-10)
        half = 1.959963984540054 * math.sqrt(vi)
        assert (e.ci_low, e.ci_high) == pytest.approx((e.g - half, e.g + half), rel=1e-12)


def test_dersimonian_laird_agrees_with_metafor():
    p = pool(KACKER_Y, KACKER_V)
    r = METAFOR_DL
    assert p.g == pytest.approx(r["b"], rel=1e-10)
    assert p.se == pytest.approx(r["se"], rel=1e-8)
    assert (p.ci_low, p.ci_high) == pytest.approx((r["ci_lb"], r["ci_ub"]), rel=1e-10)
    assert p.tau2 == pytest.approx(r["tau2"], rel=1e-8)
    assert p.q == pytest.approx(r["QE"], rel=1e-10)
    assert p.q_p == pytest.approx(r["QEp"], rel=1e-7)
    assert 100 * p.i2 == pytest.approx(r["I2"], rel=1e-8)     # metafor prints I2 in percent
    assert (p.k, p.q_df) == (9, 8)
    assert sum(p.weights) == pytest.approx(1.0)


def _animals(values: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """``values`` shifted and scaled to exactly this sample mean and SD (ddof 1)."""
    z = (values - values.mean()) / values.std(ddof=1)
    return mean + sd * z


def _trial(studies) -> Trial:
    return Trial("t", None, 0, {"treated": Arm("treated", None), "control": Arm("control", None)},
                 studies, [], [Outcome("count BMSC", 60.0)], [Comparison("treated", "control")],
                 Resources())


def test_the_effects_table_from_animal_values_reproduces_metafor():
    # animals whose group summaries are those of the six studies: the whole path from one
    # value per animal to the effects table gives metafor's g for each study
    rng = np.random.default_rng(3)
    rows = []
    studies = []
    for i, (name, m1, s1, n1, m2, s2, n2) in enumerate(CHEN_PEACE):
        studies.append(Study(name, n1, (), {"dose": "high" if i % 2 else "low"}))
        for arm, m, s, n in (("treated", m1, s1, n1), ("control", m2, s2, n2)):
            for v in _animals(rng.normal(size=n), m, s):
                rows.append({"study": name, "arm": arm, "status": "finished",
                             "count BMSC @ 1 h": v})
    table = effects_table(_trial(studies), pd.DataFrame(rows))
    per_study = table[table["level"] == "study"].set_index("study")
    for (name, *_), yi in zip(CHEN_PEACE, METAFOR_YI):
        assert per_study.loc[name, "g"] == pytest.approx(yi, rel=1e-5)
    pooled = table[table["level"] == "pooled"].iloc[0]
    direct = pool(per_study["g"], per_study["var"])
    assert pooled["g"] == pytest.approx(direct.g) and pooled["k"] == 6
    # subgroup rows: one pooling per level, and the test for differences between them
    sub = table[table["level"] == "subgroup"]
    assert sorted(sub["group"]) == ["high", "low"]
    test = table[table["level"] == "subgroup test"].iloc[0]
    assert test["q_df"] == 1


def test_subgroup_difference_is_cochrans_q_of_the_subgroup_estimates():
    # an independent plain-NumPy Q: sum of inverse-variance-weighted squared deviations
    a = pool(METAFOR_YI[:3], META_VI[:3])
    b = pool(METAFOR_YI[3:], META_VI[3:])
    q, df, p = subgroup_test({"a": a, "b": b})
    est = np.array([a.g, b.g])
    w = 1 / np.array([a.se, b.se]) ** 2
    mean = (w * est).sum() / w.sum()
    assert q == pytest.approx(float((w * (est - mean) ** 2).sum()), rel=1e-12)
    assert df == 1
    from scipy.stats import chi2
    assert p == pytest.approx(chi2.sf(q, 1))


def test_no_variation_between_animals_gives_no_effect_size():
    same = summarize([1.5338, 1.5338, 1.5338])
    noisy = summarize([1.5338, 1.5338 * (1 + 1e-15), 1.5338])
    assert math.isnan(hedges_g(same, same).g)
    e = hedges_g(noisy, same)
    assert math.isnan(e.g) and "rounding" in e.note
    assert math.isnan(hedges_g(summarize([1.0]), summarize([1.0, 2.0])).g)


def test_one_study_is_its_own_pooled_effect():
    p = pool([0.8], [0.04])
    assert (p.g, p.se, p.k) == (0.8, pytest.approx(0.2), 1)
    assert math.isnan(p.q) and p.tau2 == 0.0


def test_tau2_is_truncated_at_zero_when_q_is_below_its_df():
    # studies 1, 3, 5 of Chen & Peace agree closely (Q 1.94 on 2 df): DerSimonian-Laird's
    # tau^2 is max(0, .) = 0 and the pooled effect is the inverse-variance (fixed-effect)
    # mean, computed here independently in plain NumPy
    y, v = np.array(METAFOR_YI[::2]), np.array(META_VI[::2])
    p = pool(y, v)
    w = 1 / v
    fe = float((w * y).sum() / w.sum())
    assert p.q < p.q_df and p.tau2 == 0.0 and p.i2 == 0.0
    assert p.g == pytest.approx(fe, rel=1e-12)
    assert p.se == pytest.approx(math.sqrt(1 / w.sum()), rel=1e-12)
    assert p.weights == pytest.approx(list(w / w.sum()))
