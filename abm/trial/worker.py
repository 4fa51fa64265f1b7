"""One animal's run, as a Dask task on a worker (:func:`run_animal`).

The task is idempotent: a finished run file is read, not run again; a partial one (its
worker died, the trial was stopped) is resumed from its last checkpoint; otherwise the
run starts from the beginning. So a task that Dask reschedules after its worker died
leaves exactly one complete run file (a partial file that cannot be resumed is run again
from the start; one still held open by another writer is left alone and the task retried).
Bad input (a drawn value the scenario refuses, a
damaged file) is returned as a result, not raised: Dask retries what raises, and bad input
would fail the same way every time. Each attempt appends a line to ``NAME.attempts``
beside the run file (worker host, process id, time), which tells a user which worker ran
what and how often.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from pathlib import Path

from ..errors import ModelInputError
from ..runfile import RunFileError
from ..runfile.opening import _being_written
from .outcomes import ABSENT, FINISHED, PARTIAL, outcome_values, run_state

__all__ = ["run_animal", "attempts"]


def _note_attempt(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".attempts"), "a", encoding="utf-8") as f:
        f.write(f"{socket.gethostname()} {os.getpid()} {time.time():.3f}\n")


def attempts(run_path) -> list[tuple[str, int, float]]:
    """The attempts recorded for a run file: ``[(host, pid, unix time), ...]``."""
    p = Path(run_path).with_suffix(".attempts")
    if not p.exists():
        return []
    rows = []
    for line in p.read_text(encoding="utf-8").splitlines():
        host, pid, t = line.split()
        rows.append((host, int(pid), float(t)))
    return rows


def run_animal(animal) -> dict:
    """Run (or finish, or just read) one animal; return its row of the results.

    Returns
    -------
    dict
        ``name``, ``status`` (``finished``, ``skipped`` when it was already finished, or
        ``bad input``), ``error`` (the message, for bad input), ``wall_s``, and the outcome
        values by label.
    """
    from ..run.runner import resume_run, run_scenario  # noqa: PLC0415
    from ..scenario import load_scenario  # noqa: PLC0415

    t0 = time.perf_counter()
    path = Path(animal.path)
    row = {"name": animal.name, "status": "finished", "error": ""}
    if _being_written(path):
        # a worker presumed dead is still writing it (a network split): Dask retries later
        raise RuntimeError(f"animal {animal.name}: {path} is still being written by another "
                           "process; retrying later")
    try:
        state = run_state(animal)
        if state != FINISHED:
            _note_attempt(path)
        if state == PARTIAL:
            try:
                resume_run(path, progress=False)
            except RunFileError:      # its checkpoints cannot be resumed: run it again
                state = ABSENT
        if state == ABSENT:
            sc = load_scenario(animal.scenario, overrides=list(animal.overrides))
            run_scenario(sc, path, seed=animal.seed, overwrite=True, progress=False)
        elif state == FINISHED:
            row["status"] = "skipped"
        row.update(outcome_values(path, animal.outcomes))
    except ModelInputError as exc:
        row.update(status="bad input", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - re-raised with the traceback text for Dask's retry
        raise RuntimeError(f"animal {animal.name}: {type(exc).__name__}: {exc}\n"
                           f"{traceback.format_exc()}") from exc
    row["wall_s"] = time.perf_counter() - t0
    return row
