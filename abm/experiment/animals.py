"""Running the arms of a scenario over several virtual animals (seeds).

Each animal is one run of the scenario with its own seed and its own run file; the arms
of one experiment (treated, control, ...) run with the same seeds, so animal ``k`` of the
treated arm and animal ``k`` of the control are the same animal with and without the
treatment. What comes back per run is its readout table (:class:`RunTable`).

Runs go one after the other by default; ``workers > 1`` runs them in that many processes
(:mod:`concurrent.futures`, started with ``spawn`` so that a CUDA context or threads of
the parent are never forked). Results do not depend on the number of workers: every random
draw is a pure function of the seed, step, agent and purpose.

Example
-------
>>> from abm.experiment import run_arms
>>> runs = run_arms("scenarios/quickstart.yaml", seeds=[1, 2, 3],
...                 overrides=["domain.duration=2 h"])
>>> [r.value("count BMSC") for r in runs["default"]]
"""

from __future__ import annotations

import os
import tempfile
import time as _time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from ..errors import ModelInputError
from ..registry import did_you_mean

__all__ = ["RunTable", "run_arms", "arm_names", "NO_ARM"]

#: Key of the one entry :func:`run_arms` returns for a scenario that declares no arms.
NO_ARM = "default"


@dataclass(frozen=True)
class RunTable:
    """The readouts of one run (one animal of one arm).

    Attributes
    ----------
    arm : str
        Arm name (:data:`NO_ARM` for a scenario without arms).
    seed : int
        The run's seed.
    time_min : numpy.ndarray
        Simulated time of each readout row, min.
    steps : numpy.ndarray of int
        Model step of each row.
    readouts : dict of str to numpy.ndarray
        Readout name (as written in ``outputs.readouts``) -> value per row (float64).
    units : dict of str to str
        Readout name -> unit.
    path : pathlib.Path or None
        The run file; None when it was written to a temporary folder and removed.
    wall_s : float
        Wall-clock time of the run, s (loading, building and stepping).
    """

    arm: str
    seed: int
    time_min: np.ndarray
    steps: np.ndarray
    readouts: dict
    units: dict = field(default_factory=dict)
    path: Optional[Path] = None
    wall_s: float = float("nan")

    def row_at(self, time_min: Optional[float]) -> int:
        """Index of the last readout row at or before ``time_min`` (None: the last row).

        Raises
        ------
        ModelInputError
            No row at or before that time.
        """
        if time_min is None:
            if len(self.time_min) == 0:
                raise ModelInputError(f"the {self.arm} run with seed {self.seed} recorded no "
                                      "readouts; check outputs.readouts")
            return len(self.time_min) - 1
        # a readout time and a claim time written in other units may differ in the last bits
        tol = 1e-9 * max(1.0, abs(float(time_min)))
        idx = np.nonzero(self.time_min <= float(time_min) + tol)[0]
        if idx.size == 0:
            first = float(self.time_min[0]) if len(self.time_min) else float("nan")
            raise ModelInputError(f"the {self.arm} run with seed {self.seed} has no readout at or "
                                  f"before t = {time_min:g} min (its first is at {first:g} min)")
        return int(idx[-1])

    def value(self, readout: str, time_min: Optional[float] = None) -> float:
        """The readout at the last row at or before ``time_min`` (min; None: the end).

        Raises
        ------
        ModelInputError
            An unknown readout (with the ones recorded), or no row at or before that time.
        """
        if readout not in self.readouts:
            raise ModelInputError(f"readout {readout!r} was not recorded"
                                  f"{did_you_mean(readout, list(self.readouts))}; the run records: "
                                  f"{', '.join(self.readouts)}")
        return float(self.readouts[readout][self.row_at(time_min)])


def arm_names(scenario, overrides: Sequence[str] = ()) -> list[str]:
    """The arms a scenario file declares, in file order (``[NO_ARM]`` when it declares none).

    Parameters
    ----------
    scenario : str or Path
        Scenario file.
    overrides : sequence of str
        ``key.path=value`` overrides.
    """
    from ..scenario import load_scenario  # noqa: PLC0415

    sc = load_scenario(scenario, list(overrides))
    return list(sc.arms) or [NO_ARM]


def _exit_with_parent(parent_pid: int, every_s: float = 2.0) -> None:
    """Worker initializer: end this worker soon after the process that started it is gone.

    A pool's workers otherwise run their current animal to its end (minutes to hours at full
    size) when the parent is killed (``kill``, a closed terminal, a batch system's limit).
    A daemon thread checks every ``every_s`` seconds whether the parent still exists.
    """
    import threading  # noqa: PLC0415

    def watch() -> None:
        while True:
            _time.sleep(every_s)
            if os.getppid() != parent_pid:        # re-parented: the parent has died
                os._exit(3)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _run_one(job: dict) -> dict:
    """Run one animal (in this process or a worker) and return its readouts as arrays."""
    from ..run.runner import run_scenario  # noqa: PLC0415
    from ..runfile import open_run  # noqa: PLC0415
    from ..scenario import load_scenario  # noqa: PLC0415

    t0 = _time.perf_counter()
    sc = load_scenario(job["scenario"], job["overrides"])
    out = run_scenario(sc, job["out"], backend=job["backend"], seed=job["seed"],
                       overwrite=job["overwrite"], progress=False)
    wall = _time.perf_counter() - t0
    with open_run(out) as r:
        ro = r.readouts()
        units = dict(r.readout_units)
        seed = int(r.attrs["seed"])
    return {"arm": job["arm"], "seed": seed, "time_min": np.asarray(ro.pop("time_min"), float),
            "steps": np.asarray(ro.pop("step"), np.int64),
            "readouts": {k: np.asarray(v, np.float64) for k, v in ro.items()},
            "units": {k: units.get(k, "") for k in ro}, "wall_s": wall, "out": str(out),
            "index": job["index"]}


