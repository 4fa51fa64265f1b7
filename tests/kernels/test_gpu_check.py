"""benchmarks/gpu_check.py without a GPU: the one-line refusal, and its plumbing on the CUDA shim.

The shim run (``--shim``) goes through every part of the checklist at its tiny sizes, with
the tests part narrowed by ``-k`` to one CuPy-against-NumPy field test and the backend
tests, so that it stays short; the JSON it writes is checked for its structure, for finite
figures with units, and for never claiming a GPU measurement or a met target.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from kernels import cuda_shim
from kernels.backend import cupy_available

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"

PARTS = ["tests", "copy_bandwidth", "field_update", "agents_1e6", "agents_1e7", "full_step",
         "scenario"]
FIGURES = ["copy_bandwidth", "field_step_spectral", "field_step_explicit", "field_update_substep_time",
           "field_update_bandwidth", "field_update_fraction_of_copy", "agents_1e6_agent_steps_per_s",
           "agents_1e7_agent_steps_per_s", "full_step_time", "full_step_agent_steps_per_s",
           "stroke_7d_projection_from_full_step", "scenario_wall_time"]


def _gpu_check_module():
    spec = importlib.util.spec_from_file_location("gpu_check_under_test", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(cupy_available()[0], reason="CuPy and a GPU are present: nothing to refuse")
def test_without_cupy_one_line_and_status_2(tmp_path):
    out = tmp_path / "gpu_check.json"
    res = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    text = (res.stdout + res.stderr).strip()
    assert res.returncode == 2, text
    assert len(text.splitlines()) == 1, text
    assert "CuPy/GPU unavailable" in text and "--shim" in text
    assert "Traceback" not in text
    assert not out.exists()


def test_default_file_is_named_after_the_date():
    m = _gpu_check_module()
    day = dt.date(2027, 1, 5)
    assert m.default_out(day, False) == ROOT / "benchmarks" / "results" / "gpu_check_2027-01-05.json"
    assert m.default_out(day, True).name == "gpu_check_2027-01-05_shim.json"


@pytest.mark.skipif(cuda_shim.compiler() is None, reason="no C++ compiler: the CUDA shim cannot run")
def test_shim_run_writes_the_whole_checklist(tmp_path):
    out = tmp_path / "gpu_check.json"
    res = subprocess.run([sys.executable, str(SCRIPT), "--shim", "--out", str(out),
                          "-k", "spectral and float32 or numpy_forced"],
                         cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    r = json.loads(out.read_text())

    assert r["mode"] == "shim" and r["gpu_measurement"] is False and r["note"]
    assert r["date"] == dt.date.today().isoformat()
    assert r["device"]["name"].startswith("none") and r["device"]["cupy"] is None
    assert "cuda_runtime" in r["device"] and "cuda_driver" in r["device"]
    assert list(r["parts"]) == PARTS
    for name, part in r["parts"].items():
        assert part["status"] == "ok", (name, part)
        assert 0 <= part["wall_s"] <= part["limit_s"] + 5

    cases = r["tests"]["cases"]
    outcomes = {c["test"].rsplit("::", 1)[1]: c["outcome"] for c in cases}
    assert outcomes["test_cupy_and_numpy_agree_after_100_steps[False-spectral-float32]"] == "passed"
    assert outcomes["test_numpy_forced_by_argument_and_environment"] == "passed"
    assert all(c["outcome"] in ("passed", "failed", "error", "skipped") for c in cases)
    assert r["tests"]["summary"]["failed"] == r["tests"]["summary"]["error"] == 0

    figs = {f["name"]: f for f in r["figures"]}
    assert set(FIGURES) <= set(figs), sorted(set(FIGURES) - set(figs))
    for f in r["figures"]:
        assert isinstance(f["value"], float) and math.isfinite(f["value"]), f
        assert isinstance(f["unit"], str) and f["unit"], f
        assert f["gpu_measurement"] is False and f["part"] in PARTS and f["description"], f
    assert figs["copy_bandwidth"]["unit"] == "GB/s" and figs["copy_bandwidth"]["value"] > 0
    assert figs["field_update_fraction_of_copy"]["unit"] == "fraction"
    assert figs["agents_1e6_agent_steps_per_s"]["unit"] == "agent-steps/s"
    assert figs["stroke_7d_projection_from_full_step"]["projection"] is True

    assert len(r["targets"]) == 3
    for t in r["targets"]:
        assert t["meets_target"] is None and "shim" in t["reason"], t
        assert t["limit"] > 0 and t["unit"] and t["figure"] in figs
    assert any("fused cell step" in g["what"] for g in r["gaps"])
