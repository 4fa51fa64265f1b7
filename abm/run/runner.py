"""Running a scenario headless: build the model, play the timeline, write the run file.

:func:`run_scenario` turns a loaded :class:`~abm.scenario.Scenario` into a
:class:`~abm.model.TissueModel`, places the initial populations, and steps it
to the end of the simulated duration. Along the way it

* fires the scenario's **events** at the start of the first step whose start
  time has reached the event time (an injury relabels tissue and loads damage
  depots; an injection places cells; a bolus or a depot adds to a field);
* records **readouts** (counts, fractions, field means) every
  ``outputs.readout_every``;
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
from contextlib import contextmanager
from functools import lru_cache
import math
import signal
import sys
import time as _time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from kernels.backend import get_backend, to_numpy

from ..registry import CELL_TYPES
from ..errors import ModelInputError, RunStopped
from ..fields import TissueClass
from .memory import check_fits
from ..cells import TissueModel
from ..runfile import RunFileError, RunWriter, open_run
from ..scenario import Scenario, build_labels, load_scenario, load_scenario_text

__all__ = ["build_model", "run_scenario", "resume_run", "evaluate_readouts", "RunStopped"]

log = logging.getLogger("abm.run")

_EPS = 1e-9


# ---------------------------------------------------------------- building
def _steps_for(minutes: float, dt: float) -> int:
    """Steps covering ``minutes`` (at least 1)."""
    return max(1, int(round(minutes / dt)))


def _expected_cells(sc: Scenario) -> int:
    n = 0
    for p in sc.populations:
        if p.count is not None:
            n += int(p.count)
        else:
            n += int(round(p.density * math.prod(sc.domain.extent)))
    for ev in sc.events:
        if ev.kind == "injection":
            n += int(ev.spec.n_cells)
    return n


def build_model(sc: Scenario, backend=None, seed=None) -> TissueModel:
    """Build the model a scenario describes (no cells placed yet).

    Refuses, before allocating, a lattice that would not fit in the memory of the
    chosen device (:func:`abm.memory.check_fits`).

    Parameters
    ----------
    sc : Scenario
    backend : {"numpy", "cupy"} or None
        Array backend (default: ``ABM_BACKEND``, else a GPU if present).
    seed : int, optional
        Overrides the scenario's seed.

    Returns
    -------
    TissueModel
    """
    b = get_backend(backend)
    n_var = max([len(CELL_TYPES.get(c.name).variables) for c in sc.cell_types] + [0])
    itemsize = 8 if b.name == "numpy" else 4
    check_fits(sc.domain.shape, len(sc.fields), itemsize, _expected_cells(sc), n_var, b.name)
    labels = build_labels(sc)
    tissue = [TissueClass(t.name, t.diffusion_scale, t.decay_scale, t.permeable)
              for t in sc.tissue]
    cap_by_label = np.array([t.capacity for t in sc.tissue], np.int64)
    if seed is None:
        seed = sc.domain.seed
    model = TissueModel(
        shape=sc.domain.shape, dx=sc.domain.dx, fields=[f.species() for f in sc.fields],
        cell_types=[CELL_TYPES.get(c.name) for c in sc.cell_types],
        rules=[r for c in sc.cell_types for r in c.rules],
        parameters={c.name: dict(c.parameters) for c in sc.cell_types},
        capacity=cap_by_label[labels], labels=labels, tissue=tissue, dt=sc.domain.dt,
        seed=seed, backend=b)
    model.label_capacity = cap_by_label
    return model


def _labels_now(model) -> np.ndarray:
    lab = model.fields.labels
    return np.zeros(model.shape, np.uint8) if lab is None else np.asarray(lab)


def _mask(region, model) -> np.ndarray:
    return region.mask(model.shape, model.dx, labels=_labels_now(model),
                       label_names=model.tissue_names)


def place_populations(model, sc: Scenario) -> None:
    """Place the scenario's initial populations (at t = 0)."""
    for p in sc.populations:
        mask = _mask(p.region, model)
        n = p.count if p.count is not None else int(round(p.density * mask.sum() * model.dx**3))
        values = dict(p.values)
        if p.state is not None:
            values["state"] = p.state
        log.info("placing %d %s cells in %s", n, p.cell_type, p.region.describe())
        model.seed_cells(p.cell_type, int(n), region=mask, **values)


