"""benchmarks/brain_report.py end to end in quick mode on a tiny two-arm scenario."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tiny_experiment import write  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def report_module():
    spec = importlib.util.spec_from_file_location("brain_report",
                                                  ROOT / "benchmarks" / "brain_report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_quick_report_runs_every_arm_and_judges_every_claim(report_module, tmp_path, capsys):
    path = write(tmp_path)
    out = tmp_path / "results"
    out.mkdir()
    assert report_module.main(["--scenario", str(path), "--quick", "--animals", "2",
                               "--out", str(out), "--backend", "numpy"]) == 0
    (js,) = out.glob("brain_report_*.json")
    rep = json.loads(js.read_text())
    e = rep["scenarios"]["tinyexp"]
    assert rep["quick"] and rep["animals"] == 2 and rep["machine"]["cpu_count"]
    assert e["seeds"] == [1, 2] and e["arms"] == ["treated", "control"]
    assert e["simulated_min"] == 20.0                    # injection at 10 min + 5 steps of 2 min
    assert sorted((r["arm"], r["seed"]) for r in e["runs"]) == [
        ("control", 1), ("control", 2), ("treated", 1), ("treated", 2)]
    assert all(r["wall_s"] > 0 and r["backend"] == "numpy" for r in e["runs"])
    first, second = e["claims"]
    assert first["readout"] == "count BMSC" and first["holds"] is True
    assert first["a"]["n"] == first["b"]["n"] == 2 and first["b"]["mean"] == 0.0
    assert first["time_used_min"] == 20.0                # the claim's 30 min is past the end
    assert "runs end at 20 min, before the claim's 30 min" in first["describe"]
    assert set(first) >= {"p_welch", "p_mann_whitney", "hedges_g", "hedges_g_ci95", "source"}
    assert second["holds"] is False                      # equal totals: '<' does not hold
    assert e["figure_readouts"] == ["count BMSC", "total SDF-1a"]
    fig = Path(e["figure"])
    assert fig.parent == out / js.stem and fig.stat().st_size > 10_000
    assert fig.read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "1 of 2 reported findings hold" in printed and "count BMSC at 30 min" in printed
    # a second report of the same day is refused without --overwrite
    assert report_module.main(["--scenario", str(path), "--quick", "--out", str(out)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err


def test_bad_input_is_one_line_and_exit_2(report_module, capsys):
    assert report_module.main(["--only", "zhang2006_mcao_intracarotd"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("brain_report: no scenario 'zhang2006_mcao_intracarotd'")
    assert len(err.strip().splitlines()) == 1
    assert report_module.main(["--scenario", "nope.yaml"]) == 2
    assert "scenario file nope.yaml not found" in capsys.readouterr().err
