"""Headless runs end to end: scenario → run file → reader, events, kill-and-resume, refusals."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest

from abm import TissueModel
from abm.cli import main
from abm.run.memory import estimate_bytes
from abm.run.runner import build_model, evaluate_readouts, place_populations
from abm.runfile import open_run
from abm.scenario import load_scenario, load_scenario_text

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"

SMALL = """
name: small
domain:
  extent: [600 um, 600 um, 600 um]
  voxel: 20 um
  dt: 1 min
  duration: {duration}
  seed: 7
tissue:
  labels:
    - name: lesion
      region: {{shape: sphere, center: [300 um, 300 um, 300 um], radius: 100 um}}
      initially: false
fields:
  SDF-1a: {{}}
  exosome: {{}}
cell_types:
  BMSC: {{}}
  Microglia:
    rules:
      - {{signal: exosome, direction: increases, behaviour: "transition:M0->M2",
         max_response: 0.01 1/min, half_max: 0.01 1e9 particles/mL, hill_power: 1}}
populations:
  - {{cell_type: Microglia, region: all, count: 2000 cells, state: M0}}
events:
  - at: 0 min
    injury:
      region: {{shape: sphere, center: [300 um, 300 um, 300 um], radius: 100 um}}
      label: lesion
      release: [{{field: SDF-1a, amount: 1e7 ng/mL*um^3, law: first_order, rate: 0.01 1/min}}]
  - at: 30 min
    injection: {{cell_type: BMSC, dose: 4e5 cells, route: intravenous, delivered_fraction: 0.001,
                target: {{shape: box, lower: [420 um, 200 um, 200 um], upper: [560 um, 400 um, 400 um]}}}}
  - at: 45 min
    bolus: {{field: exosome, amount: 1e9 particles, region: lesion}}
outputs:
  snapshot_every: {snap}
  checkpoint_every: {ckpt}
  readout_every: 10 min
  readouts: [count BMSC, count Microglia M2, count BMSC in lesion, total exosome, mean SDF-1a in lesion]