def fire_event(model, ev) -> None:
    """Apply one timeline event to the model now."""
    s = ev.spec
    fs = model.fields
    if ev.kind == "injury":
        mask = _mask(s.region, model)
        lab = _labels_now(model).copy()
        lab[mask] = model.tissue_names.index(s.label)
        model.set_tissue(lab, label_capacity=model.label_capacity)
        for d in s.release:
            where = mask if d.region is None else _mask(d.region, model)
            fs.add_depot(d.field, where, d.amount, d.law, d.rate)
        log.info("t = %g min: injury, %d voxels become %s", model.time, int(mask.sum()), s.label)
    elif ev.kind == "injection":
        mask = _mask(s.target, model)
        values = dict(s.values or {})
        if s.state is not None:
            values["state"] = s.state
        try:
            model.seed_cells(s.cell_type, int(s.n_cells), region=mask, **values)
        except ModelInputError as exc:
            raise ModelInputError(f"injection of {s.cell_type} at t = {ev.time:g} min: {exc}; "
                                  "lower the dose or delivered_fraction, or widen the target") from None
        log.info("t = %g min: injected %d %s cells (%s route)", model.time, int(s.n_cells),
                 s.cell_type, s.route)
    elif ev.kind == "bolus":
        fs.add_bolus(s.field, _mask(s.region, model), s.amount)
        log.info("t = %g min: bolus of %s", model.time, s.field)
    elif ev.kind == "depot":
        fs.add_depot(s.field, _mask(s.region, model), s.amount, s.law, s.rate)
        log.info("t = %g min: depot of %s", model.time, s.field)
    else:  # pragma: no cover - the schema allows no other kind
        raise ModelInputError(f"unknown event kind {ev.kind!r}")


# ---------------------------------------------------------------- readouts
#: Readable units for a field's total amount, by the dimension of (field unit × µm³).
_AMOUNT_UNITS = {"[mass]": "pg", "[substance]": "amol", "": "particles"}


@lru_cache(maxsize=None)
def total_unit(field_unit: str) -> tuple[float, str]:
    """Factor and unit that express a total amount (field unit × µm³) readably.

    ``ng/mL`` totals in pg, molar totals in amol, number densities
    (``1e9 particles/mL``) in particles; anything else stays ``<unit>*um^3``.

    Returns
    -------
    (float, str)
        Multiply the internal amount by the factor to get the unit.
    """
    from ..units import ureg  # noqa: PLC0415

    try:
        q = (ureg(field_unit) * ureg.um**3)
        dim = str(q.dimensionality) if not q.dimensionless else ""
        if dim in _AMOUNT_UNITS:
            target = _AMOUNT_UNITS[dim]
            unit = "" if target == "particles" else target
            return float(q.to(unit or "dimensionless").magnitude), target
    except Exception:  # noqa: BLE001 - an unusual unit keeps its raw form
        pass
    return 1.0, f"{field_unit}*um^3"


def readout_units(model, readouts) -> dict[str, str]:
    """Unit of each readout column (see :func:`evaluate_readouts`)."""
    units = {}
    for r in readouts:
        if r.kind == "total":
            units[r.text] = total_unit(model.fields.species[model.fields.index(r.field)].unit)[1]
        else:
            units[r.text] = r.unit
    return units


def evaluate_readouts(model, readouts) -> dict[str, float]:
    """Values of the scenario's readouts now.

    ``count`` is in cells; ``fraction`` is dimensionless (NaN with no cell of the
    type); ``mean`` and ``max`` are in the field's unit (over the label's voxels, or
    all); ``total`` is the field's amount in the unit :func:`total_unit` gives
    (pg, amol or particles).
    """
    labels = None
    out = {}
    for r in readouts:
        if r.kind in ("count", "fraction"):
            pop = model.populations[r.cell_type]
            sel = np.ones(len(pop), bool)
            if r.label is not None:
                if labels is None:
                    labels = _labels_now(model)
                pos = np.asarray(to_numpy(pop.pos))
                idx = model.tissue_names.index(r.label)
                sel &= labels[pos[:, 0], pos[:, 1], pos[:, 2]] == idx
            if r.state is not None:
                st = np.asarray(to_numpy(pop.columns["state"]))
                in_state = st == pop.states.index(r.state)
            else:
                in_state = np.ones(len(pop), bool)
            if r.kind == "count":
                out[r.text] = float((sel & in_state).sum())
            else:
                n = int(sel.sum())
                out[r.text] = float((sel & in_state).sum()) / n if n else float("nan")
        else:
            f = model.fields.field(r.field)
            if r.kind == "total":
                factor = total_unit(model.fields.species[model.fields.index(r.field)].unit)[0]
                out[r.text] = float(f.sum(dtype=np.float64)) * model.fields.voxel_volume * factor
                continue
            if r.label is not None:
                if labels is None:
                    labels = _labels_now(model)
                m = model.xp.asarray(labels == model.tissue_names.index(r.label))
                vals = f[m]
            else:
                vals = f
            if vals.size == 0:
                out[r.text] = float("nan")
            elif r.kind == "mean":
                out[r.text] = float(vals.mean(dtype=np.float64))
            else:
                out[r.text] = float(vals.max())
    return out


