"""The shipped trial files of the seed experiments, and a tiny real run of seed 002's design.

* every file of scenarios/trials/ passes ``abm validate`` (each trial loads every
  (study, arm) scenario it names with its overrides);
* every seed scenario of scenarios/bone/ and scenarios/brain/ has a trial, whose header says
  which experiment it is (the seed file) and how many runs it makes;
* the virtual meta-analysis of seed 002 (ovx_evs_meta_trial.yaml) has at least three studies
  that differ in injection frequency, treatment duration and N, each EV arm on the scenario's
  schedule its subgroups name, against OVX controls, with the seven outcomes of the seed; its
  reduced variant is the same design on a smaller block;
* a real run of the design on a tiny block (2 studies x 2 arms x 2 animals, 2 weeks): one
  effects row per study and outcome with a finite Hedges' g, equal to the textbook formula on
  the animals' values, and a DerSimonian-Laird pooled estimate with its subgroups.
"""

import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abm.cli import main
from abm.trial import check_trial, is_trial_file, load_trial, run_trial

sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parents[2]
TRIALS = ROOT / "scenarios" / "trials"
SHIPPED = sorted(TRIALS.glob("*.yaml"))
META = TRIALS / "ovx_evs_meta_trial.yaml"
REDUCED = TRIALS / "ovx_evs_meta_trial_reduced.yaml"
#: seed 002's seven outcomes, as the scenario's readouts name them
SEVEN = ["BMD", "BV/TV", "Tb.N", "Tb.Sp", "Tb.Th", "Ct.Th", "ultimate_load"]
WEEK = 7 * 24 * 60.0            # min