"""


def small(tmp_path, duration="3 h", snap="1 h", ckpt="30 min", name="small.yaml") -> Path:
    p = tmp_path / name
    p.write_text(SMALL.format(duration=duration, snap=snap, ckpt=ckpt))
    return p


def _final_state(path):
    with open_run(path) as r:
        ck = r.checkpoint()
        return ck, r.readouts()


def _assert_same_state(a, b):
    assert a["step"] == b["step"]
    sa, sb = a["state"], b["state"]
    for name in sa["fields"]:
        assert np.array_equal(sa["fields"][name], sb["fields"][name]), name
    for t in sa["populations"]:
        for col in sa["populations"][t]:
            assert np.array_equal(sa["populations"][t][col], sb["populations"][t][col]), (t, col)
    assert np.array_equal(sa["tissue"]["labels"], sb["tissue"]["labels"])
    assert np.array_equal(sa["tissue"]["occupancy"], sb["tissue"]["occupancy"])


# ------------------------------------------------------------------ quickstart
@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("qs") / "quickstart.h5"
    rc = main(["run", str(QUICKSTART), "--out", str(out), "--quiet", "--backend", "numpy"])
    assert rc == 0
    return out


def test_quickstart_runs_and_writes_a_readable_file(quickstart_run):
    sc = load_scenario(QUICKSTART)
    with open_run(quickstart_run) as r:
        assert r.attrs["status"] == "finished"
        assert r.attrs["scenario_name"] == "quickstart"
        assert r.scenario_text == QUICKSTART.read_text()
        # initial snapshot + one every 2 h over 24 h
        assert r.n_snapshots == 13
        assert np.allclose(r.times, np.arange(13) * 120.0)
        assert r.field_units["SDF-1a"] == "ng/mL" and r.field_units["DAMP"] == "nM"
        ro = r.readouts()
        assert len(ro["time_min"]) == 24 * 3 + 1
        bm = r.agents("BMSC", -1)
        # the injection delivered 150 × 0.9 (reflux loss) = 135 cells; over 23 h they rarely
        # divide (2.3e-5/min) and die (2.3e-4/min): about 135·e^{-0.000207·1380} ≈ 101 expected
        assert 125 <= ro["count BMSC"][ro["time_min"] == 60.0 + 20.0][0] <= 140
        assert 75 < len(bm["id"]) < 130
        assert ro["count BMSC"][-1] == len(bm["id"])
        assert bm["pos"].shape == (len(bm["id"]), 3)
        # the readout agrees with the agent table and the labels stored with the snapshot
        lab = r.labels(-1)
        core = r.tissue_names.index("core")
        pen = r.tissue_names.index("penumbra")
        assert (lab == core).sum() > 0
        in_pen = (lab[bm["pos"][:, 0], bm["pos"][:, 1], bm["pos"][:, 2]] == pen).sum()
        assert ro["count BMSC in penumbra"][-1] == in_pen
        assert r.field("VEGF", -1).shape == sc.domain.shape


def test_quickstart_bmscs_home_and_microglia_polarise(quickstart_run):
    """The biology the scenario is built to show, as numbers that could fail."""
    centre = np.array([450.0, 450.0, 300.0])
    with open_run(quickstart_run) as r:
        dx = r.attrs["dx_um"]
        i_inj = int(np.searchsorted(r.times, 120.0))  # first snapshot after the injection
        d0 = np.linalg.norm((r.agents("BMSC", i_inj)["pos"] + 0.5) * dx - centre, axis=1)
        d1 = np.linalg.norm((r.agents("BMSC", -1)["pos"] + 0.5) * dx - centre, axis=1)
        ro = r.readouts()
        sdf = r.field("SDF-1a", -1)
    # BMSCs move toward the lesion by a clear margin (random motility alone moves
    # the mean distance by ~ sqrt(6 D t) / sqrt(N) ~ 1 um)
    assert d1.mean() < d0.mean() - 25.0
    assert ro["count BMSC in penumbra"][-1] > 0
    # SDF-1a peaks near the lesion border, not at the injection site
    peak = np.array(np.unravel_index(np.argmax(sdf), sdf.shape))
    assert np.linalg.norm((peak + 0.5) * dx - centre) < 300.0
    # microglia turn M1 after the injury and some reach M2 once exosomes arrive
    assert ro["count Microglia M1"][0] == 0
    assert ro["count Microglia M1"].max() > 50
    assert ro["count Microglia M2"][-1] > 0


def test_info_prints_a_summary(quickstart_run, capsys):
    assert main(["info", str(quickstart_run)]) == 0
    out = capsys.readouterr().out
    assert "quickstart" in out and "SDF-1a" in out and "ng/mL" in out


def test_xdmf_sidecar_points_at_every_snapshot(quickstart_run):
    x = quickstart_run.with_suffix(".xdmf").read_text()
    assert x.count("<Grid Name=") >= 13 or x.count("<Grid ") >= 13
    assert "/snapshots/000012/fields/SDF-1a" in x


# ------------------------------------------------------------------ files and flags
def test_existing_output_is_never_overwritten(tmp_path, capsys):
    sc = small(tmp_path, duration="10 min", snap="10 min", ckpt="10 min")
    out = tmp_path / "r.h5"
    out.write_bytes(b"precious results")
    rc = main(["run", str(sc), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "--overwrite" in err and "Traceback" not in err
    assert out.read_bytes() == b"precious results"
    assert main(["run", str(sc), "--out", str(out), "--quiet", "--overwrite"]) == 0
    with open_run(out) as r:
        assert r.attrs["status"] == "finished"


def test_set_overrides_reach_the_run(tmp_path):
    sc = small(tmp_path)
    out = tmp_path / "r.h5"
    assert main(["run", str(sc), "--out", str(out), "--quiet", "--set", "domain.duration=20 min",
                 "--set", "populations.0.count=123 cells", "--seed", "99"]) == 0
    with open_run(out) as r:
        assert r.attrs["n_steps"] == 20 and r.attrs["seed"] == 99
        assert r.readouts()["step"][-1] == 20
        assert len(r.agents("Microglia", 0)["id"]) == 123
        assert "populations.0.count=123 cells" in list(r.attrs["overrides"])


def test_until_stops_early(tmp_path):
    out = tmp_path / "r.h5"
    assert main(["run", str(small(tmp_path)), "--out", str(out), "--quiet", "--until", "15 min"]) == 0
    with open_run(out) as r:
        assert r.steps[-1] == 15


def test_a_lattice_too_big_is_refused_before_allocating(tmp_path, capsys):
    p = tmp_path / "huge.yaml"
    p.write_text(SMALL.format(duration="1 h", snap="1 h", ckpt="1 h")
                 .replace("extent: [600 um, 600 um, 600 um]", "extent: [100 mm, 100 mm, 100 mm]")
                 .replace("voxel: 20 um", "voxel: 5 um"))
    out = tmp_path / "huge.h5"
    tracemalloc.start()
    rc = main(["run", str(p), "--out", str(out), "--quiet"])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    err = capsys.readouterr().err
    assert rc == 2
    assert "needs about" in err and "available" in err and "Traceback" not in err
    assert not out.exists()
    assert peak < 200e6  # nothing lattice-sized was allocated (the lattice is 8e15 voxels)


@pytest.mark.parametrize("shape,n_cells,cell_type", [((40, 40, 40), 6000, "Microglia"),
                                                      ((96, 96, 64), 2000, "BMSC"),
                                                      ((30, 30, 30), 20000, "BMSC")])
def test_memory_estimate_covers_what_a_model_allocates(shape, n_cells, cell_type):
    """The estimate is an upper bound of the traced peak, and not absurdly loose."""
    tracemalloc.start()
    m = TissueModel(shape=shape, fields=("SDF-1a", "VEGF", "BDNF", "exosome"), seed=1,
                    backend="numpy")
    m.seed_cells(cell_type, n_cells)
    for _ in range(3):
        m.step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    est = estimate_bytes(shape, 4, 8, n_cells, 1)
    assert est >= peak
    assert est < 3 * peak


def test_missing_and_corrupt_run_files_are_clear_errors(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope.h5")]) == 2
    bad = tmp_path / "bad.h5"
    bad.write_bytes(os.urandom(4096))
    assert main(["resume", str(bad), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("abm: error:") == 2 and "Traceback" not in err


# ------------------------------------------------------------------ events
def test_events_do_what_they_say(tmp_path):
    sc = load_scenario(small(tmp_path))
    m = build_model(sc, backend="numpy")
    place_populations(m, sc)
    from abm.run.runner import fire_event

    assert m.count("Microglia") == 2000 and m.count("BMSC") == 0
    inj, injection, bolus = sc.events
    fire_event(m, inj)
    lab = np.asarray(m.fields.labels)
    lesion = sc.label_index("lesion")
    assert (lab == lesion).sum() == sc.events[0].spec.region.mask(m.shape, m.dx).sum()
    assert len(m.fields.depots) == 1
    assert m.fields.depots[0].remaining == pytest.approx(1e7)
    fire_event(m, injection)
    assert m.count("BMSC") == 400  # 4e5 cells × 0.001 delivered
    pos = m.positions("BMSC") * 20.0 + 10.0
    assert (pos[:, 0] > 420).all() and (pos[:, 0] < 560).all()
    before = evaluate_readouts(m, sc.outputs.readouts)["total exosome"]
    fire_event(m, bolus)
    after = evaluate_readouts(m, sc.outputs.readouts)["total exosome"]
    # totals of a number-density field are reported in particles
    assert after - before == pytest.approx(1e9, rel=1e-12)
    from abm.run.runner import total_unit
    assert total_unit("1e9 particles/mL") == (pytest.approx(1e-3), "particles")
    assert total_unit("ng/mL") == (pytest.approx(1e-9), "pg")   # 1 ng/mL·µm³ = 1e-12 ng
    assert total_unit("nM") == (pytest.approx(1e-6), "amol")    # 1 nM·µm³ = 1e-24 mol


# ------------------------------------------------------------------ crash safety
def _run_until_killed(scenario: Path, out: Path, min_step: int, extra_delay: float) -> int:
    """Start ``abm run`` in a subprocess and SIGKILL it once a checkpoint past ``min_step`` is logged.

    The kill comes ``extra_delay`` seconds after that checkpoint is seen in the log.
    Returns the process's return code.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "abm", "run", str(scenario), "--out", str(out),
                             "--quiet"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    log = out.with_suffix(".log")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists():
            steps = [int(line.split("checkpoint at step ")[1].split()[0])
                     for line in log.read_text().splitlines() if "checkpoint at step" in line]
            if steps and max(steps) >= min_step:
                break
        time.sleep(0.02)
    time.sleep(extra_delay)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    return proc.returncode


