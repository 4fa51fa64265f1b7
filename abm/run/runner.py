"""Running a scenario headless: build the model, play the timeline, write the run file.

:func:`run_scenario` turns a loaded :class:`~abm.scenario.Scenario` into a
:class:`~abm.cells.TissueModel` (:mod:`.build`), places the initial populations, and steps it
to the end of the simulated duration. Along the way it

* fires the scenario's **events** at the start of the first step whose start
  time has reached the event time, each by its registered kind
  (:meth:`abm.events.EventKind.fire`);
* records **readouts** every ``outputs.readout_every``, each by its registered
  kind (:mod:`abm.readouts`);
* writes **snapshots** (fields and agent tables) every
  ``outputs.snapshot_every`` and at the end;
* writes **checkpoints** (the whole state, :meth:`TissueModel.get_state`) at
  step 0, every ``outputs.checkpoint_every`` and at the end.

:func:`resume_run` reopens a run file, rebuilds the model from the scenario
text stored in it (with the same overrides, seed and backend), restores the
last complete checkpoint, and continues. Because every random draw is a pure
function of (seed, step, id, purpose), the resumed run ends with exactly the
fields and agents of a run that was never interrupted (same backend).

Times are in minutes internally; the step at which something happens is
``ceil(time / dt)`` (an event at 90 min with ``dt`` = 60 min fires at the
start of step 2, time 120 min).
"""

from __future__ import annotations

import logging
import signal
import sys
import time as _time
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ModelInputError, RunStopped
from ..events import FireContext, event_kind
from ..readouts import evaluate_readouts, readout_units, total_unit
from ..runfile import RunFileError, RunWriter, open_run
from ..runfile.opening import _refuse_if_being_written
from ..runfile.space import ensure_space, free_bytes, human_bytes, tree_nbytes
from ..scenario import Scenario, load_scenario, load_scenario_text
from .build import build_model, labels_now, place_populations
from .recording import (
    CHECKPOINT_WALL_S,
    Schedule,
    StopFlag,
    checkpoint,
    publish,
    record_readouts,
    recording,
    snapshot,
)

__all__ = ["build_model", "place_populations", "run_scenario", "resume_run", "rebuild_scenario",
           "fire_event", "evaluate_readouts", "readout_units", "total_unit", "RunStopped",
           "ModelInputError"]

log = logging.getLogger("abm.run")


def fire_event(model, ev) -> None:
    """Apply one timeline event to the model now (by its registered kind)."""
    event_kind(ev.kind).fire(ev.spec, model, FireContext(model, ev.time))