# ---------------------------------------------------------------- recording
def _snapshot(writer, model, sc) -> None:
    fields = {n: np.asarray(to_numpy(model.fields.field(n))) for n in sc.outputs.fields}
    agents = {n: {k: np.asarray(to_numpy(c)) for k, c in model.populations[n].columns.items()}
              for n in sc.outputs.agents}
    writer.write_snapshot(int(model.steps), float(model.time), fields, agents,
                          labels=_labels_now(model))


def _checkpoint(writer, model, events_fired: int) -> None:
    state = model.get_state()
    state["runner"] = {"events_fired": int(events_fired)}
    writer.write_checkpoint(int(model.steps), float(model.time), state)


def _readouts(writer, model, sc) -> None:
    units = readout_units(model, sc.outputs.readouts)
    writer.append_readouts(int(model.steps), float(model.time),
                           evaluate_readouts(model, sc.outputs.readouts), units)


class _Schedule:
    """Step counts of the recording intervals."""

    def __init__(self, sc: Scenario, n_end: int):
        dt = sc.domain.dt
        self.n_end = n_end
        self.snap = _steps_for(sc.outputs.snapshot_every, dt)
        self.ckpt = _steps_for(sc.outputs.checkpoint_every, dt)
        self.read = _steps_for(sc.outputs.readout_every, dt)
        self.event_steps = [max(0, math.ceil(ev.time / dt - _EPS)) for ev in sc.events]


class _StopFlag:
    """SIGTERM (a batch system's pre-emption) or SIGINT: stop after the current step."""

    def __init__(self):
        self.signum = None
        self._old = {}

    def __enter__(self):
        for s in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[s] = signal.signal(s, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, signum, frame):
        if self.signum is not None:  # a second signal: stop now
            raise KeyboardInterrupt
        self.signum = signum

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False


#: Default wall-clock interval between checkpoints, s (BioDynaMo backs up every 30 min):
#: a node that dies loses at most this much work even if the scenario checkpoints rarely.
CHECKPOINT_WALL_S = 1800.0


def _loop(model, sc, writer, sched: _Schedule, events_fired: int, progress: bool,
          checkpoint_wall_s: float = CHECKPOINT_WALL_S) -> None:
    """Step from ``model.steps`` to ``sched.n_end``, firing events and recording.

    Checkpoints are written at the scenario's interval, at the end, when a stop signal
    arrived, and whenever ``checkpoint_wall_s`` seconds of wall time have passed since
    the last one. They do not change the simulation, so where they fall never changes
    the result."""
    from tqdm import tqdm  # noqa: PLC0415

    dt = sc.domain.dt
    start = int(model.steps)
    hours = sched.n_end * dt / 60.0
    bar = tqdm(total=sched.n_end, initial=start, unit="step", disable=not progress,
               file=sys.stderr, mininterval=0.5, dynamic_ncols=True,
               bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} steps [{elapsed}<{remaining}, "
                          "{rate_fmt}] {postfix}")
    t0 = last_ckpt = _time.perf_counter()
    with _StopFlag() as stop, bar:
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
            if k % sched.read == 0 or last:
                _readouts(writer, model, sc)
            if k % sched.snap == 0 or last:
                _snapshot(writer, model, sc)
                log.info("snapshot at step %d (t = %.4g h)", k, model.time / 60)
            if (k % sched.ckpt == 0 or last or stopping
                    or _time.perf_counter() - last_ckpt >= checkpoint_wall_s):
                _checkpoint(writer, model, events_fired)
                last_ckpt = _time.perf_counter()
                log.info("checkpoint at step %d (t = %.4g h)", k, model.time / 60)
            writer.flush()
            bar.set_postfix_str(f"t = {model.time / 60:.2f} / {hours:.4g} h", refresh=False)
            bar.update(1)
            if stopping and not last:
                name = signal.Signals(stop.signum).name
                writer.set_attrs(status=f"stopped by {name} at step {k}")
                raise RunStopped(f"stopped by {name} at t = {model.time / 60:.4g} h after a "
                                 f"checkpoint; continue with: abm resume {writer.path}")
    wall = _time.perf_counter() - t0
    log.info("finished %d steps in %.3g s (%.3g steps/s)", sched.n_end - start, wall,
             (sched.n_end - start) / wall if wall > 0 else float("inf"))


