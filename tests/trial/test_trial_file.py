"""Trial files: what they declare, and one clear located message for each mistake."""

import sys
from pathlib import Path

import pytest

from abm.cli import main
from abm.scenario import ScenarioError
from abm.trial import check_trial, is_trial_file, load_trial

sys.path.insert(0, str(Path(__file__).parent))

from trial_helpers import TRIAL, write_trial  # noqa: E402


def test_a_trial_file_is_read_with_its_arms_outcomes_and_variability(tmp_path):
    t = load_trial(write_trial(tmp_path))
    assert list(t.arms) == ["treated", "control"]
    assert t.arms["control"].overrides == ("arm=control",)
    assert [(c.treated, c.control) for c in t.comparisons] == [("treated", "control")]
    assert [(o.readout, o.time) for o in t.outcomes] == [("count BMSC", 30.0), ("total SDF-1a", None)]
    (v,) = t.variability
    assert (v.key, v.kind, v.unit, v.whole) == ("events.0.injection.dose", "lognormal", "cells", True)
    assert v.params == {"mean": 20.0, "cv": 0.3}
    assert t.n_runs == 8 and [s.name for s in t.studies] == ["tiny"]
    loaded = check_trial(t)
    assert sorted(loaded) == [("tiny", "control"), ("tiny", "treated")]
    assert is_trial_file(tmp_path / "trial.yaml") and not is_trial_file(tmp_path / "tiny.yaml")


def _error(tmp_path, old, new, check=False) -> str:
    base = TRIAL.format(animals=4)
    text = base.replace(old, new)
    assert text != base, old
    path = write_trial(tmp_path, trial=text)
    with pytest.raises(ScenarioError) as e:
        t = load_trial(path)
        if check:
            check_trial(t)
    return str(e.value)


# (text replaced, replacement, words expected in the message, line expected, needs the scenarios)
BAD = [
    ("  seed: 7\n", "  sed: 7\n", "unknown key 'sed' (did you mean 'seed'?)", 4, False),
    ("  animals: 4", "  animals: 1", "animals per arm must be >= 2, got 1", 5, False),
    ("cv: 0.3", "sd: 0.3", "lognormal takes mean and cv", 10, False),
    ("{lognormal: {mean: 20 cells, cv: 0.3}, whole: true}",
     "{normal: {mean: 20 cells, sd: 3 um}}", "does not have the dimension", 10, False),
    ("{lognormal: {mean: 20 cells, cv: 0.3}, whole: true}",
     "{normal: {mean: 20 cells, sd: 3 cells}, min: 50 cells, max: 60 cells}",
     "no value within [50, 60] cells", 10, False),
    ("{lognormal: {mean: 20 cells, cv: 0.3}, whole: true}", "{gaussian: {mean: 2}}",
     "unknown key 'gaussian'", 10, False),
    ("    control: {set: [arm=control]}\n", "    control: {set: [arm=control]}\n"
     "  comparisons: [treated vs contrl]\n", "no arm named 'contrl' (did you mean 'control'?)", 9, False),
    ("  scenario: tiny.yaml", "  scenario: tinny.yaml", "scenario file 'tinny.yaml' not found", 3, False),
    ("  outcomes:\n", "  outcome:\n", "unknown key 'outcome'", 11, False),
    ("{readout: count BMSC, at: 30 min}", "{readout: count BMSCs, at: 30 min}",
     "'count BMSCs' is not a readout of tiny.yaml", 12, True),
    ("{readout: count BMSC, at: 30 min}", "{readout: count BMSC, at: 35 min}",
     "35 min is not a readout time", 12, True),
    ("{readout: count BMSC, at: 30 min}", "{readout: count BMSC, at: 30 kg}", "expected a time", 12, False),
    ("events.0.injection.dose:", "events.5.injection.dose:", "has 2 entries; index 5 does not exist",
     10, True),
    ("treated: {set: [arm=treated]}", "treated: {set: [arm=treatd]}", "unknown arm 'treatd'", 7, True),
]


@pytest.mark.parametrize("old, new, words, line, check", BAD, ids=[b[2][:40] for b in BAD])
def test_a_bad_trial_file_is_one_located_message(tmp_path, old, new, words, line, check):
    msg = _error(tmp_path, old, new, check)
    assert words in msg, msg
    assert msg.startswith(f"trial.yaml, line {line}"), msg


