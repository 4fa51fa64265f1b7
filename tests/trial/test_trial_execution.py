"""Trials on a real Dask LocalCluster: runs, results, a killed worker, resume, bad input."""

import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abm.cli import main
from abm.run.runner import run_scenario
from abm.runfile import open_run
from abm.scenario import load_scenario
from abm.trial import load_trial, run_trial
from abm.trial.animals import plan_animals
from abm.trial.worker import attempts

sys.path.insert(0, str(Path(__file__).parent))

from trial_helpers import TRIAL, write_trial  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def _quiet(*_):
    pass


def test_a_local_trial_of_8_tiny_runs_writes_every_run_and_the_results(tmp_path, dask_client):
    trial = load_trial(write_trial(tmp_path, animals=4))
    out = tmp_path / "out"
    res = run_trial(trial, out, client=dask_client, progress=False, echo=_quiet)
    plan = plan_animals(trial, out)
    files = sorted(p.name for p in (out / "runs").glob("*.h5"))
    assert files == sorted(f"{a.name}.h5" for a in plan) and len(files) == 8
    for a in plan:
        with open_run(a.path) as r:
            assert r.attrs["status"] == "finished"
            assert list(r.attrs["overrides"]) == list(a.overrides)   # draws are in the run file
            assert int(r.attrs["seed"]) == a.seed
            count = r.readouts()["count BMSC"][3]                   # t = 30 min
        # 20 min after the injection of the drawn dose: (nearly) all of it, and none in controls
        dose = a.draws["events.0.injection.dose"]
        assert (0.8 * dose <= count <= dose) if a.arm == "treated" else count == 0
    # an animal of the trial is the run `abm run` makes with its overrides and seed
    a = plan[1]
    ref = run_scenario(load_scenario(a.scenario, list(a.overrides)), tmp_path / "ref.h5",
                       seed=a.seed, progress=False)
    with open_run(a.path) as r, open_run(ref) as q:
        assert np.array_equal(r.readouts()["count BMSC"], q.readouts()["count BMSC"])
    animals = pd.read_csv(out / "animals.csv")
    assert len(animals) == 8 and (animals["status"] == "finished").all()
    assert (animals["attempts"] == 1).all()
    pq = pd.read_parquet(out / "animals.parquet")
    assert np.allclose(pq["count BMSC @ 30 min"], animals["count BMSC @ 30 min"])
    treated = animals[animals["arm"] == "treated"]
    assert (treated["count BMSC @ 30 min"] <= treated["events.0.injection.dose [cells]"]).all()
    eff = pd.read_parquet(out / "effects.parquet")
    row = eff[(eff["level"] == "study") & (eff["outcome"] == "count BMSC @ 30 min")].iloc[0]
    assert row["n_treated"] == row["n_control"] == 4
    assert row["mean_treated"] == pytest.approx(treated["count BMSC @ 30 min"].mean())
    # the SDF-1a bolus is the same in every animal: no variation, so no effect size
    sdf = eff[(eff["level"] == "study") & (eff["outcome"] == "total SDF-1a @ end")].iloc[0]
    assert np.isnan(sdf["g"]) and "no variation" in sdf["note"]
    assert len(res.effects) == len(pd.read_csv(out / "effects.csv"))
    assert sorted(p.name for p in out.glob("forest_*.png")) == [
        "forest_count_BMSC_30_min_treated_vs_control.png",
        "forest_total_SDF_1a_end_treated_vs_control.png"]


def _kill_a_running_worker(runs: Path, stop: threading.Event, killed: list):
    """Kill (SIGKILL) the worker process of the first run that has started, mid-run."""
    while not stop.is_set():
        for p in sorted(runs.glob("*.attempts")):
            rows = attempts(p.with_suffix(".h5"))
            if rows:
                time.sleep(0.2)                        # well inside a run of a second or more
                pid = rows[0][1]
                os.kill(pid, signal.SIGKILL)
                killed.append((p.with_suffix(".h5"), pid))
                return
        time.sleep(0.01)


def test_a_worker_killed_mid_trial_loses_no_run_and_runs_none_twice(tmp_path, dask_client):
    trial = load_trial(write_trial(tmp_path, animals=2, duration="12 h"))
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_a_running_worker, args=(out / "runs", stop, killed))
    killer.start()
    try:
        res = run_trial(trial, out, client=dask_client, progress=False, echo=_quiet)
    finally:
        stop.set()
        killer.join()
    assert killed, "no worker was killed"
    victim, pid = killed[0]
    runs = sorted((out / "runs").glob("*.h5"))
    assert len(runs) == 4 and len(set(runs)) == 4
    assert (res.animals["status"] == "finished").all()
    tries = attempts(victim)
    assert len(tries) == 2 and tries[0][1] == pid and tries[1][1] != pid
    assert sum(len(attempts(p)) for p in runs) == 5            # only the victim ran twice
    # the interrupted animal, resumed or rerun on another worker, ends as a run never
    # interrupted would
    a = next(a for a in plan_animals(trial, out) if Path(a.path) == victim)
    ref = run_scenario(load_scenario(a.scenario, list(a.overrides)), tmp_path / "ref.h5",
                       seed=a.seed, progress=False)
    with open_run(victim) as r, open_run(ref) as q:
        for k, v in q.readouts().items():
            assert np.array_equal(r.readouts()[k], v), k


