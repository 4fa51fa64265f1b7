"""Limits on untrusted input (issue 16, item 4).

Scenario size and YAML alias expansion are bounded; a checkpoint is validated before it
is restored; HDF5 external links and datasets stored in other files are refused. Each
tampered file is made here with h5py, the way somebody altering a file would.
"""

from __future__ import annotations

import time

import h5py
import numpy as np
import pytest

from abm.cli import main
from abm.runfile import RunFileError, open_run

SCEN = """
name: tamper
domain:
  extent: [200 um, 200 um, 200 um]
  voxel: 20 um
  dt: 1 min
  duration: 20 min
  seed: 9
fields:
  SDF-1a: {}
cell_types:
  Microglia: {}
  BMSC: {}
populations:
  - {cell_type: Microglia, region: all, count: 40 cells, state: M0}
  - {cell_type: BMSC, region: all, count: 20 cells}
outputs:
  snapshot_every: 10 min
  checkpoint_every: 10 min
  readout_every: 5 min
  readouts: [count Microglia, count BMSC]
"""


def cli(capsys, *argv):
    t0 = time.monotonic()
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert time.monotonic() - t0 < 20
    assert "Traceback" not in out + err
    return code, err


@pytest.fixture
def run_file(tmp_path):
    sc = tmp_path / "tamper.yaml"
    sc.write_text(SCEN)
    out = tmp_path / "tamper.h5"
    assert main(["run", str(sc), "--out", str(out), "--quiet", "--until", "10 min"]) == 0
    return out


def last_state(f: h5py.File) -> h5py.Group:
    ck = f["checkpoints"]
    return ck[sorted(ck)[-1]]["state"]


# ----------------------------------------------------------------- scenario text
def test_an_alias_bomb_is_refused_at_once(tmp_path, capsys):
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    p = tmp_path / "bomb.yaml"
    p.write_text("name: bomb\n" + "\n".join(lines) + "\n")
    code, err = cli(capsys, "validate", str(p))
    assert code == 2 and "expands to more than" in err and err.count("\n") == 1


def test_a_huge_scenario_file_is_refused_before_parsing(tmp_path, capsys):
    p = tmp_path / "huge.yaml"
    p.write_text("name: huge\n" + "".join(f"k{i}: {i}\n" for i in range(400_000)))
    code, err = cli(capsys, "validate", str(p))
    assert code == 2 and "over the limit of 1 MB" in err


def test_deep_nesting_is_a_clear_error(tmp_path, capsys):
    p = tmp_path / "deep.yaml"
    p.write_text("name: deep\nx: " + "[" * 3000 + "]" * 3000 + "\n")
    code, err = cli(capsys, "validate", str(p))
    assert code == 2 and "nested" in err


# ----------------------------------------------------------------- checkpoints
def tamper_microglia_state(state):
    state["populations/Microglia/state"][3] = 127


def tamper_nan_cxcr4(state):
    a = state["populations/BMSC/CXCR4"]
    a[...] = np.nan


def tamper_position(state):
    pos = state["populations/BMSC/pos"]
    pos[0] = [-5, 1000, 3]


def tamper_flipped_position_bytes(state):
    pos = state["populations/Microglia/pos"]
    raw = pos[...]
    raw.view(np.uint8)[5] ^= 0xFF
    pos[...] = raw


@pytest.mark.parametrize("tamper,expected", [
    (tamper_microglia_state, "has state 127, but Microglia has 3 states"),
    (tamper_nan_cxcr4, "BMSC column 'CXCR4' holds nan"),
    (tamper_position, "at voxel (-5, 1000, 3), outside the lattice (10, 10, 10)"),
    (tamper_flipped_position_bytes, "outside the lattice"),
])
def test_a_tampered_checkpoint_is_refused_naming_what_is_wrong(run_file, capsys, tamper,
                                                                expected):
    with h5py.File(run_file, "r+") as f:
        tamper(last_state(f))
    before = run_file.read_bytes()
    code, err = cli(capsys, "resume", str(run_file), "--until", "20 min", "--quiet")
    assert code == 2, err
    assert "the checkpoint is not valid" in err and expected in err and err.count("\n") == 1
    assert run_file.read_bytes() == before      # refused before opening it for writing


def test_a_changed_dt_in_the_recorded_overrides_is_refused(run_file, capsys):
    with h5py.File(run_file, "r+") as f:
        f.attrs["overrides"] = np.array(["domain.duration=10 min", "domain.dt=2 min"],
                                        dtype=h5py.string_dtype())
    code, err = cli(capsys, "resume", str(run_file), "--until", "20 min", "--quiet")
    assert code == 2 and "inconsistent" in err and "dt_min" in err


