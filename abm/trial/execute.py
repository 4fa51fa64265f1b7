"""Running a trial on Dask: every animal a task, results streamed into the tables.

:func:`run_trial` checks the trial against its scenarios, plans the animals, reads the runs
that are already finished (a trial started again after a crash or Ctrl-C skips them),
submits the others to a Dask cluster (:mod:`abm.trial.clusters`) and collects them as they
finish: ``animals.csv`` is rewritten after each, a progress bar counts them, the Dask
dashboard address is printed. When all are in, the effects table
(:mod:`abm.trial.analysis`), its CSV and Parquet files and a forest plot per outcome and
comparison are written.

Failures: a run whose worker dies is rescheduled by the Dask scheduler on another worker
(up to ``distributed.scheduler.allowed-failures`` deaths, 3 by default), where it resumes
the partial run file; an unexpected error is retried ``retries`` times; bad input (a drawn
value the scenario refuses) is reported once and not retried (:mod:`abm.trial.worker`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .analysis import effects_table
from .animals import RUNS_DIR, Animal, plan_animals
from .dispatch import dispatch, split_finished
from .forest import forest_file_name, forest_plot
from .load import check_trial
from .spec import Trial
from .table import write_table
from .worker import attempts

__all__ = ["run_trial", "TrialResult", "animals_frame"]


@dataclass
class TrialResult:
    """What a finished trial wrote.

    Attributes
    ----------
    animals : pandas.DataFrame
        One row per animal (plan, draws, status, outcomes).
    effects : pandas.DataFrame
        The effects table (:func:`abm.trial.analysis.effects_table`).
    files : list of Path
        Tables and forest plots written.
    problems : list of str
        One line per animal that failed (bad input, or an error after its retries).
    """

    animals: pd.DataFrame
    effects: pd.DataFrame
    files: list = field(default_factory=list)
    problems: list = field(default_factory=list)


def _draw_column(trial: Trial, key: str) -> str:
    v = next(v for v in trial.variability if v.key == key)
    return f"{key} [{v.unit}]" if v.unit else key


def animals_frame(trial: Trial, animals: list[Animal], rows: dict) -> pd.DataFrame:
    """One row per planned animal: plan, drawn values, and its result so far."""
    labels = [o.label for o in trial.outcomes]
    out = []
    for a in animals:
        r = rows.get(a.name, {"status": "pending", "error": ""})
        row = {"name": a.name, "study": a.study, "arm": a.arm, "animal": a.index, "seed": a.seed,
               "file": str(Path(RUNS_DIR) / Path(a.path).name), "status": r["status"],
               "error": r.get("error", ""), "wall_s": r.get("wall_s", float("nan")),
               "attempts": len(attempts(a.path))}
        row.update({_draw_column(trial, k): x for k, x in a.draws.items()})
        row.update({lab: r.get(lab, float("nan")) for lab in labels})
        out.append(row)
    return pd.DataFrame(out)


def run_trial(trial: Trial, out_dir, *, client=None, kind: str = "local", address=None,
              workers=None, retries: int = 2, progress: bool = True, echo=print) -> TrialResult:
    """Run every animal of ``trial`` not yet finished under ``out_dir``; write the results.

    Parameters
    ----------
    trial : Trial
        From :func:`abm.trial.load_trial`.
    out_dir : str or Path
        Folder of the trial's outputs (created): ``runs/`` (one HDF5 per animal),
        ``animals.csv``/``.parquet``, ``effects.csv``/``.parquet``, ``forest_*.png``.
    client : distributed.Client, optional
        Use this client (its cluster is left running); otherwise one is opened for
        ``kind`` (``local``, ``scheduler`` with ``address``, ``slurm``, ``pbs``) and closed.
    workers : int, optional
        Local worker processes (default: one per core) or batch jobs.
    retries : int
        Retries of a run that raised an unexpected error (not bad input, not a worker death).
    progress : bool
        Show a progress bar on stderr.
    echo : callable
        Receives the lines to show (dashboard address, failures, what was written).
    """
    check_trial(trial)
    out = Path(out_dir)
    (out / RUNS_DIR).mkdir(parents=True, exist_ok=True)
    animals = plan_animals(trial, out)
    rows, todo = split_finished(animals)
    table = out / "animals"
    if todo:
        echo(f"{trial.name}: {len(animals)} animals, {len(animals) - len(todo)} already finished, "
             f"{len(todo)} to run")
        write_table(animals_frame(trial, animals, rows), table, parquet=False)

        def keep(row):
            rows[row["name"]] = row
            write_table(animals_frame(trial, animals, rows), table, parquet=False)

        try:
            dispatch(todo, client=client, kind=kind, address=address, workers=workers,
                     resources=trial.resources, log_dir=out / "dask-logs", retries=retries,
                     progress=progress, total=len(animals), on_row=keep, echo=echo)
        finally:
            write_table(animals_frame(trial, animals, rows), table, parquet=False)
    return _finish(trial, animals, rows, out, echo)


def _finish(trial, animals, rows, out: Path, echo) -> TrialResult:
    frame = animals_frame(trial, animals, rows)
    files = write_table(frame, out / "animals")
    effects = effects_table(trial, frame)
    files += write_table(effects, out / "effects")
    for o in trial.outcomes:
        for c in trial.comparisons:
            files.append(forest_plot(effects, o.label, c.label, out / forest_file_name(o.label, c.label)))
    problems = [f"{r['name']}: {r['status']}: {r['error']}" for r in rows.values()
                if r["status"] in ("bad input", "failed")]
    pooled = effects[effects["level"] == "pooled"]
    for _, p in pooled.iterrows():
        if math.isfinite(p["g"]):
            extra = (f", tau² {p['tau2']:.3g}, I² {100 * p['i2']:.0f}%, Q p = {p['q_p']:.3g}"
                     if p["k"] > 1 else "")
            echo(f"  {p['outcome']}, {p['comparison']}: g = {p['g']:.2f} "
                 f"[{p['ci_low']:.2f}, {p['ci_high']:.2f}] over {int(p['k'])} "
                 f"stud{'ies' if p['k'] > 1 else 'y'}{extra}")
        else:
            echo(f"  {p['outcome']}, {p['comparison']}: no effect size ({p['note']})")
    if problems:
        echo(f"{len(problems)} animal(s) without a result: see the status and error columns of "
             f"{out / 'animals.csv'}")
    echo(f"wrote {out / 'animals.csv'}, {out / 'effects.csv'} (+ .parquet) and "
         f"{sum(1 for f in files if f.suffix == '.png')} forest plot(s) in {out}")
    return TrialResult(frame, effects, files, problems)