def _loop(model, sc, writer, sched: Schedule, events_fired: int, progress: bool,
          checkpoint_wall_s: float = CHECKPOINT_WALL_S) -> None:
    """Step from ``model.steps`` to ``sched.n_end``, firing events and recording.

    Checkpoints are written at the scenario's interval, at the end, when a stop signal
    arrived, and whenever ``checkpoint_wall_s`` seconds of wall time have passed since
    the last one. They do not change the simulation, so where they fall never changes
    the result.
    """
    from tqdm import tqdm  # noqa: PLC0415

    dt = sc.domain.dt
    start = int(model.steps)
    hours = sched.n_end * dt / 60.0
    bar = tqdm(total=sched.n_end, initial=start, unit="step", disable=not progress,
               file=sys.stderr, mininterval=0.5, dynamic_ncols=True,
               bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} steps [{elapsed}<{remaining}, "
                          "{rate_fmt}] {postfix}")
    t0 = last_ckpt = _time.perf_counter()
    with StopFlag() as stop, bar:
        for s in range(start, sched.n_end):
            while events_fired < len(sc.events) and sched.event_steps[events_fired] <= s:
                fire_event(model, sc.events[events_fired])
                events_fired += 1
            model.step()
            k = s + 1
            last = k == sched.n_end
            # read the flag once: a signal arriving later in this iteration is acted on
            # after the next step, never between the checkpoint decision and the stop
            stopping = stop.signum is not None
            with stop.protected():     # a second signal waits until the writes are done
                if k % sched.read == 0 or last:
                    record_readouts(writer, model, sc)
                if k % sched.snap == 0 or last:
                    snapshot(writer, model, sc)
                    log.info("snapshot at step %d (t = %.4g h)", k, model.time / 60)
                if (k % sched.ckpt == 0 or last or stopping
                        or _time.perf_counter() - last_ckpt >= checkpoint_wall_s):
                    checkpoint(writer, model, events_fired)
                    last_ckpt = _time.perf_counter()
                    log.info("checkpoint at step %d (t = %.4g h)", k, model.time / 60)
                writer.flush()
            bar.set_postfix_str(f"t = {model.time / 60:.2f} / {hours:.4g} h", refresh=False)
            bar.update(1)
            if stopping and not last:
                name = signal.Signals(stop.signum).name
                with stop.protected():
                    writer.set_attrs(status=f"stopped by {name} at step {k}")
                raise RunStopped(f"stopped by {name} at t = {model.time / 60:.4g} h after a "
                                 f"checkpoint; continue with: abm resume {writer.path}")
    wall = _time.perf_counter() - t0
    log.info("finished %d steps in %.3g s (%.3g steps/s)", sched.n_end - start, wall,
             (sched.n_end - start) / wall if wall > 0 else float("inf"))