def run_arms(scenario, *, arms: Optional[Sequence[str]] = None, seeds: Sequence[int] = (1,),
             overrides: Sequence[str] = (), out_dir=None, backend: Optional[str] = None,
             workers: int = 1, overwrite: bool = False,
             on_run: Optional[Callable[[RunTable], None]] = None) -> dict[str, list[RunTable]]:
    """Run every arm of a scenario once per seed and return the readout tables.

    Parameters
    ----------
    scenario : str or Path
        Scenario file.
    arms : sequence of str, optional
        Arms to run (default: all the scenario declares; a scenario without arms runs once
        per seed, under the key :data:`NO_ARM`).
    seeds : sequence of int
        One virtual animal per seed; every arm runs with the same seeds.
    overrides : sequence of str
        Extra ``key.path=value`` overrides for every run (e.g. ``domain.duration=2 h`` or
        ``domain.extent=[...]`` to shrink a scenario for a test), applied before the arm's
        own ``set:`` entries.
    out_dir : str or Path, optional
        Folder for the run files ``<scenario name>_<arm>_seed<seed>.h5`` (kept). Default: a
        temporary folder, removed afterwards (the tables' ``path`` is then None).
    backend : {"numpy", "cupy"} or None
        None: CuPy on a GPU, NumPy otherwise (as ``abm run``).
    workers : int
        Runs at the same time, each in its own process (default 1: in this process).
    overwrite : bool
        Replace run files already in ``out_dir`` (refused otherwise).
    on_run : callable, optional
        Called with each :class:`RunTable` as its run finishes (e.g. to advance a progress
        bar); with several workers, in the order they finish.

    Returns
    -------
    dict of str to list of RunTable
        Arm -> its runs, in the order of ``seeds``.

    Raises
    ------
    abm.errors.ModelInputError
        An unknown arm, no seeds, repeated seeds, fewer than one worker, a missing folder.
    abm.scenario.ScenarioError
        The scenario (with the overrides) is not valid.
    """
    from ..scenario import load_scenario  # noqa: PLC0415

    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ModelInputError("no seeds given; give at least one (one virtual animal per seed)")
    if len(set(seeds)) != len(seeds):
        raise ModelInputError(f"seeds {seeds} repeat a seed; two animals with one seed are the "
                              "same run: give distinct seeds")
    if int(workers) < 1:
        raise ModelInputError(f"workers = {workers}; give 1 or more")
    overrides = [str(o) for o in overrides]
    sc = load_scenario(scenario, overrides)
    declared = list(sc.arms)
    chosen = list(arms) if arms is not None else (declared or [NO_ARM])
    for a in chosen:
        if declared and a not in declared:
            raise ModelInputError(f"scenario {sc.name!r} has no arm {a!r}"
                                  f"{did_you_mean(a, declared)}; its arms are: {', '.join(declared)}")
        if not declared and a != NO_ARM:
            raise ModelInputError(f"scenario {sc.name!r} declares no arms; run it without arms "
                                  f"(or as {NO_ARM!r})")
    tmp = tempfile.TemporaryDirectory(prefix="abm-arms-") if out_dir is None else None
    folder = Path(tmp.name if tmp else out_dir)
    if not folder.is_dir():
        raise ModelInputError(f"folder {folder} does not exist; create it or choose another")
    jobs = []
    for a in chosen:
        arm_ov = [f"arm={a}"] if declared else []
        for s in seeds:
            label = a if declared else NO_ARM
            jobs.append({"scenario": str(scenario), "overrides": overrides + arm_ov, "seed": s,
                         "arm": label, "backend": backend, "overwrite": overwrite,
                         "out": str(folder / f"{sc.name}_{label}_seed{s}.h5"),
                         "index": len(jobs)})
    results: list = [None] * len(jobs)

    def done(res: dict) -> None:
        table = RunTable(res["arm"], res["seed"], res["time_min"], res["steps"], res["readouts"],
                         res["units"], None if tmp else Path(res["out"]), res["wall_s"])
        results[res["index"]] = table
        if on_run is not None:
            on_run(table)

    try:
        if int(workers) == 1:
            for job in jobs:
                done(_run_one(job))
        else:
            with ProcessPoolExecutor(max_workers=int(workers), mp_context=get_context("spawn"),
                                     initializer=_exit_with_parent,
                                     initargs=(os.getpid(),)) as ex:
                futures = [ex.submit(_run_one, job) for job in jobs]
                for fut in as_completed(futures):
                    done(fut.result())
    finally:
        if tmp is not None:
            tmp.cleanup()
    out: dict[str, list[RunTable]] = {}
    for t in results:
        out.setdefault(t.arm, []).append(t)
    return out
