"""Arms of one experiment (treated, control, ...) and the paper's reported findings."""

import numpy as np
import pytest

from abm.cli import main
from abm.run.runner import resume_run, run_scenario
from abm.runfile import open_run
from abm.scenario import ScenarioError, load_scenario, load_scenario_text

TEXT = """\
name: armtest
domain: {extent: [200 um, 200 um, 100 um], voxel: 25 um, dt: 2 min, duration: 1 h, seed: 1}
fields: {SDF-1a: {}}
cell_types: {BMSC: {}}
arms:
  treated: {}
  control: {without: [cells]}
  coarse: {description: longer steps, set: ["domain.dt=5 min"]}
events:
  - {name: cells, at: 10 min, injection: {cell_type: BMSC, dose: 20 cells, route: local,
     target: {shape: sphere, center: [100 um, 100 um, 50 um], radius: 50 um}}}
  - {at: 0 min, bolus: {field: SDF-1a, amount: 1 ng, region: all}}
outputs:
  readout_every: 10 min
  readouts: [count BMSC, total SDF-1a]
reported:
  - {readout: count BMSC, at: 30 min, expect: treated > control, source: "a test"}
"""


def test_the_first_arm_is_the_default_and_keeps_every_event():
    sc = load_scenario_text(TEXT)
    assert sc.arm == "treated"
    assert sorted(e.kind for e in sc.events) == ["bolus", "injection"]
    assert list(sc.arms) == ["treated", "control", "coarse"]


def test_the_control_arm_leaves_out_the_named_event_only():
    sc = load_scenario_text(TEXT, overrides=["arm=control"])
    assert sc.arm == "control"
    assert [e.kind for e in sc.events] == ["bolus"]


def test_an_arm_set_entry_is_an_override():
    assert load_scenario_text(TEXT, overrides=["arm=coarse"]).domain.dt == 5.0
    assert load_scenario_text(TEXT).domain.dt == 2.0


def test_reported_findings_are_parsed_with_their_time_in_minutes():
    (c,) = load_scenario_text(TEXT).reported
    assert (c.readout, c.time, c.a, c.op, c.b) == ("count BMSC", 30.0, "treated", ">", "control")
    assert c.holds(3, 1) and not c.holds(1, 1)


@pytest.mark.parametrize("change, where, words", [
    (("arm=contrl",), "arm", "did you mean 'control'"),
    ((), "arms.control.without[0]", "no event is named 'cels'"),
    ((), "reported[0].expect", "no arm named 'treatd'"),
    ((), "reported[0].readout", "is not one of outputs.readouts"),
    ((), "reported[0].expect", "write 'ARM > ARM'"),
])
def test_bad_arms_and_findings_are_named_with_their_key(change, where, words):
    text = TEXT
    if "cels" in words:
        text = text.replace("without: [cells]", "without: [cels]")
    elif "treatd" in words:
        text = text.replace("expect: treated > control", "expect: treatd > control")
    elif "outputs.readouts" in words:
        text = text.replace("readout: count BMSC,", "readout: count BMSC in core,")
    elif "ARM > ARM" in words:
        text = text.replace("expect: treated > control", "expect: treated >= control")
    with pytest.raises(ScenarioError) as e:
        load_scenario_text(text, overrides=list(change))
    assert where in str(e.value) and words in str(e.value)


def test_an_arm_without_arms_is_refused():
    text = TEXT.split("arms:")[0] + "events: []\noutputs: {readouts: [count BMSC]}\n"
    with pytest.raises(ScenarioError, match="declares no arms"):
        load_scenario_text(text, overrides=["arm=control"])


def test_two_events_with_one_name_are_refused():
    text = TEXT.replace("- {at: 0 min, bolus", "- {name: cells, at: 0 min, bolus")
    with pytest.raises(ScenarioError, match="also names event 0"):
        load_scenario_text(text)


def test_an_arm_is_stored_with_the_run_and_a_resume_stays_in_it(tmp_path):
    path = tmp_path / "armtest.yaml"
    path.write_text(TEXT)
    full = run_scenario(load_scenario(path, ["arm=control"]), tmp_path / "full.h5", progress=False)
    part = run_scenario(load_scenario(path, ["arm=control", "domain.duration=30 min"]),
                        tmp_path / "part.h5", progress=False)
    resume_run(part, until="60 min", progress=False)
    with open_run(full) as a, open_run(part) as b:
        ra, rb = a.readouts(), b.readouts()
        assert np.array_equal(ra["count BMSC"], rb["count BMSC"])
        assert not ra["count BMSC"].any()              # the control never got the cells
        assert np.array_equal(ra["total SDF-1a"], rb["total SDF-1a"])


def test_abm_run_names_the_file_after_the_arm(tmp_path, monkeypatch, capsys):
    path = tmp_path / "armtest.yaml"
    path.write_text(TEXT)
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(path), "--arm", "control", "--quiet"]) == 0
    assert (tmp_path / "armtest_control.h5").exists()
    assert main(["validate", str(path), "--arm", "nope"]) == 2
    assert "unknown arm 'nope'" in capsys.readouterr().err
