"""Running the arms of a scenario over several seeds, and its reported findings over them."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tiny_experiment import write  # noqa: E402

from abm.errors import ModelInputError  # noqa: E402
from abm.experiment import NO_ARM, arm_names, compare_claim, run_arms  # noqa: E402
from abm.runfile import RunFileError, open_run  # noqa: E402
from abm.scenario import load_scenario  # noqa: E402


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exp")
    path = write(folder)
    out = folder / "runs"
    out.mkdir()
    return path, out, run_arms(path, seeds=[3, 1, 2], out_dir=out, backend="numpy")


def test_every_arm_runs_once_per_seed_in_seed_order(experiment):
    path, out, runs = experiment
    assert list(runs) == ["treated", "control"] == arm_names(path)
    for arm, tables in runs.items():
        assert [t.seed for t in tables] == [3, 1, 2]
        assert all(t.arm == arm for t in tables)
        assert np.array_equal(tables[0].time_min, np.arange(0.0, 61.0, 10.0))
        assert tables[0].units["count BMSC"] == "cells"
    assert sorted(p.name for p in out.glob("*.h5")) == sorted(
        f"tinyexp_{a}_seed{s}.h5" for a in ("treated", "control") for s in (1, 2, 3))


def test_the_tables_are_the_run_files_readouts(experiment):
    _, _, runs = experiment
    t = runs["treated"][1]
    with open_run(t.path) as r:
        ro = r.readouts()
        assert int(r.attrs["seed"]) == 1 and "arm=treated" in list(r.attrs["overrides"])
    for k in ("count BMSC", "total SDF-1a"):
        assert np.array_equal(ro[k], t.readouts[k])
    assert np.array_equal(ro["time_min"], t.time_min)


def test_the_control_leaves_out_the_cells_and_the_findings_follow(experiment):
    path, _, runs = experiment
    assert all(t.value("count BMSC") == 0 for t in runs["control"])
    assert all(t.value("count BMSC", 30.0) > 0 for t in runs["treated"])
    sc = load_scenario(path)
    first, second = (compare_claim(c, runs) for c in sc.reported)
    assert first.holds and first.a.n == first.b.n == 3 and first.b.mean == 0.0
    assert first.time_used == 30.0
    # the BMSCs take up no SDF-1a in this box: the totals are the same in both arms
    assert second.a.mean == pytest.approx(second.b.mean, rel=1e-12)


def test_seeds_change_the_animals_but_not_the_field_alone(experiment):
    _, _, runs = experiment
    where = []
    for t in runs["treated"]:
        with open_run(t.path) as r:
            where.append(r.agents("BMSC")["pos"].tobytes())
    assert len(set(where)) == 3                                     # each seed places its own
    totals = [t.readouts["total SDF-1a"] for t in runs["control"]]
    assert all(np.array_equal(totals[0], x) for x in totals[1:])   # no cells: no randomness


def test_two_workers_give_the_same_tables_as_one(experiment, tmp_path):
    path, _, runs = experiment
    done = []
    par = run_arms(path, arms=["treated"], seeds=[3, 1], backend="numpy", workers=2,
                   on_run=done.append)
    assert sorted(t.seed for t in done) == [1, 3]
    for a, b in zip(par["treated"], runs["treated"][:2]):
        assert a.seed == b.seed and a.path is None             # temporary files are gone
        for k in b.readouts:
            assert np.array_equal(a.readouts[k], b.readouts[k])


def test_a_scenario_without_arms_runs_under_the_default_key(tmp_path):
    text = (write(tmp_path).read_text().split("arms:")[0]
            + "outputs: {readout_every: 10 min, readouts: [total SDF-1a]}\n")
    path = write(tmp_path, text, "noarms.yaml")
    runs = run_arms(path, seeds=[1], backend="numpy", overrides=["domain.duration=20 min"])
    assert list(runs) == [NO_ARM] and runs[NO_ARM][0].time_min[-1] == 20.0


def test_mistakes_are_named(tmp_path, experiment):
    path, out, _ = experiment
    with pytest.raises(ModelInputError, match="did you mean 'control'"):
        run_arms(path, arms=["contrl"])
    with pytest.raises(ModelInputError, match="repeat a seed"):
        run_arms(path, seeds=[1, 1])
    with pytest.raises(ModelInputError, match="no seeds"):
        run_arms(path, seeds=[])
    with pytest.raises(ModelInputError, match="does not exist"):
        run_arms(path, out_dir=tmp_path / "nope")
    with pytest.raises(RunFileError, match="exists; pass --overwrite"):
        run_arms(path, arms=["control"], seeds=[1], out_dir=out, backend="numpy")


def test_workers_end_soon_after_their_parent_is_killed(tmp_path):
    """A killed parent leaves no worker running its animal to the end (minutes at full size)."""
    import os
    import signal
    import subprocess
    import time

    path = write(tmp_path)
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys\n"
        "from abm.experiment import run_arms\n"
        "if __name__ == '__main__':\n"
        f"    run_arms({str(path)!r}, seeds=range(1, 9), workers=2, backend='numpy',\n"
        "             overrides=['domain.duration=100 d'])\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        workers: list[int] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.5)
            workers = _children_running("spawn_main", parent.pid)
        assert len(workers) >= 2, "the pool's workers did not start"
        time.sleep(1.0)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 20
        alive = workers
        while time.monotonic() < deadline and alive:
            time.sleep(0.5)
            alive = [w for w in alive if _running(w)]
        assert not alive, f"workers {alive} still run 20 s after their parent was killed"
    finally:
        if parent.poll() is None:
            parent.kill()
        for w in _children_running("spawn_main", parent.pid):
            os.kill(w, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _children_running(marker: str, ppid: int) -> list[int]:
    """Processes whose parent is ``ppid`` and whose command line holds ``marker`` (Linux)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        fields = stat.split(")")[-1].split()
        if int(fields[1]) == ppid and marker in cmd and fields[0] != "Z":
            out.append(int(d.name))
    return out