def _header(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(ln for ln in lines[:next(i for i, ln in enumerate(lines) if not ln.startswith("#"))])


def test_the_trial_folder_holds_the_seed_trials():
    names = {p.name for p in SHIPPED}
    assert {"ovx_evs_meta_trial.yaml", "ovx_evs_meta_trial_reduced.yaml", "calvarial_defect_evs_trial.yaml",
            "zhang2006_mcao_trial.yaml", "chen2003_mcao_trial.yaml", "liu2022_shr_trial.yaml",
            "ni2019_tbi_trial.yaml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_trial_file_passes_abm_validate(path, capsys):
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    if is_trial_file(path):
        t = load_trial(path)
        assert out.startswith(f"trial {t.name} ({path.name}): seed {t.seed}, {t.n_runs} runs")
        assert len(check_trial(t)) == len(t.studies) * len(t.arms)
    else:
        assert out.startswith("sweep ")


def test_every_seed_scenario_has_a_trial_whose_header_names_the_experiment_and_its_runs():
    trials = [load_trial(p) for p in SHIPPED if is_trial_file(p)]
    used = {a.scenario.resolve() for t in trials for a in t.arms.values()}
    for scenario in sorted((ROOT / "scenarios" / "bone").glob("*.yaml")) + \
            sorted((ROOT / "scenarios" / "brain").glob("*.yaml")):
        assert scenario.resolve() in used, f"no trial of {scenario.name} in scenarios/trials/"
    for t in trials:
        if not any(a.scenario.parent.name in ("bone", "brain") for a in t.arms.values()):
            continue                                  # the quickstart-sized example
        head = _header(t.source)
        assert re.search(r"seed 00[0-2]", head), f"{t.source.name}: which seed experiment?"
        assert f"{t.n_runs} runs" in head, f"{t.source.name}: header should say {t.n_runs} runs"
        assert "ESTIMATE" in head, f"{t.source.name}: say the variability is an estimate"


def _meta_design(t):
    return ([(s.name, s.animals, s.overrides, s.arm_overrides, s.subgroups) for s in t.studies],
            {n: a.overrides for n, a in t.arms.items()}, t.outcomes, t.comparisons)


def test_the_meta_trial_is_seed_002s_design():
    t = load_trial(META)
    head = _header(META)
    assert "002_d22e3df16e83e9bf.txt" in head and "doi:10.1371/journal.pone.0327011" in head
    assert "ovx_evs_meta_trial_reduced.yaml" in head
    assert [(c.treated, c.control) for c in t.comparisons] == [("ev", "ovx")]
    assert [(o.readout, o.time) for o in t.outcomes] == [(r, None) for r in SEVEN]   # end of treatment
    assert len(t.studies) >= 3
    assert all(set(s.subgroups) == {"frequency", "duration"} for s in t.studies)
    levels = {f: {s.subgroups[f] for s in t.studies} for f in ("frequency", "duration")}
    assert levels == {"frequency": {"weekly", "every 3 days"}, "duration": {"4 weeks", "8 weeks"}}
    assert len({s.animals for s in t.studies}) >= 3 and min(s.animals for s in t.studies) >= 5
    loaded = check_trial(t)
    schedule = {"weekly": 7 * 24 * 60.0, "every 3 days": 3 * 24 * 60.0}
    for s in t.studies:
        weeks = int(s.subgroups["duration"].split()[0])
        ev, ovx = loaded[(s.name, "ev")], loaded[(s.name, "ovx")]
        # the EV arm gets the schedule its subgroups name; the control keeps the scenario's ovx arm
        doses = sorted(e.time for e in ev.events if e.kind == "exosomes")
        assert len(doses) >= 4 and doses[0] == pytest.approx(WEEK), s.name
        assert np.allclose(np.diff(doses), schedule[s.subgroups["frequency"]]), s.name
        assert doses[-1] < (1 + weeks) * WEEK <= doses[-1] + schedule[s.subgroups["frequency"]] + 1e-6
        assert [e.kind for e in ovx.events] == ["ovariectomy"], s.name
        # read at the end of treatment: one week before it, then its weeks
        assert ev.domain.duration == ovx.domain.duration == pytest.approx((1 + weeks) * WEEK), s.name
    # the variability: EV dose in the treated arm only, densities and the bone's geometry seed
    keys = {v.key: v for v in t.variability}
    assert keys["events.1.exosomes.dose"].arms == ("ev",)
    assert "tissue.labels.0.region.anatomy.seed" in keys
    assert all(0.1 <= v.params.get("cv", v.params.get("sd", 0) / v.params.get("mean", 1)) <= 0.3
               for v in t.variability if v.kind != "uniform")


def test_the_reduced_meta_trial_is_the_same_design_on_the_reduced_block():
    full, red = load_trial(META), load_trial(REDUCED)
    assert _meta_design(red) == _meta_design(full)
    assert "domain.extent=[0.7 mm, 0.3 mm, 0.1 mm]" in red.overrides
    assert "tissue.labels.0.region.anatomy.center=[-1250 um, 150 um]" in red.overrides
    assert {v.key for v in red.variability} == {v.key for v in full.variability} - {
        "tissue.labels.0.region.anatomy.seed"}
    sc = check_trial(red)[("s1_weekly_8wk", "ev")]
    assert sc.domain.shape == (35, 15, 5)


TINY = """\
trial:
  name: tiny_meta
  scenario: {scenario}
  seed: 3
  set:
    - "domain.extent=[0.7 mm, 0.2 mm, 0.06 mm]"
    - "tissue.labels.0.region.anatomy.center=[-1250 um, 150 um]"
    - "domain.duration=2 week"
    - "outputs.snapshot_every=2 week"
    - "outputs.checkpoint_every=2 week"
  arms:
    ev: {{set: [arm=ev_weekly_4wk]}}
    ovx: {{set: [arm=ovx]}}
  variability:
    events.1.exosomes.dose: {{lognormal: {{mean: 100 ug, cv: 0.3}}, arms: [ev]}}
    populations.0.density: {{normal: {{mean: 4.2e4 cells/mm^3, sd: 6.3e3 cells/mm^3}}, min: 2e4 cells/mm^3}}
    populations.1.density: {{lognormal: {{mean: 1.25e4 cells/mm^3, cv: 0.25}}}}
  outcomes: [BMD, BV/TV, Tb.Sp, Ct.Th, ultimate_load]
  studies:
    - {{name: weekly, animals: 2, subgroups: {{frequency: weekly}}}}
    - {{name: every3d, animals: 2, arms: {{ev: {{set: [arm=ev_3d_4wk]}}}}, subgroups: {{frequency: every 3 days}}}}
"""


def _hedges_g(t: np.ndarray, c: np.ndarray) -> float:
    """Textbook Hedges' g (Hedges & Olkin 1985): pooled-SD SMD times J = 1 - 3 / (4 df - 1)."""
    n1, n2 = len(t), len(c)
    sp = math.sqrt(((n1 - 1) * t.var(ddof=1) + (n2 - 1) * c.var(ddof=1)) / (n1 + n2 - 2))
    return (1 - 3 / (4 * (n1 + n2 - 2) - 1)) * (t.mean() - c.mean()) / sp


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_tiny_run_of_the_meta_design_gives_a_row_per_study_and_outcome_and_a_pooled_g(tmp_path):
    path = tmp_path / "tiny_meta.yaml"
    path.write_text(TINY.format(scenario=ROOT / "scenarios" / "bone" / "ovx_rat_evs.yaml"))
    trial = load_trial(path)
    res = run_trial(trial, tmp_path / "out", workers=1, progress=False, echo=lambda *_: None)
    assert res.problems == []
    animals = pd.read_csv(tmp_path / "out" / "animals.csv")
    assert len(animals) == 8 and (animals["status"] == "finished").all()
    # within the 2 weeks the weekly study's EV animals get a dose on day 7, the every-3-days
    # study's on days 7, 10 and 13: the study's arms: entry chose their schedule
    loaded = check_trial(trial)
    days = {s: [e.time / 1440 for e in loaded[(s, "ev")].events
                if e.kind == "exosomes" and e.time < 14 * 1440] for s in ("weekly", "every3d")}
    assert days == {"weekly": [7.0], "every3d": [7.0, 10.0, 13.0]}
    eff = res.effects
    assert set(eff["outcome"]) == {f"{r} @ end" for r in ("BMD", "BV/TV", "Tb.Sp", "Ct.Th", "ultimate_load")}
    studies = eff[eff["level"] == "study"]
    assert len(studies) == 5 * 2
    assert sorted(studies.groupby("outcome").size()) == [2] * 5
    assert (studies["n_treated"] == 2).all() and (studies["n_control"] == 2).all()
    assert np.isfinite(studies["g"]).all() and (studies["var"] > 0).all()
    assert (studies["ci_low"] < studies["g"]).all() and (studies["g"] < studies["ci_high"]).all()
    for _, r in studies.iterrows():       # g is the textbook formula on the animals' values
        here = animals[animals["study"] == r["study"]]
        t = here.loc[here["arm"] == "ev", r["outcome"]].to_numpy(float)
        c = here.loc[here["arm"] == "ovx", r["outcome"]].to_numpy(float)
        assert r["mean_treated"] == pytest.approx(t.mean()) and r["sd_control"] == pytest.approx(c.std(ddof=1))
        assert r["g"] == pytest.approx(_hedges_g(t, c), rel=1e-9)
    pooled = eff[eff["level"] == "pooled"].set_index("outcome")
    assert len(pooled) == 5 and (pooled["k"] == 2).all()
    for o, p in pooled.iterrows():
        gs = studies.loc[studies["outcome"] == o, "g"]
        assert np.isfinite(p["g"]) and p["ci_low"] < p["g"] < p["ci_high"]
        assert gs.min() - 1e-12 <= p["g"] <= gs.max() + 1e-12      # a weighted mean of the studies
        assert 0.0 <= p["i2"] <= 1.0 and p["tau2"] >= 0.0 and p["q_df"] == 1
    sub = eff[eff["level"] == "subgroup"]
    assert sorted(set(sub["group"])) == ["every 3 days", "weekly"] and len(sub) == 10
    assert (sub["k"] == 1).all()
    test = eff[eff["level"] == "subgroup test"]
    assert len(test) == 5 and (test["q_df"] == 1).all() and np.isfinite(test["q"]).all()
    assert len(list((tmp_path / "out").glob("forest_*.png"))) == 5