def test_kill_and_resume_gives_exactly_the_uninterrupted_run(tmp_path):
    scen = small(tmp_path, duration="30 h", snap="3 h", ckpt="20 min")
    ref = tmp_path / "ref.h5"
    assert main(["run", str(scen), "--out", str(ref), "--quiet"]) == 0
    out = tmp_path / "killed.h5"
    rc = _run_until_killed(scen, out, min_step=60, extra_delay=random.uniform(0.0, 0.4))
    assert rc == -signal.SIGKILL, "the run finished before it could be killed; lengthen it"
    with open_run(out) as r:  # the killed file opens and holds an unfinished run
        assert r.attrs["status"] == "running"
        killed_at = r.checkpoint_steps[-1]
        assert 60 <= killed_at < 1800
    assert main(["resume", str(out), "--quiet"]) == 0
    a, ra = _final_state(ref)
    b, rb = _final_state(out)
    _assert_same_state(a, b)
    assert set(ra) == set(rb)
    for k in ra:
        assert np.array_equal(ra[k], rb[k], equal_nan=True), k
    with open_run(out) as r1, open_run(ref) as r0:
        assert r1.n_snapshots == r0.n_snapshots
        for i in range(r0.n_snapshots):
            assert np.array_equal(r1.field("SDF-1a", i), r0.field("SDF-1a", i))
        assert r1.attrs["status"] == "finished"