def _mark_failed(writer, exc) -> None:
    try:
        writer.set_attrs(status=f"failed: {type(exc).__name__}: {exc}"[:500])
    except Exception:  # noqa: BLE001 - the original error matters more
        pass


def _setup_log(out: Path, verbose: bool) -> logging.Handler:
    log.setLevel(logging.INFO)
    h = logging.FileHandler(out.with_suffix(".log"), mode="a", encoding="utf-8")
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(h)
    if verbose:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(logging.Formatter("abm: %(message)s"))
        log.addHandler(sh)
    return h


@contextmanager
def _recording(writer, out: Path, verbose: bool):
    """Log to ``out``'s .log; on failure mark the run file; always close it."""
    _setup_log(out, verbose)
    try:
        yield
        writer.set_attrs(status="finished")
    except RunStopped as exc:
        log.error("run stopped: %s", exc)
        raise
    except BaseException as exc:
        log.error("run failed: %s", exc)
        _mark_failed(writer, exc)
        raise
    finally:
        writer.close()
        _teardown_log()


def _teardown_log():
    for h in list(log.handlers):
        h.close()
        log.removeHandler(h)


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
        labels=_labels_now(model),
        cell_types={c.name: {"states": list(CELL_TYPES.get(c.name).states),
                             "variables": list(CELL_TYPES.get(c.name).variables)} for c in sc.cell_types},
        overwrite=overwrite)
    with _recording(writer, out, verbose):
        log.info("run %s: scenario %s, %s backend, seed %d, lattice %s x %g um, %d steps of %g min",
                 out, sc.name, model.backend.name, model.seed, sc.domain.shape, sc.domain.dx,
                 n_end, sc.domain.dt)
        sched = _Schedule(sc, n_end)
        fired = 0
        while fired < len(sc.events) and sched.event_steps[fired] <= 0:
            fire_event(model, sc.events[fired])
            fired += 1
        _readouts(writer, model, sc)
        _snapshot(writer, model, sc)
        _checkpoint(writer, model, fired)
        writer.flush()
        log.info("checkpoint at step 0 (initial state)")
        _loop(model, sc, writer, sched, fired, progress, checkpoint_wall_s)
    return out


def rebuild_scenario(reader, extra_overrides=()) -> Scenario:
    """The scenario of a run file, from the text and overrides stored in it."""
    a = reader.attrs
    base = Path(a.get("scenario_dir", "."))
    return load_scenario_text(reader.scenario_text, name=a.get("scenario_file", "<run file>"),
                              base_dir=base,
                              overrides=tuple(a.get("overrides", ())) + tuple(extra_overrides))


def resume_run(path, *, until=None, backend=None, progress=True, verbose=False,
               checkpoint_wall_s=CHECKPOINT_WALL_S) -> Path:
    """Continue a run file from its last complete checkpoint to its end (or ``until``).

    Parameters
    ----------
    path : str or Path
        Run file written by :func:`run_scenario`.
    until : str, optional
        New end time with its unit (e.g. ``"36 h"``), to extend a finished run.
    backend : optional
        Defaults to the backend the run was written with (needed for identical results).

    Returns
    -------
    Path
    """
    path = Path(path)
    with open_run(path) as r:
        extra = (f"domain.duration={until}",) if until else ()
        sc = rebuild_scenario(r, extra)
        stored_backend = r.attrs.get("backend")
        seed = int(r.attrs["seed"])
        last = r.checkpoint_steps[-1] if r.checkpoint_steps else None
        status = str(r.attrs.get("status", ""))
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
    writer, ck = RunWriter.resume(path)
    with _recording(writer, path, verbose):
        state = ck["state"]
        model.set_state(state)
        fired = int(state["runner"]["events_fired"])
        if until:
            writer.set_attrs(n_steps=n_end, overrides=list(sc.overrides))
        writer.set_attrs(status="running")
        log.info("resume %s at step %d (t = %.4g h) to step %d", path, model.steps,
                 model.time / 60, n_end)
        _loop(model, sc, writer, _Schedule(sc, n_end), fired, progress, checkpoint_wall_s)
    return path

