"""Recording a run.

Readouts, snapshots and checkpoints at their intervals, the stop flag
(SIGTERM/SIGINT: stop after the current step, with a checkpoint), and the run's log.
"""

from __future__ import annotations

import logging
import logging.handlers
import math
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from kernels.backend import to_numpy

from ..errors import RunStopped
from ..readouts import evaluate_readouts, readout_units
from ..scenario import Scenario
from .build import labels_now

__all__ = ["CHECKPOINT_WALL_S", "Schedule", "StopFlag", "snapshot", "checkpoint", "record_readouts",
           "recording", "publish", "steps_for"]

log = logging.getLogger("abm.run")

_EPS = 1e-9


def steps_for(minutes: float, dt: float) -> int:
    """Steps covering ``minutes`` (at least 1)."""
    return max(1, int(round(minutes / dt)))


#: Default wall-clock interval between checkpoints, s (BioDynaMo backs up every 30 min):
#: a node that dies loses at most this much work even if the scenario checkpoints rarely.
CHECKPOINT_WALL_S = 1800.0


def snapshot(writer, model, sc) -> None:
    """Write the fields, tissue states and agent tables the scenario records, with the labels now."""
    fields = {n: np.asarray(to_numpy(model.fields.field(n))) for n in sc.outputs.fields}
    agents = {n: {k: np.asarray(to_numpy(c)) for k, c in model.populations[n].columns.items()}
              for n in sc.outputs.agents}
    extra = {"tissue_states": model.tissue_state_arrays()} if sc.processes else {}
    writer.write_snapshot(int(model.steps), float(model.time), fields, agents,
                          labels=labels_now(model), **extra)


def checkpoint(writer, model, events_fired: int) -> None:
    """Write the whole state (and how many events have fired) as a restart point."""
    state = model.get_state()
    state["runner"] = {"events_fired": int(events_fired)}
    writer.write_checkpoint(int(model.steps), float(model.time), state)


def record_readouts(writer, model, sc) -> None:
    """Append the scenario's readouts now, with their units."""
    units = readout_units(model, sc.outputs.readouts)
    writer.append_readouts(int(model.steps), float(model.time),
                           evaluate_readouts(model, sc.outputs.readouts), units)


class Schedule:
    """Step counts of the recording intervals."""

    def __init__(self, sc: Scenario, n_end: int):
        dt = sc.domain.dt
        self.n_end = n_end
        self.snap = steps_for(sc.outputs.snapshot_every, dt)
        self.ckpt = steps_for(sc.outputs.checkpoint_every, dt)
        self.read = steps_for(sc.outputs.readout_every, dt)
        self.event_steps = [max(0, math.ceil(ev.time / dt - _EPS)) for ev in sc.events]


class StopFlag:
    """SIGTERM (a batch system's pre-emption) or SIGINT: stop after the current step.

    A second signal stops at once: :class:`KeyboardInterrupt` is raised, but never inside a
    write to the run file: while :meth:`protected` is active it is held back until the
    write is complete, so the file keeps every finished snapshot and checkpoint. The
    command then exits 130 (see :mod:`abm.cli`).
    """

    def __init__(self):
        self.signum = None
        self._old = {}
        self._depth = 0
        self._deferred = False

    def __enter__(self):
        for s in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[s] = signal.signal(s, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
        elif self._depth:
            self._deferred = True
        else:  # a second signal: stop now
            raise KeyboardInterrupt

    @contextmanager
    def protected(self):
        """Hold back a second signal's stop until the block (a write) is finished."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if not self._depth and self._deferred:
            self._deferred = False
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False


@contextmanager
def signals_held():
    """Hold SIGINT and SIGTERM back (delivered after the block) while the file is closed."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    except (AttributeError, ValueError, OSError):  # pragma: no cover - no POSIX signals
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _mark_failed(writer, exc, status: str | None = None) -> None:
    try:
        writer.set_attrs(status=(status or f"failed: {type(exc).__name__}: {exc}")[:500])
    except Exception:  # noqa: BLE001 - the original error matters more
        pass


_LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def _setup_log(out: Path, verbose: bool, published: bool = True) -> logging.Handler:
    """Log to ``out``'s .log; for an unpublished run file, to memory until :func:`publish`."""
    log.setLevel(logging.INFO)
    if published:
        h = logging.FileHandler(out.with_suffix(".log"), mode="a", encoding="utf-8")
    else:   # an earlier RUN.log stays as it was until the new run has started
        h = logging.handlers.MemoryHandler(capacity=10_000, flushLevel=logging.CRITICAL + 1)
    h.setFormatter(logging.Formatter(_LOG_FORMAT))
    h.handleError = _quiet   # a full disk must not print logging tracebacks
    log.addHandler(h)
    if verbose:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(logging.Formatter("abm: %(message)s"))
        log.addHandler(sh)
    return h


def publish(writer, out: Path) -> None:
    """Put a staged run file in place (:meth:`RunWriter.publish`) and start its .log.

    Log records kept in memory since the start go to the .log file first.
    """
    writer.publish()
    for h in list(log.handlers):
        if isinstance(h, logging.handlers.MemoryHandler):
            fh = logging.FileHandler(out.with_suffix(".log"), mode="a", encoding="utf-8")
            fh.setFormatter(logging.Formatter(_LOG_FORMAT))
            fh.handleError = _quiet
            h.setTarget(fh)
            h.flush()
            log.removeHandler(h)
            h.close()
            log.addHandler(fh)


@contextmanager
def recording(writer, out: Path, verbose: bool):
    """Log to ``out``'s .log; on failure mark the run file; always close it.

    A staged writer that is never published (the start failed) is closed and its
    temporary file deleted, leaving any earlier file at ``out`` and its .log untouched.
    """
    _setup_log(out, verbose, published=writer.published)
    try:
        yield
        writer.set_attrs(status="finished")
    except RunStopped as exc:
        log.error("run stopped: %s", exc)
        raise
    except KeyboardInterrupt as exc:
        with signals_held():
            log.error("run interrupted by a second signal; the file keeps its last checkpoint")
            _mark_failed(writer, exc, "interrupted by a second signal; resume from the last "
                                      "checkpoint")
        raise
    except BaseException as exc:
        with signals_held():
            log.error("run failed: %s", exc)
            _mark_failed(writer, exc)
        raise
    finally:
        with signals_held():
            writer.close()
            _teardown_log()


def _quiet(record) -> None:
    """A log line that cannot be written (disk full) is dropped without a traceback."""


def _teardown_log():
    for h in list(log.handlers):
        h.close()
        log.removeHandler(h)


