"""Repeated dosing on any event (issue 11, item 3): ``repeat: {every, times | until}``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from delivery_helpers import load, scenario_text, seeds_row  # noqa: E402

from abm.cli import main  # noqa: E402
from abm.run.runner import run_scenario  # noqa: E402
from abm.runfile import open_run  # noqa: E402
from abm.scenario import ScenarioError, load_scenario_text  # noqa: E402

DAY = 1440.0


def dosing(repeat, kind="exo", at="1 d"):
    body = ("exosomes: {dose: 1e9 particles, route: local, target: core}" if kind == "exo" else
            "injection: {cell_type: Graft, dose: 100 cells, route: intracerebral, target: core}")
    return f"  - at: {at}\n    repeat: {repeat}\n    {body}\n"


def test_times_and_until_expand_to_the_right_dose_times():
    sc = load(dosing("{every: 3 d, times: 4}"), duration="12 d")
    assert [e.time for e in sc.events if e.kind == "exosomes"] == \
        [DAY * d for d in (1, 4, 7, 10)]
    sc = load(dosing("{every: 12 h, until: 3 d}"), duration="4 d")
    assert [e.time for e in sc.events if e.kind == "exosomes"] == \
        [DAY * d for d in (1, 1.5, 2, 2.5, 3)]


def test_each_dose_fires_field_total_and_cells(tmp_path):
    text = scenario_text(dosing("{every: 6 h, times: 3}", at="1 h")
                         + dosing("{every: 6 h, times: 3}", kind="cells", at="2 h"),
                         duration="1 d", snap="12 h").replace("decay", "decay")
    text = text.replace("exosome: {unit: 1e9 particles/mL, diffusion: 0 um^2/s}",
                        "exosome: {unit: 1e9 particles/mL, diffusion: 0 um^2/s, decay: 0 1/min}")
    p = tmp_path / "rep.yaml"
    p.write_text(text)
    out = run_scenario(p, tmp_path / "rep.h5", progress=False)
    with open_run(out) as r:
        ro = r.readouts()
    t, tot, cells = ro["time_min"], ro["total exosome"], ro["count Graft"]
    per_dose = round(100 * (1 - seeds_row("cells:intracerebral_reflux_loss")))
    for k in range(3):
        lo, hi = 60 + 360 * k, 60 + 360 * (k + 1)
        rows = (t > lo + 1e-9) & (t <= hi + 1e-9)
        assert np.allclose(tot[rows], 1e9 * (k + 1), rtol=1e-9), (k, tot[rows])
        c_rows = (t > lo + 60 + 1e-9) & (t <= hi + 60 + 1e-9) & (t <= t[-1])
        assert (cells[c_rows] == per_dose * (k + 1)).all(), (k, cells[c_rows])
    assert tot[t <= 60][-1] == 0


def test_validate_lists_each_dose(tmp_path, capsys):
    p = tmp_path / "rep.yaml"
    p.write_text(scenario_text(dosing("{every: 3 d, times: 4}"), duration="12 d"))
    assert main(["validate", str(p)]) == 0
    out = capsys.readouterr().out
    for d in (1, 4, 7, 10):
        assert f"{DAY * d:g} min exosomes" in out


def test_a_dose_after_the_end_is_refused_at_repeat_unless_the_end_was_overridden(tmp_path):
    text = scenario_text(dosing("{every: 3 d, times: 4}"), duration="8 d")
    with pytest.raises(ScenarioError) as ei:
        load_scenario_text(text, name="rep.yaml")
    msg = str(ei.value)
    assert "events[1].repeat" in msg and "1 of the 4 doses" in msg and "14400 min" in msg, msg
    sc = load_scenario_text(text, name="rep.yaml", overrides=["domain.duration=8 d"])
    assert any("never happen" in w for w in sc.warnings)


@pytest.mark.parametrize("repeat, where, words", [
    ("{every: 3 d}", "events[1].repeat", "exactly one of times"),
    ("{every: 3 d, times: 2, until: 9 d}", "events[1].repeat.until", "exactly one of times"),
    ("{every: 0 d, times: 2}", "events[1].repeat.every", ""),
    ("{every: 1 d, times: 0}", "events[1].repeat.times", ""),
    ("{every: 1 d, until: 12 h}", "events[1].repeat.until", "before the first dose"),
    ("{evry: 1 d, times: 2}", "events[1].repeat.evry", "did you mean 'every'"),
])
def test_bad_repeats_are_refused_at_their_key(repeat, where, words):
    with pytest.raises(ScenarioError) as ei:
        load(dosing(repeat), duration="12 d")
    msg = str(ei.value)
    assert where in msg and words in msg, msg
