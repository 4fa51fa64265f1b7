#!/usr/bin/env python
"""Benchmark of virtual trials on Dask: overhead per run, throughput with 1 and 2 workers.

Run from the repository root::

    python benchmarks/trials.py                    # 12 runs of a tiny 12 h scenario
    python benchmarks/trials.py --runs 24 --duration "24 h"

The workload is a trial of ``--runs`` animals (two arms, BMSCs injected or not) of a tiny
8 x 8 x 4 voxel scenario (tests/trial/trial_helpers.py), each run about a second on one
core. Three timings, in one invocation so that they share the machine's state:

1. **in process**: the same animals run one after another by
   :func:`abm.trial.worker.run_animal` in this process (no Dask);
2. **1 worker**: :func:`abm.trial.run_trial` on a ``LocalCluster`` of one single-threaded
   worker process;
3. **2 workers**: the same on two workers.

The clusters are started, and every worker has imported the model, before the clock
starts (their start-up is reported on its own). The overhead per run is (1 worker - in
process) / runs: what scheduling, moving results and writing the tables add to each run.
Throughput is runs per minute; the ratio 2 workers / 1 worker is the speed-up (2.0 would
be perfect on 2 free cores). JSON goes to ``benchmarks/results/trials_<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests" / "trial"))

from fields import machine_info  # noqa: E402
from trial_helpers import write_trial  # noqa: E402

from abm.trial import load_trial, run_trial  # noqa: E402
from abm.trial.animals import plan_animals  # noqa: E402
from abm.trial.worker import run_animal  # noqa: E402


def _warm():
    import abm.run.runner  # noqa: F401, PLC0415
    import abm.trial.worker  # noqa: F401, PLC0415

    return True


def _timed_trial(trial, out: Path, n_workers: int) -> dict:
    from distributed import Client, LocalCluster  # noqa: PLC0415

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    client = Client(cluster)
    client.run(_warm)
    start_s = time.perf_counter() - t0
    try:
        t1 = time.perf_counter()
        res = run_trial(trial, out, client=client, progress=False, echo=lambda *_: None)
        wall = time.perf_counter() - t1
    finally:
        client.close()
        cluster.close()
    assert (res.animals["status"] == "finished").all(), res.animals[["name", "status", "error"]]
    n = len(res.animals)
    return {"workers": n_workers, "cluster_start_s": start_s, "wall_s": wall,
            "runs_per_min": 60.0 * n / wall, "mean_task_wall_s": float(res.animals["wall_s"].mean())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=12, help="animals in the trial (even; default 12)")
    p.add_argument("--duration", default="12 h", help="simulated time per run (default '12 h')")
    p.add_argument("--out", type=Path, default=None,
                   help="JSON file (default benchmarks/results/trials_<date>.json)")
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="abm-trial-bench-"))
    try:
        trial = load_trial(write_trial(work, animals=max(1, a.runs // 2), duration=a.duration))
        n = trial.n_runs
        # 1. in process, one after another
        serial_dir = work / "serial"
        (serial_dir / "runs").mkdir(parents=True)
        _warm()
        t0 = time.perf_counter()
        for animal in plan_animals(trial, serial_dir):
            assert run_animal(animal)["status"] == "finished"
        serial = time.perf_counter() - t0
        one = _timed_trial(trial, work / "one", 1)
        two = _timed_trial(trial, work / "two", 2)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rep = {
        "benchmark": "trials", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "machine": machine_info(),
        "note": "shared 2-core CPU box: other processes may run at the same time (noisy)",
        "runs": n, "duration": a.duration,
        "in_process": {"wall_s": serial, "s_per_run": serial / n, "runs_per_min": 60.0 * n / serial},
        "one_worker": one, "two_workers": two,
        "overhead_per_run_s": (one["wall_s"] - serial) / n,
        "speedup_2_vs_1": two["runs_per_min"] / one["runs_per_min"],
    }
    out = a.out or REPO / "benchmarks" / "results" / f"trials_{datetime.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rep, indent=2) + "\n")
    print(f"{n} runs of {a.duration}: in process {serial:.1f} s ({serial / n:.2f} s/run); "
          f"1 worker {one['wall_s']:.1f} s ({one['runs_per_min']:.1f} runs/min); "
          f"2 workers {two['wall_s']:.1f} s ({two['runs_per_min']:.1f} runs/min); "
          f"overhead {rep['overhead_per_run_s']:+.3f} s/run; 2/1 = {rep['speedup_2_vs_1']:.2f}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