# ---------------------------------------------------------------- entry points
def run_scenario(scenario, out, *, overrides=(), backend=None, seed=None, overwrite=False,
                 progress=True, verbose=False, checkpoint_wall_s=CHECKPOINT_WALL_S) -> Path:
    """Run a scenario from the start and write ``out`` (HDF5) plus its ``.xdmf`` and ``.log``.

    Parameters
    ----------
    scenario : str, Path or Scenario
        Scenario file (or an already loaded scenario).
    out : str or Path
        Run file to write; an existing file is refused unless ``overwrite``.
    overrides : sequence of str
        ``key.path=value`` overrides (as ``abm run --set``).
    backend : {"numpy", "cupy"} or None
    seed : int, optional
        Overrides the scenario's seed; if neither gives one, one is drawn and recorded.
    progress : bool
        Show a progress bar on stderr.
    checkpoint_wall_s : float
        Also checkpoint after this many seconds of wall time (default 1800).

    Returns
    -------
    Path
        The run file.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, overrides)
    out = Path(out)
    if out.exists() and not overwrite:
        raise RunFileError(f"{out} exists; pass --overwrite to replace it or choose another --out")
    if not out.parent.exists():
        raise RunFileError(f"folder {out.parent} does not exist; create it or choose another --out")
    _refuse_if_being_written(out)
    model = build_model(sc, backend=backend, seed=seed)
    place_populations(model, sc)
    n_end = sc.domain.n_steps
    meta = {
        "scenario_name": sc.name, "scenario_file": str(sc.source),
        "scenario_dir": str(Path(sc.base_dir).resolve()), "overrides": list(sc.overrides),
        "backend": model.backend.name, "device": model.backend.device, "seed": int(model.seed),
        "dt_min": sc.domain.dt, "dx_um": sc.domain.dx, "shape": list(sc.domain.shape),
        "n_steps": n_end, "field_dtype": str(model.fields.dtype),
        "command": " ".join(sys.argv) if sys.argv else "", "status": "running",
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    units = {"length": "um", "time": "min", "amount": "field unit * um^3", "count": "cells"}
    units.update({f.name: f.unit for f in sc.fields})
    writer = RunWriter.create(
        out, metadata=meta, scenario_text=sc.text, units=units,
        field_units={f.name: f.unit for f in sc.fields}, tissue_names=model.tissue_names,
        labels=labels_now(model),
        cell_types={c.name: _declaration(c.cls) for c in sc.cell_types},
        **({"tissue_state_units": sc.tissue_state_units} if sc.processes else {}),
        overwrite=overwrite, staged=True)
    writer.write_masks(getattr(sc, "masks", {}))
    with recording(writer, out, verbose):
        log.info("run %s: scenario %s, %s backend, seed %d, lattice %s x %g um, %d steps of %g min",
                 out, sc.name, model.backend.name, model.seed, sc.domain.shape, sc.domain.dx,
                 n_end, sc.domain.dt)
        sched = Schedule(sc, n_end)
        fired = 0
        while fired < len(sc.events) and sched.event_steps[fired] <= 0:
            fire_event(model, sc.events[fired])
            fired += 1
        record_readouts(writer, model, sc)
        snapshot(writer, model, sc)
        checkpoint(writer, model, fired)
        writer.flush()
        # the run has started: only now does the new file replace an earlier one
        publish(writer, out)
        log.info("checkpoint at step 0 (initial state)")
        _warn_if_run_may_not_fit(model, sc, out, sched)
        _loop(model, sc, writer, sched, fired, progress, checkpoint_wall_s)
    return out


def _warn_if_run_may_not_fit(model, sc, out: Path, sched: Schedule) -> None:
    """Warn (stderr and log) when the run's snapshots, uncompressed, exceed the free space.

    Only a warning: gzip usually stores much less, and a write the disk cannot take is
    refused cleanly anyway (:mod:`abm.runfile.space`).
    """
    n_snap = sc.domain.n_steps // sched.snap + 1
    per = tree_nbytes([{n: model.fields.field(n) for n in sc.outputs.fields},
                       {n: model.populations[n].columns for n in sc.outputs.agents}])
    need, free = n_snap * per, free_bytes(out)
    if need > free:
        msg = (f"the {n_snap} snapshots of this run take up to {human_bytes(need)} uncompressed "
               f"and {out.parent} has {human_bytes(free)} free; if the disk fills, the run "
               "stops with everything before kept (continue with abm resume)")
        log.warning(msg)
        print(f"abm: warning: {msg}", file=sys.stderr)


def _declaration(cls) -> dict:
    """What the run file records of a cell type (viewers read it instead of the model)."""
    return {"states": list(cls.states), "variables": list(cls.variables),
            "colour": cls.colour, "state_colours": dict(cls.state_colours)}


def rebuild_scenario(reader, extra_overrides=(), plugin_dir=None) -> Scenario:
    """The scenario of a run file, from the text and overrides stored in it.

    Its masks come from the run file (:meth:`RunReader.masks`); no mask path recorded in
    the file is read. A ``.py`` plugin file the scenario names is imported only from
    ``plugin_dir`` (``--plugins-dir``), never from the folder recorded in the file.
    """
    a = reader.attrs
    base = Path(a.get("scenario_dir", "."))
    return load_scenario_text(reader.scenario_text, name=a.get("scenario_file", "<run file>"),
                              base_dir=base, stored_masks=reader.masks(),
                              overrides=tuple(a.get("overrides", ())) + tuple(extra_overrides),
                              plugin_dir=plugin_dir, from_run_file=True)


def _events_fired(state: dict, sc, path: Path) -> int:
    """How many events a checkpoint says have fired (0..number of events), else RunFileError."""
    try:
        n = int(state["runner"]["events_fired"])
    except (KeyError, TypeError, ValueError):
        n = -1
    if not 0 <= n <= len(sc.events):
        raise RunFileError(f"the checkpoint of {path} is not valid: events_fired must be 0.."
                           f"{len(sc.events)}; the file was altered or damaged: resume from an "
                           "intact copy, or run again")
    return n


def _check_recorded_settings(path: Path, attrs, sc) -> None:
    """Refuse a run file whose recorded settings differ from its stored scenario + overrides."""
    recorded = {"dt_min": attrs.get("dt_min"), "dx_um": attrs.get("dx_um"),
                "shape": attrs.get("shape")}
    rebuilt = {"dt_min": sc.domain.dt, "dx_um": sc.domain.dx, "shape": list(sc.domain.shape)}
    for k, v in recorded.items():
        if v is None:
            continue
        same = (list(v) == rebuilt[k]) if k == "shape" else abs(float(v) - rebuilt[k]) <= \
            1e-9 * max(1.0, abs(rebuilt[k]))
        if not same:
            raise RunFileError(f"{path} is inconsistent: it records {k} = {v}, but its stored "
                               f"scenario and overrides give {rebuilt[k]}; the file was altered "
                               "or damaged: resume from an intact copy, or run again")


def resume_run(path, *, until=None, backend=None, progress=True, verbose=False,
               checkpoint_wall_s=CHECKPOINT_WALL_S, plugin_dir=None) -> Path:
    """Continue a run file from its last complete checkpoint to its end (or ``until``).

    Parameters
    ----------
    path : str or Path
        Run file written by :func:`run_scenario`.
    until : str, optional
        New end time with its unit (e.g. ``"36 h"``), to extend a finished run.
    backend : optional
        Defaults to the backend the run was written with (needed for identical results).
    plugin_dir : str or Path, optional
        Folder to import the scenario's ``.py`` plugin files from (``--plugins-dir``); a
        run file's own record of where they were is never used.

    Returns
    -------
    Path
    """
    path = Path(path)
    with open_run(path) as r:
        extra = (f"domain.duration={until}",) if until else ()
        sc = rebuild_scenario(r, extra, plugin_dir=plugin_dir)
        stored_backend = r.attrs.get("backend")
        seed = int(r.attrs["seed"])
        last = r.checkpoint_steps[-1] if r.checkpoint_steps else None
        status = str(r.attrs.get("status", ""))
        _check_recorded_settings(path, r.attrs, sc)
    n_end = sc.domain.n_steps
    # user mistakes are refused before the file is opened for writing
    if last is not None and last > n_end:
        raise ModelInputError(f"the last checkpoint of {path.name} is at step {last} "
                              f"(t = {last * sc.domain.dt / 60:g} h), past the requested end "
                              f"(step {n_end}); give a later --until")
    if last is not None and last == n_end and status == "finished":
        print(f"{path.name} already finished at t = {n_end * sc.domain.dt / 60:g} h; pass "
              "--until to extend it", file=sys.stderr)
        return path
    chosen = backend or stored_backend
    if stored_backend and chosen != stored_backend:
        print(f"abm: warning: {path.name} was written on {stored_backend}; continuing on "
              f"{chosen} will not reproduce an uninterrupted {stored_backend} run bit for bit",
              file=sys.stderr)
    model = build_model(sc, backend=chosen, seed=seed)
    with open_run(path) as r:
        if r.checkpoint_steps:
            # an untrusted checkpoint is checked before the file is opened for writing
            _events_fired(r.checkpoint()["state"], sc, path)
            model.set_state(r.checkpoint()["state"])
    # a full disk is refused before the file is opened for writing (a failed HDF5 write
    # would damage it); the checkpoints resume writes are as large as the model's state
    ensure_space(path, tree_nbytes(model.get_state()), f"resuming {path.name}",
                 resume_hint=False)
    writer, ck = RunWriter.resume(path)
    with recording(writer, path, verbose):
        state = ck["state"]
        model.set_state(state)
        fired = _events_fired(state, sc, path)
        if until:
            writer.set_attrs(n_steps=n_end, overrides=list(sc.overrides))
        writer.set_attrs(status="running")
        log.info("resume %s at step %d (t = %.4g h) to step %d", path, model.steps,
                 model.time / 60, n_end)
        _loop(model, sc, writer, Schedule(sc, n_end), fired, progress, checkpoint_wall_s)
    return path

