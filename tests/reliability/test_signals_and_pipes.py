"""Signals and pipes (issue 16, item 5).

Output to a closed pipe ends quietly (exit 141); a second Ctrl-C stops a run at once with
exit 130 and no traceback, leaving a file that reads and resumes; a signal at any moment
leaves either no file or a readable one. Every case is a real ``abm`` process.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from abm.runfile import RunFileError, open_run

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"

LONG = """
name: long
domain:
  extent: [200 um, 200 um, 200 um]
  voxel: 20 um
  dt: 1 min
  duration: {duration}
  seed: 5
fields:
  SDF-1a: {{}}
cell_types:
  Microglia: {{}}
populations:
  - {{cell_type: Microglia, region: all, count: 60 cells, state: M0}}
outputs:
  snapshot_every: 20 min
  checkpoint_every: 20 min
  readout_every: 1 min
  readouts: [count Microglia]
"""


def scenario(tmp_path: Path, duration: str = "600 min") -> Path:
    p = tmp_path / "long.yaml"
    p.write_text(LONG.format(duration=duration))
    return p


def abm(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "abm", *args], env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def wait_for_checkpoint(log: Path, proc: subprocess.Popen, step: int, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and any(
                line.split("checkpoint at step ")[1].split()[0].isdigit()
                and int(line.split("checkpoint at step ")[1].split()[0]) >= step
                for line in log.read_text().splitlines() if "checkpoint at step " in line):
            return
        time.sleep(0.01)
    raise AssertionError(f"no checkpoint at step >= {step} within {timeout} s")


@pytest.mark.parametrize("command", [["validate", str(QUICKSTART)], ["--help"]])
def test_output_to_a_closed_pipe_ends_quietly(command):
    r, w = os.pipe()
    os.close(r)                       # the reader is gone before anything is written
    try:
        proc = subprocess.run([sys.executable, "-m", "abm", *command], stdout=w,
                              stderr=subprocess.PIPE, text=True, env=ENV, timeout=60)
    finally:
        os.close(w)
    assert proc.stderr == ""
    assert proc.returncode in (0, 141)   # --help exits from argparse; validate reports 141
    if command[0] == "validate":
        assert proc.returncode == 141


@pytest.mark.parametrize("gap", [0.0, 0.002, 0.05])
def test_a_second_ctrl_c_stops_at_once_cleanly_and_the_file_resumes(tmp_path, gap):
    out = tmp_path / "r.h5"
    proc = abm("run", str(scenario(tmp_path)), "--out", str(out), "--quiet")
    wait_for_checkpoint(out.with_suffix(".log"), proc, 20)
    proc.send_signal(signal.SIGINT)
    time.sleep(gap)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (1, 130), err
    assert "Traceback" not in err and err.count("abm: error:") == 1 and err.count("\n") == 1
    if proc.returncode == 130:
        assert "interrupted" in err and f"abm resume {out}" in err
    with open_run(out) as run:
        last = run.checkpoint_steps[-1]
        assert last >= 20
        assert run.readouts()["step"][-1] >= last
    if gap == 0.0:
        done = subprocess.run([sys.executable, "-m", "abm", "resume", str(out), "--quiet"],
                              env=ENV, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        with open_run(out) as run:
            assert run.checkpoint_steps[-1] == 600 and run.attrs["status"] == "finished"


def test_a_signal_at_any_moment_leaves_no_file_or_a_readable_one(tmp_path):
    rng = random.Random(16)
    for trial in range(8):
        out = tmp_path / f"t{trial}.h5"
        sig = (signal.SIGINT, signal.SIGTERM)[trial % 2]
        proc = abm("run", str(scenario(tmp_path, "60 min")), "--out", str(out), "--quiet")
        time.sleep(rng.uniform(0.0, 2.5))
        if proc.poll() is None:
            proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        if out.exists():
            try:
                with open_run(out) as run:
                    assert run.checkpoint_steps, "a published file has its step-0 checkpoint"
            except RunFileError as exc:   # pragma: no cover - the failure this test is for
                pytest.fail(f"trial {trial} ({sig.name}): unreadable file: {exc}")
        # the final path never holds a half-created file; a hidden temporary may remain
        # only if the process was killed by the signal's default action
        if proc.returncode != -sig:
            assert not list(tmp_path.glob(f".t{trial}.h5.partial-*")), err