def test_resume_extends_a_finished_run_like_a_longer_run(tmp_path):
    scen = small(tmp_path, duration="40 min", snap="20 min", ckpt="20 min")
    long = tmp_path / "long.h5"
    assert main(["run", str(scen), "--out", str(long), "--quiet", "--until", "80 min"]) == 0
    short = tmp_path / "short.h5"
    assert main(["run", str(scen), "--out", str(short), "--quiet"]) == 0
    assert main(["resume", str(short), "--quiet", "--until", "80 min"]) == 0
    _assert_same_state(_final_state(long)[0], _final_state(short)[0])


def test_sigterm_checkpoints_and_exits_1(tmp_path):
    scen = small(tmp_path, duration="200 h", snap="100 h", ckpt="100 h")
    out = tmp_path / "term.h5"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "abm", "run", str(scen), "--out", str(out),
                             "--quiet"], env=env, stderr=subprocess.PIPE, text=True)
    log = out.with_suffix(".log")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (log.exists() and "checkpoint at step 0" in log.read_text()):
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "SIGTERM" in err and "abm resume" in err and "Traceback" not in err
    with open_run(out) as r:
        stopped = r.checkpoint_steps[-1]
        assert 0 < stopped < 6000  # a checkpoint written at the stop, not a scheduled one
        assert r.attrs["status"].startswith("stopped by SIGTERM")
    # resuming works (only a little: extend to just past the stop)
    assert main(["resume", str(out), "--quiet", "--until", f"{stopped + 5} min"]) == 0
    with open_run(out) as r:
        assert r.steps[-1] == stopped + 5 and r.attrs["status"] == "finished"


def test_stored_scenario_rebuilds_the_same_model(tmp_path):
    """A run file carries everything needed to rebuild its scenario (text + overrides)."""
    p = small(tmp_path)
    text = p.read_text()
    a = load_scenario(p, overrides=("domain.dt=2 min",))
    b = load_scenario_text(text, name="small.yaml", base_dir=tmp_path, overrides=("domain.dt=2 min",))
    assert a.domain.dt == b.domain.dt == 2.0
    assert a.domain.shape == b.domain.shape == (30, 30, 30)


