"""Shortened scenarios: to the first treatment (or the last event) and a few steps more."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tiny_experiment import TEXT, write  # noqa: E402

from abm.errors import ModelInputError  # noqa: E402
from abm.experiment import run_arms, shorten, treatment_times  # noqa: E402
from abm.scenario import load_scenario  # noqa: E402


def test_the_treatment_is_the_event_an_arm_leaves_out(tmp_path):
    path = write(tmp_path)
    assert treatment_times(path) == [10.0]
    s = shorten(path, steps_after=3)
    # the injection at 10 min fires at the start of step 5 (dt 2 min): 5 + 3 steps
    assert (s.anchor, s.anchor_min, s.duration_min) == ("first treatment", 10.0, 16.0)
    sc = load_scenario(path, list(s.overrides) + ["arm=treated"])
    assert sc.domain.n_steps == 8 and sc.outputs.readout_every == 2.0
    runs = run_arms(path, seeds=[1], overrides=s.overrides, backend="numpy")
    t, c = runs["treated"][0], runs["control"][0]
    assert list(t.time_min) == [2.0 * k for k in range(9)]        # every step recorded
    assert t.value("count BMSC", 8.0) == 0 and t.value("count BMSC") > 0   # it fired
    assert c.value("count BMSC") == 0


def test_an_event_an_arm_moves_is_a_treatment_too(tmp_path):
    text = TEXT.replace("control: {without: [cells]}",
                        "control: {without: [cells]}\n  late: {set: [\"events.0.at=30 min\"]}")
    assert treatment_times(write(tmp_path, text)) == [10.0, 30.0]


def test_without_arms_it_waits_for_the_last_event(tmp_path):
    # the tiny experiment without its arms: a bolus at 0 min and the injection at 10 min
    text = TEXT.replace("  control: {without: [cells]}\n", "").replace("arms:\n  treated: {}\n", "")
    text = text.replace("expect: treated > control", "expect: a > b").split("reported:")[0]
    path = write(tmp_path, text, "noarms.yaml")
    assert load_scenario(path).arms == {}
    s = shorten(path)
    assert (s.anchor, s.anchor_min, s.duration_min) == ("last event", 10.0, 20.0)
    assert s.overrides[0] == "domain.duration=20.0 min"


def test_a_shortened_run_is_never_longer_and_a_fixed_duration_wins(tmp_path):
    path = write(tmp_path)
    assert shorten(path, steps_after=1000).duration_min == 60.0
    s = shorten(path, duration="20 min", overrides=["domain.dt=5 min"], every_step=False)
    assert s.overrides == ("domain.dt=5 min", "domain.duration=20.0 min")
    assert s.anchor == "fixed duration"
    with pytest.raises(ModelInputError, match="duration '3 kg'"):
        shorten(path, duration="3 kg")
    with pytest.raises(ModelInputError, match="steps_after"):
        shorten(path, steps_after=0)


def test_a_scenario_without_events_runs_its_steps_after(tmp_path):
    text = TEXT.split("arms:")[0] + "outputs: {readouts: [total SDF-1a]}\n"
    s = shorten(write(tmp_path, text), steps_after=4)
    assert (s.anchor, s.duration_min) == ("no events", 8.0)


def test_a_late_treatment_can_be_moved_earlier(tmp_path):
    path = write(tmp_path, TEXT.replace("at: 10 min, injection", "at: 40 min, injection"))
    s = shorten(path, treatment_at="4 min", steps_after=2)
    assert s.overrides[0] == "events.0.at=4 min"
    assert (s.anchor_min, s.duration_min) == (4.0, 8.0)
    quick = load_scenario(path, list(s.overrides))
    assert [e.time for e in quick.events if e.kind == "injection"] == [4.0]
    noarms = write(tmp_path, TEXT.split("arms:")[0] + "outputs: {readouts: [total SDF-1a]}\n",
                   "noarms.yaml")
    with pytest.raises(ModelInputError, match="no arm of noarms.yaml leaves out an event"):
        shorten(noarms, treatment_at="4 min")
