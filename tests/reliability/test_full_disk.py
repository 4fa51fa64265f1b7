"""Out of disk space: a clean stop, nothing completed lost, resume after space is freed (issue 16, item 2).

The disk is a real, small tmpfs mounted for the test (root only; skipped otherwise, with
the reason). Without the space guard of :mod:`abm.runfile.space`, HDF5 fails half-way
through a write and the whole file, with every earlier snapshot, becomes unreadable.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from abm.cli import main
from abm.runfile import open_run

SCENARIO = """
name: filler
domain:
  extent: [800 um, 800 um, 400 um]
  voxel: 20 um
  dt: 2 min
  duration: 6 h
  seed: 11
fields:
  SDF-1a: {}
  VEGF: {}
cell_types:
  Microglia:
    parameters: {death: 0 1/min}
populations:
  - {cell_type: Microglia, region: all, count: 3000 cells, state: M0}
outputs:
  snapshot_every: 20 min
  checkpoint_every: 1 h
  readout_every: 20 min
  readouts: [count Microglia, mean SDF-1a]
"""


def _mount(path: Path, size: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                   check=True, capture_output=True)


@pytest.fixture
def small_disk(tmp_path):
    """A 9 MiB tmpfs at tmp_path/disk (unmounted afterwards)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the full-disk behaviour is untested here")
    try:
        _mount(disk, "9m")
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"cannot mount a tmpfs here ({e}); the full-disk behaviour is untested")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _resize(disk: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(disk)], check=True,
                   capture_output=True)


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("abm: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_disk_full_mid_run_stops_cleanly_and_resumes_identically(small_disk, tmp_path, capsys):
    sc = tmp_path / "filler.yaml"
    sc.write_text(SCENARIO)
    out = small_disk / "run.h5"
    rc = main(["run", str(sc), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2, err
    line = _one_error_line(err)
    assert "not enough disk space" in line and "abm resume" in line, line
    # everything completed before the stop is readable
    with open_run(out) as r:
        n_snap, ckpts = len(r.times), list(r.checkpoint_steps)
        assert 1 <= n_snap < 19, n_snap          # some, not all, of the 19 snapshots
        assert ckpts, "no checkpoint survived"
        for i in range(n_snap):
            assert np.isfinite(r.field("SDF-1a", i)).all()
        assert str(r.attrs["status"]).startswith("failed: DiskFullError")
    assert main(["info", str(out)]) == 0
    capsys.readouterr()

    # resuming on the same full disk is refused before the file is touched
    before = _sha(out)
    rc = main(["resume", str(out), "--quiet"])
    err = capsys.readouterr().err
    if rc != 0:   # whether the rest fits depends on what the cut-back frees; if not:
        assert rc == 2 and "not enough disk space" in _one_error_line(err)
        assert _sha(out) == before, "a refused resume changed the file"
        _resize(small_disk, "200m")
        assert main(["resume", str(out), "--quiet"]) == 0
    capsys.readouterr()

    ref = tmp_path / "ref.h5"
    assert main(["run", str(sc), "--out", str(ref), "--quiet"]) == 0
    with open_run(out) as a, open_run(ref) as b:
        assert a.attrs["status"] == "finished"
        assert list(a.times) == list(b.times)
        ra, rb = a.readouts(), b.readouts()
        for k in rb:
            assert np.array_equal(np.asarray(ra[k]), np.asarray(rb[k])), k
        assert np.array_equal(a.field("VEGF", -1), b.field("VEGF", -1))


def test_resume_on_a_full_disk_leaves_the_file_as_it_was(small_disk, tmp_path, capsys):
    sc = tmp_path / "filler.yaml"
    sc.write_text(SCENARIO.replace("duration: 6 h", "duration: 40 min"))
    _resize(small_disk, "200m")
    out = small_disk / "run.h5"
    assert main(["run", str(sc), "--out", str(out), "--quiet", "--set",
                 "outputs.checkpoint_every=20 min"]) == 0
    capsys.readouterr()
    # fill the disk, leaving less than the guard's head room
    filler = small_disk / "filler.bin"
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, free - 512 * 1024))
    before = _sha(out)
    rc = main(["resume", str(out), "--until", "2 h", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "not enough disk space" in _one_error_line(err)
    assert _sha(out) == before
    assert main(["info", str(out)]) == 0
    filler.unlink()
    capsys.readouterr()
    assert main(["resume", str(out), "--until", "2 h", "--quiet"]) == 0
    with open_run(out) as r:
        assert r.attrs["status"] == "finished"
        assert r.times[-1] == pytest.approx(120.0)


def test_a_start_on_a_full_disk_keeps_the_earlier_file(small_disk, tmp_path, capsys):
    sc = tmp_path / "filler.yaml"
    sc.write_text(SCENARIO.replace("duration: 6 h", "duration: 20 min"))
    _resize(small_disk, "200m")
    out = small_disk / "run.h5"
    assert main(["run", str(sc), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    filler = small_disk / "filler.bin"
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, free - 1024 * 1024))
    before = _sha(out)
    rc = main(["run", str(sc), "--out", str(out), "--overwrite", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2, err
    line = _one_error_line(err)
    assert "not enough disk space" in line and "choose another --out" in line
    assert _sha(out) == before
    assert not [p for p in small_disk.iterdir() if ".partial" in p.name]
