"""A run file is never destroyed by a command that then refuses or fails to run (issue 16, item 1).

The second writer is a real second process holding the file open for writing through
HDF5, as a running ``abm run`` does; the file's bytes are compared before and after.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from abm.cli import main
from abm.run import runner
from abm.runfile import RunFileError, RunWriter, open_run

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))

TINY = """
name: {name}
domain:
  extent: [200 um, 200 um, 200 um]
  voxel: 20 um
  dt: 1 min
  duration: {duration}
  seed: 3
fields:
  SDF-1a: {{}}
cell_types:
  Microglia: {{}}
populations:
  - {{cell_type: Microglia, region: all, count: 50 cells, state: M0}}
outputs:
  snapshot_every: 10 min
  checkpoint_every: 10 min
  readout_every: 1 min
  readouts: [count Microglia]
"""


def scenario(tmp_path: Path, name: str = "tiny", duration: str = "20 min") -> Path:
    p = tmp_path / f"{name}.yaml"
    p.write_text(TINY.format(name=name, duration=duration))
    return p


def digest(*paths: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def hold_for_writing(path: Path) -> subprocess.Popen:
    """A second process that opens ``path`` for writing with h5py and keeps it open."""
    code = ("import sys, h5py; f = h5py.File(sys.argv[1], 'r+'); print('ready', flush=True); "
            "sys.stdin.read(); f.close()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.fixture
def earlier_run(tmp_path):
    out = tmp_path / "busy.h5"
    assert main(["run", str(scenario(tmp_path)), "--out", str(out), "--quiet"]) == 0
    return out


def test_overwrite_of_a_file_another_process_writes_is_refused_and_leaves_it_intact(
        tmp_path, earlier_run, capsys):
    before = digest(earlier_run, earlier_run.with_suffix(".xdmf"), earlier_run.with_suffix(".log"))
    holder = hold_for_writing(earlier_run)
    try:
        code = main(["run", str(scenario(tmp_path, "other")), "--out", str(earlier_run),
                     "--overwrite", "--quiet"])
        err = capsys.readouterr().err
        # the Python API refuses too, before truncating anything
        with pytest.raises(RunFileError, match="being written by another program"):
            RunWriter.create(earlier_run, metadata={}, scenario_text="", units={},
                             field_units={}, tissue_names=["none"],
                             labels=np.zeros((2, 2, 2), "u1"), cell_types={},
                             overwrite=True)
    finally:
        holder.communicate("")
    assert code == 2
    assert "being written by another program" in err and "left as it is" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert digest(earlier_run, earlier_run.with_suffix(".xdmf"),
                  earlier_run.with_suffix(".log")) == before
    with open_run(earlier_run) as r:
        assert r.attrs["scenario_name"] == "tiny" and r.attrs["status"] == "finished"
    assert not list(tmp_path.glob(".*partial*"))


def test_a_running_abm_run_keeps_its_file_when_a_second_run_tries_to_overwrite_it(tmp_path):
    out = tmp_path / "busy.h5"
    first = subprocess.Popen([sys.executable, "-m", "abm", "run",
                              str(scenario(tmp_path, "long", "1000 min")), "--out", str(out),
                              "--quiet"], env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not out.exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.02)
    assert out.exists() and first.poll() is None, "the first run ended before the test could start"
    second = subprocess.run([sys.executable, "-m", "abm", "run", str(scenario(tmp_path, "short")),
                             "--out", str(out), "--overwrite", "--quiet"], env=ENV,
                            capture_output=True, text=True, timeout=120)
    first_out, first_err = first.communicate(timeout=300)
    assert second.returncode == 2, second.stderr
    assert "being written by another program" in second.stderr
    assert first.returncode == 0, first_err
    with open_run(out) as r:       # the first run's file, whole and finished
        assert r.attrs["scenario_name"] == "long" and r.attrs["status"] == "finished"
        assert r.checkpoint_steps[-1] == 1000
        assert r.readouts()["step"][-1] == 1000


def test_a_start_that_fails_leaves_the_earlier_file_its_sidecars_and_no_leftovers(
        tmp_path, earlier_run, monkeypatch):
    files = [earlier_run, earlier_run.with_suffix(".xdmf"), earlier_run.with_suffix(".log")]
    before = digest(*files)

    def broken_checkpoint(*a, **k):
        raise OSError("simulated failure while writing the first checkpoint")

    monkeypatch.setattr(runner, "checkpoint", broken_checkpoint)
    with pytest.raises(OSError, match="simulated failure"):
        runner.run_scenario(scenario(tmp_path, "other"), earlier_run, overwrite=True,
                            progress=False)
    assert digest(*files) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [p.name for p in files] + ["tiny.yaml", "other.yaml"])


def test_a_failed_first_start_leaves_no_file(tmp_path, monkeypatch):
    out = tmp_path / "new.h5"

    def broken_snapshot(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "snapshot", broken_snapshot)
    with pytest.raises(KeyboardInterrupt):
        runner.run_scenario(scenario(tmp_path), out, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml"]


def test_a_refused_start_leaves_the_earlier_file_untouched(tmp_path, earlier_run, capsys):
    before = digest(earlier_run)
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.format(name="bad", duration="20 min").replace("count: 50 cells",
                                                                      "count: many"))
    assert main(["run", str(bad), "--out", str(earlier_run), "--overwrite", "--quiet"]) == 2
    assert digest(earlier_run) == before