def test_run_file_holds_no_pickles(tmp_path):
    out = tmp_path / "r.h5"
    assert main(["run", str(small(tmp_path, duration="20 min", snap="10 min", ckpt="10 min")),
                 "--out", str(out), "--quiet"]) == 0
    bad = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            dt = obj.dtype
            # object dtype is allowed only as HDF5 variable-length strings
            if dt.kind == "V" or (dt.kind == "O" and h5py.check_string_dtype(dt) is None):
                bad.append(name)

    with h5py.File(out, "r") as f:
        f.visititems(visit)
        assert f.attrs["format"] == "bmsc-abm-run"
    assert bad == []


def test_a_signal_late_in_a_step_still_checkpoints_before_stopping(tmp_path, monkeypatch):
    """SIGTERM arriving after a step's checkpoint decision still checkpoints before stopping.

    Here the signal arrives inside the flush of step 4; it stops the run after the next
    step, with a checkpoint at that step, never with none.
    """
    from abm.errors import RunStopped
    from abm.run.runner import run_scenario
    from abm.runfile import RunWriter

    calls = {"n": 0}
    flush = RunWriter.flush

    def flush_then_signal(self):
        flush(self)
        calls["n"] += 1
        if calls["n"] == 5:  # 1: initial state, 2..5: after steps 1..4
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(RunWriter, "flush", flush_then_signal)
    out = tmp_path / "late.h5"
    with pytest.raises(RunStopped, match="SIGTERM"):
        run_scenario(small(tmp_path, duration="2 h", snap="1 h", ckpt="1 h"), out, progress=False)
    with open_run(out) as r:
        assert r.checkpoint_steps == [0, 5]
        assert r.attrs["status"] == "stopped by SIGTERM at step 5"


def test_cupy_backend_without_a_gpu_is_a_clear_input_error(tmp_path, capsys):
    from kernels.backend import cupy_available

    if cupy_available()[0]:
        pytest.skip("a GPU is present: the CuPy path is tested in test_gpu.py")
    out = tmp_path / "r.h5"
    rc = main(["run", str(small(tmp_path)), "--out", str(out), "--quiet", "--backend", "cupy"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("abm: error:") == 1 and "Traceback" not in err
    assert not out.exists()


def test_wall_clock_checkpoints_do_not_change_the_run(tmp_path):
    """Wall-clock checkpoints do not change the run.

    --checkpoint-wall 0 checkpoints after every step (only the last two are kept); the
    run ends exactly as one that checkpoints only on its schedule.
    """
    scen = small(tmp_path, duration="30 min", snap="30 min", ckpt="30 min")
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    assert main(["run", str(scen), "--out", str(a), "--quiet"]) == 0
    assert main(["run", str(scen), "--out", str(b), "--quiet", "--checkpoint-wall", "0"]) == 0
    with open_run(a) as ra, open_run(b) as rb:
        assert ra.checkpoint_steps == [0, 30]
        assert rb.checkpoint_steps == [29, 30]
    _assert_same_state(_final_state(a)[0], _final_state(b)[0])
    assert main(["run", str(scen), "--out", str(b), "--overwrite", "--checkpoint-wall", "-1"]) == 2


def test_resume_refuses_an_earlier_end_and_leaves_a_finished_run_alone(tmp_path, capsys):
    out = tmp_path / "r.h5"
    assert main(["run", str(small(tmp_path, duration="30 min", snap="10 min", ckpt="10 min")),
                 "--out", str(out), "--quiet"]) == 0
    before = out.read_bytes()
    assert main(["resume", str(out), "--quiet"]) == 0          # already finished: nothing to do
    assert "already finished" in capsys.readouterr().err
    assert main(["resume", str(out), "--quiet", "--until", "10 min"]) == 2
    err = capsys.readouterr().err
    assert "past the requested end" in err and "Traceback" not in err
    assert out.read_bytes() == before                          # the file was not touched


def test_a_negative_seed_is_bad_input(tmp_path, capsys):
    out = tmp_path / "r.h5"
    assert main(["run", str(small(tmp_path)), "--out", str(out), "--quiet", "--seed", "-5"]) == 2
    assert "seed must be an integer from 0" in capsys.readouterr().err
    assert not out.exists()
