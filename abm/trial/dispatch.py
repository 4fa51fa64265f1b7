"""Runs as Dask tasks: submit, stream the results back, never lose or repeat one.

Shared by trials (:mod:`abm.trial.execute`) and sweeps (:mod:`abm.trial.sweep`): each
planned run (an :class:`~abm.trial.animals.Animal`) is one task of
:func:`abm.trial.worker.run_animal`; runs already finished are read here instead of being
submitted; results arrive as they finish (``on_row``) under a progress bar; on Ctrl-C
the tasks are cancelled and what is finished stays on disk.
"""

from __future__ import annotations

import sys
import uuid

from .outcomes import FINISHED, outcome_values, run_state
from .worker import run_animal

__all__ = ["split_finished", "dispatch"]


def split_finished(animals) -> tuple[dict, list]:
    """``(rows of the finished runs, runs still to do)``.

    Raises
    ------
    RunFileError
        A run file made with other settings (it is never reused nor overwritten).
    """
    rows, todo = {}, []
    for a in animals:
        if run_state(a) == FINISHED:
            rows[a.name] = {"name": a.name, "status": "skipped", "error": "",
                            **outcome_values(a.path, a.outcomes)}
        else:
            todo.append(a)
    return rows, todo


def dispatch(todo, *, client=None, kind="local", address=None, workers=None, resources=None,
             log_dir=None, retries=2, progress=True, total=None, on_row=None, echo=print) -> None:
    """Run ``todo`` on Dask; call ``on_row(row)`` as each result arrives.

    ``client`` is used if given (and left open); otherwise a cluster of ``kind`` is opened
    (:func:`abm.trial.clusters.open_client`) and closed at the end. A run that failed after
    its retries, or whose workers kept dying, gives a row with status ``failed``; bad input
    gives ``bad input``; both are passed to ``echo`` once.
    """
    from distributed import as_completed  # noqa: PLC0415
    from tqdm import tqdm  # noqa: PLC0415

    from .clusters import open_client  # noqa: PLC0415
    from .spec import Resources  # noqa: PLC0415

    close = None
    if client is None:
        client, close = open_client(kind, workers=workers, address=address,
                                    resources=resources or Resources(), log_dir=log_dir)
    try:
        link = getattr(client, "dashboard_link", None)
        if link:
            echo(f"Dask dashboard: {link}")
        token = uuid.uuid4().hex[:8]
        futures = {client.submit(run_animal, a, key=f"abm-{a.name}-{token}", pure=False,
                                 retries=retries): a for a in todo}
        total = total or len(todo)
        try:
            with tqdm(total=total, initial=total - len(todo), unit="run", disable=not progress,
                      file=sys.stderr, dynamic_ncols=True, mininterval=0.5) as bar:
                for fut in as_completed(futures):
                    a = futures[fut]
                    try:
                        row = fut.result()
                    except Exception as exc:  # noqa: BLE001 - retries spent, or its workers died
                        first = str(exc).splitlines()[0] if str(exc) else ""
                        row = {"name": a.name, "status": "failed", "error": f"{type(exc).__name__}: {first}"}
                    if row["status"] in ("bad input", "failed"):
                        msg = f"run {a.name} {row['status']}: {row['error']}"
                        if progress:
                            bar.write(msg, file=sys.stderr)
                        else:
                            echo(msg)
                    if on_row is not None:
                        on_row(row)
                    bar.update(1)
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
    finally:
        if close is not None:
            close()
