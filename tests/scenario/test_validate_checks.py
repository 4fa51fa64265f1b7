"""``abm validate`` catches what is knowable before running (issue 16, item 3).

Each case is a scenario mistake a user makes; the expected room and step counts are
counted here from the geometry, independently of the loader.
"""

from __future__ import annotations

import itertools

import pytest

from abm.cli import main
from abm.scenario import ScenarioError, load_scenario

BASE = """
name: checks
domain:
  extent: [200 um, 200 um, 200 um]
  voxel: 20 um
  dt: {dt}
  duration: {duration}
fields:
  SDF-1a: {{}}
cell_types:
  BMSC: {{parameters: {{death: 0 1/min, division: 0 1/min}}}}   # counts stay exact
events:
  - at: {at}
    injection: {{cell_type: BMSC, dose: {dose}, route: local,
                target: {{shape: box, lower: [0 um, 0 um, 0 um], upper: [60 um, 60 um, 60 um]}}}}
outputs:
  readout_every: {every}
"""


def write(tmp_path, dt="1 min", duration="2 h", at="30 min", dose="10 cells", every="10 min"):
    p = tmp_path / "checks.yaml"
    p.write_text(BASE.format(dt=dt, duration=duration, at=at, dose=dose, every=every))
    return p


def validate(capsys, path, *sets):
    argv = ["validate", str(path)] + [a for s in sets for a in ("--set", s)]
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def box_voxels(lower, upper, dx, n):
    """Voxels whose centre lies in [lower, upper) along every axis (counted here)."""
    centres = [(i + 0.5) * dx for i in range(n)]
    inside = [c for c in centres if lower <= c < upper]
    return len(inside) ** 3


@pytest.mark.parametrize("key,value,fix", [
    ("domain.dt", "2,5 min", "'2.5 min'"),
    ("domain.duration", "1,5 h", "'1.5 h'"),
    ("domain.voxel", "0,5 mm", "'0.5 mm'"),
    ("events.0.injection.dose", "1,000 cells", "'1000 cells'"),
])
def test_a_decimal_comma_is_an_error_naming_the_fix(tmp_path, capsys, key, value, fix):
    code, out, err = validate(capsys, write(tmp_path), f"{key}={value}")
    assert code == 2 and err.count("\n") == 1
    assert "comma" in err and fix in err and key in err


def test_a_decimal_comma_in_the_file_is_reported_at_its_line(tmp_path):
    with pytest.raises(ScenarioError, match=r"line 6.*'2.5 min'"):
        load_scenario(write(tmp_path, dt="2,5 min"))


def test_a_list_written_without_brackets_is_not_multiplied(tmp_path, capsys):
    code, _, err = validate(capsys, write(tmp_path), "domain.voxel=20 um, 20 um")
    assert code == 2 and "brackets" in err


def test_dt_longer_than_the_duration_is_refused(tmp_path, capsys):
    code, _, err = validate(capsys, write(tmp_path, dt="3 h", duration="2 h", at="0 min"))
    assert code == 2
    assert "dt (180 min (3 h)) is longer than the duration (120 min (2 h))" in err


def test_a_duration_that_is_not_whole_steps_says_what_is_simulated(tmp_path, capsys):
    code, out, err = validate(capsys, write(tmp_path, dt="7 min"))
    n = round(120 / 7)
    assert code == 0
    assert f"{n} steps simulate {n * 7} min" in err and f"{n} steps simulate" in out


def test_an_event_after_the_end_is_a_warning_saying_it_never_happens(tmp_path, capsys):
    code, out, err = validate(capsys, write(tmp_path, at="48 h"))
    assert code == 0
    assert "at 2880 min (48 h) comes after the run ends (120 min (2 h)) and will never happen" in err
    assert "warning:" in out


@pytest.mark.parametrize("extra", [0, 1])
def test_an_injection_larger_than_its_target_is_refused_at_validate(tmp_path, capsys, extra):
    room = box_voxels(0, 60, 20, 10) * 1          # default voxel capacity: 1 cell
    code, _, err = validate(capsys, write(tmp_path, dose=f"{room + extra} cells"))
    if extra == 0:
        assert code == 0, err
    else:
        assert code == 2 and f"holds at most {room}" in err and "line 14" in err


def test_a_huge_dose_gets_the_room_message_not_a_memory_message(tmp_path, capsys):
    code, _, err = validate(capsys, write(tmp_path, dose="1e12 cells"))
    assert code == 2 and "cannot fit" in err and "memory" not in err


def test_a_dose_of_zero_is_legal_with_a_warning(tmp_path, capsys):
    code, out, err = validate(capsys, write(tmp_path, dose="0 cells"))
    assert code == 0
    assert "vehicle control" in err and "vehicle control" in out


def test_a_readout_interval_longer_than_the_run_is_a_warning(tmp_path, capsys):
    code, _, err = validate(capsys, write(tmp_path, every="5 h"))
    assert code == 0 and "outputs.readout_every (300 min (5 h)) is longer than the run" in err


def test_validate_refuses_a_lattice_that_cannot_fit_with_the_estimate(tmp_path, capsys):
    code, _, err = validate(capsys, write(tmp_path), "domain.voxel=0.1 um")
    assert code == 2 and "needs about" in err and "GiB" in err and "voxels" in err


def test_validate_states_the_memory_estimate_for_a_good_scenario(tmp_path, capsys):
    code, out, err = validate(capsys, write(tmp_path))
    assert code == 0 and "memory: about" in out and err == ""


def test_the_clock_checks_agree_with_a_brute_force_count(tmp_path):
    for dt, dur in itertools.product([1, 7, 30, 60], [60, 90, 120]):
        sc = load_scenario(write(tmp_path, dt=f"{dt} min", duration=f"{dur} min", at="0 min"))
        assert sc.domain.n_steps == round(dur / dt)
        assert bool(sc.warnings) == (round(dur / dt) * dt != dur)


def test_an_injection_that_fills_its_target_exactly_runs(tmp_path):
    from abm.run.runner import run_scenario
    from abm.runfile import open_run

    room = box_voxels(0, 60, 20, 10)
    sc = write(tmp_path, dose=f"{room} cells", duration="40 min", every="10 min")
    out = run_scenario(sc, tmp_path / "full.h5", progress=False)
    with open_run(out) as r:
        assert r.readouts()["count BMSC"][-1] == room