def test_abm_validate_checks_a_trial_file_and_exits_2_with_one_line(tmp_path, capsys):
    path = write_trial(tmp_path)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "trial tiny" in out and "8 runs" in out and "compare treated vs control" in out
    path.write_text(TRIAL.format(animals=4).replace("count BMSC, at", "count BMCS, at"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 12" in err[0] and "did you mean 'count BMSC'" in err[0]
    assert "Traceback" not in err[0]
    assert main(["validate", str(path), "--arm", "control"]) == 2
    assert "--set and --arm apply to scenario files" in capsys.readouterr().err


def test_studies_need_the_same_subgroup_factors(tmp_path):
    extra = """\
      studies:
        - {name: a, animals: 3, subgroups: {frequency: weekly}}
        - {name: b, animals: 3}
    """
    with pytest.raises(ScenarioError, match="same subgroup factors"):
        load_trial(write_trial(tmp_path, extra=extra))


def test_cluster_resources_are_read_with_units(tmp_path):
    extra = """\
      cluster: {cores: 4, memory: 16 GB, walltime: 90 min, queue: gpu, account: lab, gpus: 1,
                jobs: 8, prologue: [module load cuda]}
    """
    r = load_trial(write_trial(tmp_path, extra=extra)).resources
    assert (r.cores, r.walltime, r.queue, r.account, r.gpus, r.jobs) == (4, "01:30:00", "gpu", "lab", 1, 8)
    assert r.memory == "14.9GiB"            # 16 GB = 16e9 bytes
    assert r.prologue == ("module load cuda",)
    bad = extra.replace("16 GB", "16 um")
    with pytest.raises(ScenarioError, match="memory must be an amount of memory"):
        load_trial(write_trial(tmp_path, extra=bad))


def test_the_example_trial_is_valid(capsys):
    example = Path(__file__).parents[2] / "scenarios" / "trials" / "cortex_trial.yaml"
    assert main(["validate", str(example)]) == 0
    out = capsys.readouterr().out
    assert "8 runs" in out and "(arms: treated)" in out and "count BMSC in penumbra @ 6 h" in out


STUDY_ARMS = """\
  studies:
    - {name: a, animals: 2, subgroups: {dose: low}}
    - name: b
      animals: 3
      set: ["domain.duration=50 min"]
      arms: {treated: {set: ["events.0.injection.dose=40 cells"]}}
      subgroups: {dose: high}
"""


def test_a_study_may_override_one_arm_after_its_own_set(tmp_path):
    from abm.trial.animals import plan_animals

    t = load_trial(write_trial(tmp_path, extra=STUDY_ARMS))
    a, b = t.studies
    assert a.arm_overrides == {} and b.arm_overrides == {"treated": ("events.0.injection.dose=40 cells",)}
    assert b.overrides_of("treated") == ("domain.duration=50 min", "events.0.injection.dose=40 cells")
    assert b.overrides_of("control") == ("domain.duration=50 min",)
    plan = {x.name: x for x in plan_animals(t, tmp_path / "out")}
    assert len(plan) == 10 and t.n_runs == 10
    # trial, arm, study, the study's arm entry, then the draws (which win over all)
    assert plan["b-treated-000"].overrides[:3] == ("arm=treated", "domain.duration=50 min",
                                                   "events.0.injection.dose=40 cells")
    assert plan["b-treated-000"].overrides[3].startswith("events.0.injection.dose=")
    assert plan["b-control-000"].overrides[:2] == ("arm=control", "domain.duration=50 min")
    assert not any("40 cells" in o for o in plan["b-control-000"].overrides)
    assert plan["a-treated-000"].overrides[0] == "arm=treated" and len(plan["a-treated-000"].overrides) == 2
    loaded = check_trial(t)
    assert loaded[("b", "treated")].domain.duration == 50.0
    assert loaded[("a", "treated")].domain.duration == 60.0


@pytest.mark.parametrize("old, new, words, line, check", [
    ("arms: {treated: {set:", "arms: {treatd: {set:", "no arm named 'treatd' (did you mean 'treated'?)",
     19, False),
    ("arms: {treated: {set:", "arms: {treated: {sett:", "unknown key 'sett' (did you mean 'set'?)", 19, False),
    ("arms: {treated: {set:", "arms: {treated: {description: x, set:", "unknown key 'description'",
     19, False),
    ('["events.0.injection.dose=40 cells"]', "[arm=treatd]", "unknown arm 'treatd'", 19, True),
    ('["events.0.injection.dose=40 cells"]', '["domain.dt=5 kg"]',
     "the scenario refuses this study (with arm treated, study b): tiny.yaml, --set domain.dt", 19, True),
])
def test_a_bad_study_arm_entry_is_one_located_message(tmp_path, old, new, words, line, check):
    text = STUDY_ARMS.replace(old, new)
    assert text != STUDY_ARMS
    with pytest.raises(ScenarioError) as e:
        t = load_trial(write_trial(tmp_path, extra=text))
        if check:
            check_trial(t)
    msg = str(e.value)
    assert words in msg, msg
    assert msg.startswith(f"trial.yaml, line {line}, trial.studies[1].arms."), msg