def test_a_trial_started_again_skips_the_finished_runs(tmp_path, dask_client):
    trial = load_trial(write_trial(tmp_path, animals=2))
    out = tmp_path / "out"
    run_trial(trial, out, client=dask_client, progress=False, echo=_quiet)
    runs = sorted((out / "runs").glob("*.h5"))
    lost = runs[1]
    lost.unlink()
    before = {p: p.stat().st_mtime_ns for p in runs if p != lost}
    lines = []
    res = run_trial(trial, out, client=dask_client, progress=False, echo=lines.append)
    assert "4 animals, 3 already finished, 1 to run" in lines[0]
    assert {p: p.stat().st_mtime_ns for p in before} == before         # not touched
    status = dict(zip(res.animals["name"], res.animals["status"]))
    assert status.pop(lost.stem) == "finished" and set(status.values()) == {"skipped"}
    assert len(attempts(lost)) == 2 and all(len(attempts(p)) == 1 for p in before)
    # a run file made with other settings is refused, not reused
    changed = load_trial(write_trial(tmp_path, animals=2,
                                     trial=TRIAL.format(animals=2).replace("seed: 7", "seed: 9")))
    with pytest.raises(Exception, match="holds a run with other settings"):
        run_trial(changed, out, client=dask_client, progress=False, echo=_quiet)


def test_bad_input_is_reported_once_and_not_retried(tmp_path, dask_client):
    text = TRIAL.format(animals=4).replace("{lognormal: {mean: 20 cells, cv: 0.3}, whole: true}",
                                           "{normal: {mean: 5 cells, sd: 20 cells}, whole: true}")
    trial = load_trial(write_trial(tmp_path, trial=text))
    out = tmp_path / "out"
    negative = [a.name for a in plan_animals(trial, out) if a.draws["events.0.injection.dose"] < 0]
    assert negative, "the seed draws no negative dose; choose another"
    lines = []
    res = run_trial(trial, out, client=dask_client, progress=False, retries=3, echo=lines.append)
    bad = res.animals[res.animals["status"] == "bad input"]
    assert sorted(bad["name"]) == sorted(negative)
    assert all("must be >= 0" in e for e in bad["error"])
    for name in negative:
        assert len(attempts(out / "runs" / f"{name}.h5")) == 1                # never retried
        assert sum(name in line for line in lines) == 1                      # reported once
    assert len(res.problems) == len(negative)
    assert (res.animals.loc[~res.animals["name"].isin(negative), "status"] == "finished").all()


def test_abm_trial_on_the_command_line(tmp_path, capsys, monkeypatch):
    path = write_trial(tmp_path, animals=2)
    monkeypatch.chdir(tmp_path)
    assert main(["trial", str(path), "--workers", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Dask dashboard: http" in out and "count BMSC @ 30 min, treated vs control: g =" in out
    assert (tmp_path / "tiny" / "effects.csv").exists()
    assert main(["trial", str(path), "--job-script"]) == 2
    assert "give --slurm or --pbs" in capsys.readouterr().err
    assert main(["trial", str(path), "--workers", "0"]) == 2


STUDIES = """\
studies:
  - {name: fine, animals: 2, set: ["domain.dt=2 min"], subgroups: {step: fine}}
  - {name: coarse, animals: 2, set: ["domain.dt=5 min"], subgroups: {step: coarse}}
  - {name: coarse2, animals: 3, set: ["domain.dt=5 min"], subgroups: {step: coarse}}
"""


def test_studies_are_run_with_their_protocols_and_pooled_with_subgroups(tmp_path, dask_client):
    trial = load_trial(write_trial(tmp_path, extra=STUDIES))
    out = tmp_path / "out"
    res = run_trial(trial, out, client=dask_client, progress=False, echo=_quiet)
    assert len(list((out / "runs").glob("*.h5"))) == 14
    a = next(a for a in plan_animals(trial, out) if a.name == "coarse2-treated-002")
    with open_run(a.path) as r:
        assert list(r.attrs["overrides"]) == list(a.overrides)
        assert list(r.attrs["overrides"])[:2] == ["arm=treated", "domain.dt=5 min"]
        assert r.attrs["dt_min"] == 5.0
    e = res.effects[res.effects["outcome"] == "count BMSC @ 30 min"]
    studies = e[e["level"] == "study"].set_index("study")
    assert list(studies.index) == ["fine", "coarse", "coarse2"]
    assert studies.loc["coarse2", "n_treated"] == 3 and studies.loc["fine", "n_control"] == 2
    pooled = e[e["level"] == "pooled"].iloc[0]
    assert pooled["k"] == 3 and pooled["q_df"] == 2
    assert sorted(e.loc[e["level"] == "subgroup", "group"]) == ["coarse", "fine"]
    assert e.loc[e["level"] == "subgroup test", "q_df"].iloc[0] == 1


def test_abm_trial_on_an_existing_scheduler_leaves_it_running(tmp_path, capsys, dask_client):
    path = write_trial(tmp_path, animals=2)
    address = dask_client.scheduler.address
    assert main(["trial", str(path), "--scheduler", address, "--out", str(tmp_path / "o"),
                 "--quiet"]) == 0
    assert len(list((tmp_path / "o" / "runs").glob("*.h5"))) == 4
    assert dask_client.submit(sum, [1, 2]).result() == 3          # the cluster still serves