def test_an_untampered_file_still_resumes(run_file, capsys):
    code, err = cli(capsys, "resume", str(run_file), "--until", "20 min", "--quiet")
    assert code == 0, err
    with open_run(run_file) as r:
        assert r.checkpoint_steps[-1] == 20


# ----------------------------------------------------------------- external data
def test_hdf5_external_links_are_refused(run_file, tmp_path, capsys):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as g:
        g["secret"] = np.arange(3)
    with h5py.File(run_file, "r+") as f:
        f["snapshots"]["000099"] = h5py.ExternalLink(str(other), "/")
    with pytest.raises(RunFileError, match="external link at /snapshots/000099"):
        open_run(run_file)
    for cmd in ("info", "resume"):
        code, err = cli(capsys, cmd, str(run_file))
        assert code == 2 and "external link" in err


def test_a_dataset_stored_in_another_file_is_refused(run_file, tmp_path):
    raw = tmp_path / "raw.bin"
    raw.write_bytes(np.arange(4, dtype="<f8").tobytes())
    with h5py.File(run_file, "r+") as f:
        f.create_dataset("extra", shape=(4,), dtype="<f8", external=[(str(raw), 0, 32)])
    with pytest.raises(RunFileError, match="stored in another file"):
        open_run(run_file)


# ----------------------------------------------------------------- paths in a run file
MASKED = SCEN.replace("  - {cell_type: BMSC, region: all, count: 20 cells}",
                      "  - {cell_type: BMSC, region: {shape: mask, file: m.npy}, count: 20 cells}")


@pytest.fixture
def masked_run(tmp_path):
    mask = np.zeros((10, 10, 10), bool)
    mask[2:6, 3:7, 1:5] = True
    np.save(tmp_path / "m.npy", mask)
    sc = tmp_path / "masked.yaml"
    sc.write_text(MASKED)
    out = tmp_path / "masked.h5"
    assert main(["run", str(sc), "--out", str(out), "--quiet", "--until", "10 min"]) == 0
    return out, mask


def test_masks_are_stored_in_the_run_file_and_resume_reads_no_mask_file(masked_run, tmp_path,
                                                                        capsys):
    out, mask = masked_run
    with open_run(out) as r:
        assert np.array_equal(r.masks()["m.npy"], mask)
    (tmp_path / "m.npy").unlink()                 # the recorded path is not needed any more
    code, err = cli(capsys, "resume", str(out), "--until", "20 min", "--quiet")
    assert code == 0, err


def test_a_crafted_mask_path_in_a_run_file_is_never_read(masked_run, tmp_path, capsys):
    out, _ = masked_run
    secret = tmp_path / "secret.npy"
    np.save(secret, np.ones((10, 10, 10), bool))
    with h5py.File(out, "r+") as f:
        text = f["scenario"][()].decode()
        del f["scenario"]
        f.create_dataset("scenario", data=text.replace("file: m.npy", f"file: {secret}"),
                         dtype=h5py.string_dtype())
    secret.unlink()
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")   # what a reader must never echo
    code, err = cli(capsys, "resume", str(out), "--until", "20 min", "--quiet")
    assert code == 2 and "does not hold the mask" in err and "root:" not in err


def test_a_plugin_file_named_in_a_run_file_is_never_imported_unasked(tmp_path, capsys):
    """A crafted run file records a .py plugin and a folder: info and resume do not run it."""
    marker = tmp_path / "ran.txt"
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "side_effect.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n")
    sc = tmp_path / "tamper.yaml"
    sc.write_text("plugins: [side_effect.py]\n" + SCEN)
    out = tmp_path / "run.h5"
    (tmp_path / "side_effect.py").write_text((evil / "side_effect.py").read_text())
    assert main(["run", str(sc), "--out", str(out), "--quiet", "--until", "10 min"]) == 0
    assert marker.exists()          # the user's own scenario imports its plugin
    marker.unlink()
    with h5py.File(out, "r+") as f:    # point the recorded folder at the attacker's files
        f.attrs["scenario_dir"] = str(evil)
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert "--plugins-dir" in capsys.readouterr().out
    assert main(["resume", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--plugins-dir" in err and "Traceback" not in err
    assert not marker.exists(), "a plugin file named in a run file was imported"
    # naming the folder is the user's decision
    assert main(["resume", str(out), "--quiet", "--plugins-dir", str(tmp_path)]) == 0


def test_a_lattice_too_large_for_memory_is_refused_by_the_python_api_with_the_estimate():
    """TissueModel (and FieldSolver) refuse before allocating, naming both sizes."""
    from abm.cells import TissueModel
    from abm.errors import ModelInputError

    with pytest.raises(ModelInputError, match=r"needs about .*TiB.* but only .* on this machine"):
        TissueModel(shape=(3000, 3000, 3000), dx=10.0)
