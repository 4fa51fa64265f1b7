"""Parameter sweeps (``abm sweep SWEEP.yaml``) on the trial's execution layer.

A sweep file holds one mapping, ``sweep:``::

    sweep:
      name: dose_and_decay
      scenario: ../quickstart.yaml
      seed: 1
      seeds: 2                         # runs per point, the same seeds at every point
      set: ["domain.duration=6 h"]
      design: sobol                    # grid | list | lhs | sobol | morris
      samples: 16                      # lhs: points; sobol: base points (2^k); morris: trajectories
      axes:
        events.2.injection.dose: {low: 50 cells, high: 300 cells, whole: true}
        fields.SDF-1a.decay: {low: 0.01 1/min, high: 0.03 1/min}
      outcomes: [{readout: count BMSC in penumbra, at: 6 h}]

Every (point, seed) is one run with its own HDF5 file, run, resumed and skipped exactly as
a trial's animals are (:mod:`abm.trial.dispatch`). The outputs are ``points.csv`` /
``.parquet`` (one row per run: point, seed, axis values, status, outcomes), and with the
``sobol`` or ``morris`` design ``sensitivity.csv`` / ``.parquet`` and a plot per outcome
(:mod:`abm.trial.sensitivity`). Using the same seeds at every point (common random numbers)
keeps the random part of the runs from showing up as sensitivity. See docs/trials.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..scenario.problems import Problems, ScenarioError, did_you_mean, typename
from ..scenario.yamltree import check_size, read_tree
from .animals import RUNS_DIR, Animal
from .designs import DESIGNS, RANGE_DESIGNS, design_points, parse_axis
from .load import (
    _count,
    _known,
    _list_of_str,
    _name,
    _resources,
    _time,
    check_outcomes,
    has_top_level_key,
)
from .spec import Outcome, Resources
from .variability import VariationProblem, stream

__all__ = ["Sweep", "load_sweep", "is_sweep_file", "check_sweep", "plan_runs", "run_sweep"]

SWEEP_KEYS = ("name", "description", "scenario", "seed", "seeds", "set", "design", "samples",
              "levels", "axes", "outcomes", "cluster")
#: Most runs one sweep may plan.
MAX_RUNS = 100_000


@dataclass(frozen=True)
class Sweep:
    """A checked sweep file (see the module docs)."""

    name: str
    source: Path
    scenario: Path
    seed: int
    seeds: int
    overrides: tuple
    design: str
    samples: int
    levels: int
    axes: list
    outcomes: list
    resources: Resources

    def points(self) -> np.ndarray:
        """The design's points, (points, axes), in each axis's unit."""
        return design_points(self.design, self.axes, self.samples, self.levels, self.seed)


def is_sweep_file(path) -> bool:
    """Whether ``path`` is a YAML file whose top level has a ``sweep:`` key."""
    return has_top_level_key(path, "sweep")


def load_sweep(path) -> Sweep:
    """Read and check a sweep file's own keys (:func:`check_sweep` checks the scenario).

    Raises
    ------
    ScenarioError
        The first problem by line, located in the sweep file.
    """
    path = Path(path)
    name = path.name or str(path)
    if not path.is_file():
        raise ScenarioError(f"sweep file not found (looked for {str(path.absolute())!r}); check the "
                            "path", name)
    check_size(path.stat().st_size, name)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read the file as UTF-8 text ({exc})", name) from None
    data, lines, dups = read_tree(text, name)
    pb = Problems(name, lines)
    for loc, line, first in dups:
        pb.add(loc, f"duplicate key '{loc[-1]}' (first on line {first}); give each key once")
    top = [k for k in data if k != "sweep"]
    if top:
        pb.add((top[0],), f"unknown top-level key '{top[0]}': a sweep file holds one mapping, sweep:")
    s = data.get("sweep")
    if not isinstance(s, dict):
        pb.add(("sweep",), f"sweep: must be a mapping (scenario, design, axes, outcomes, ...), got "
                           f"{typename(s)}")
        pb.raise_first()
    L = ("sweep",)
    typo = _known(s, SWEEP_KEYS, L, pb)
    sname = _name(s.get("name", path.stem), L + ("name",), pb, "the sweep name")
    seed = s.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        pb.add(L + ("seed",), f"seed must be a whole number >= 0, got {typename(seed)}")
        seed = 0
    seeds = _count(s.get("seeds", 1), L + ("seeds",), pb, "seeds per point", 1)
    scen = s.get("scenario")
    spath = None
    if not isinstance(scen, str):
        if not (typo and scen is None):
            pb.add(L + ("scenario",), f"give the scenario file to sweep, got {typename(scen)}")
    else:
        spath = (path.parent.absolute() / scen) if not Path(scen).is_absolute() else Path(scen)
        if not spath.is_file():
            pb.add(L + ("scenario",), f"scenario file {scen!r} not found (looked for {str(spath)!r}); "
                                      "paths are relative to the sweep file's folder")
    design = s.get("design", "grid")
    if design not in DESIGNS:
        pb.add(L + ("design",), f"unknown design {typename(design)}{did_you_mean(design, DESIGNS)}; "
                                f"designs: {', '.join(DESIGNS)}")
        design = "grid"
    samples = 0
    if design in RANGE_DESIGNS:
        samples = _count(s.get("samples", 0), L + ("samples",), pb,
                         "samples" if design != "morris" else "samples (trajectories)", 2)
        if design == "sobol" and samples & (samples - 1):
            pb.add(L + ("samples",), f"the sobol design needs a power of 2 base samples (8, 16, 32, "
                                     f"...), got {samples}")
    elif "samples" in s:
        pb.add(L + ("samples",), f"the {design} design takes its points from the axes' values; "
                                 "samples: is for lhs, sobol and morris")
    levels = _count(s.get("levels", 4), L + ("levels",), pb, "levels", 2)
    axes = []
    raw = s.get("axes")
    if not isinstance(raw, dict) or not raw:
        pb.add(L + ("axes",), "axes: maps scenario key paths to {values: [...]} (grid, list) or "
                              "{low: ..., high: ...} (lhs, sobol, morris)")
        raw = {}
    for key, spec in raw.items():
        try:
            axes.append(parse_axis(str(key), spec, design))
        except VariationProblem as exc:
            pb.add(L + ("axes", key) + exc.key, str(exc))
    if design == "list" and len({len(a.values) for a in axes}) > 1:
        pb.add(L + ("axes",), "the list design pairs the i-th values of every axis: give every axis "
                              "the same number of values (or use grid for all combinations)")
    if design in ("sobol", "morris") and len(axes) < 2:
        pb.add(L + ("axes",), f"a {design} sensitivity analysis needs at least two axes")
    outcomes = []
    raw_out = s.get("outcomes")
    if not isinstance(raw_out, list) or not raw_out:
        if not (typo and raw_out is None):
            pb.add(L + ("outcomes",), "outcomes: lists the readouts read from each run, e.g. "
                                      "[{readout: count BMSC in penumbra, at: 6 h}]")
        raw_out = []
    for i, o in enumerate(raw_out):
        loc = L + ("outcomes", i)
        if isinstance(o, str):
            o = {"readout": o}
        if not isinstance(o, dict) or not isinstance(o.get("readout"), str):
            pb.add(loc, f"an outcome is {{readout: NAME, at: TIME}}, got {typename(o)}")
            continue
        _known(o, ("readout", "at"), loc, pb)
        outcomes.append(Outcome(o["readout"], _time(o["at"], loc + ("at",), pb) if "at" in o else None))
    overrides = _list_of_str(s.get("set"), L + ("set",), pb)
    resources = _resources(s.get("cluster"), L + ("cluster",), pb)
    pb.raise_first()
    sw = Sweep(sname, path, spath, seed, seeds, overrides, design, samples, levels, axes, outcomes,
               resources)
    n = len(sw.points()) * seeds
    if n > MAX_RUNS:
        raise ScenarioError(f"the sweep plans {n} runs, over the limit of {MAX_RUNS}", name,
                            line=lines.get(L + ("axes",)), path="sweep.axes")
    return sw


def check_sweep(sweep: Sweep):
    """Load the scenario at the smallest and the largest value of every axis; check outcomes.

    Returns the scenario loaded at the low corner.
    """
    from ..scenario import load_scenario  # noqa: PLC0415

    _, lines, _ = read_tree(sweep.source.read_text(encoding="utf-8"), sweep.source.name)
    pb = Problems(sweep.source.name, lines)
    first = None
    for end in (0, 1):
        sets = [a.override(a.corners()[end]) for a in sweep.axes]
        try:
            sc = load_scenario(sweep.scenario, overrides=[*sweep.overrides, *sets])
        except ScenarioError as exc:
            msg = str(exc)
            loc = next((("sweep", "axes", a.key) for a in sweep.axes if f"--set {a.key}" in msg),
                       ("sweep", "axes"))
            pb.add(loc, f"the scenario refuses the {'smallest' if end == 0 else 'largest'} values "
                        f"of the axes: {msg}")
            break
        first = first or sc
        check_outcomes(sc, sweep.outcomes, pb, ("sweep", "outcomes"), sweep.scenario.name)
    seen = set()
    pb.items = [it for it in pb.items if not (it[0] in seen or seen.add(it[0]))]
    pb.raise_first()
    return first


def plan_runs(sweep: Sweep, out_dir) -> tuple[np.ndarray, list[Animal]]:
    """The design's points and one run per (point, seed), run files in ``out_dir/runs``."""
    x = sweep.points()
    runs_dir = Path(out_dir).absolute() / RUNS_DIR
    outcomes = tuple((o.readout, o.time) for o in sweep.outcomes)
    seeds = [int(stream(sweep.seed, "sweep", j).generate_state(1)[0] & 0x7FFFFFFF)
             for j in range(sweep.seeds)]
    runs = []
    for i, row in enumerate(x):
        sets = tuple(a.override(v) for a, v in zip(sweep.axes, row))
        draws = {a.key: float(v) for a, v in zip(sweep.axes, row)}
        for j, seed in enumerate(seeds):
            a = Animal(sweep.name, f"p{i:05d}", j, seed, str(sweep.scenario),
                       (*sweep.overrides, *sets), draws, "", outcomes)
            runs.append(Animal(**{**a.__dict__, "path": str(runs_dir / f"{a.name}.h5")}))
    return x, runs


def _points_frame(sweep, runs, rows) -> pd.DataFrame:
    labels = [o.label for o in sweep.outcomes]
    out = []
    for a in runs:
        r = rows.get(a.name, {"status": "pending", "error": ""})
        row = {"name": a.name, "point": int(a.arm[1:]), "seed_index": a.index, "seed": a.seed,
               "status": r["status"], "error": r.get("error", "")}
        row.update({(f"{ax.key} [{ax.unit}]" if ax.unit else ax.key): a.draws[ax.key]
                    for ax in sweep.axes})
        row.update({lab: r.get(lab, float("nan")) for lab in labels})
        out.append(row)
    return pd.DataFrame(out)


def run_sweep(sweep: Sweep, out_dir, *, client=None, kind="local", address=None, workers=None,
              retries=2, progress=True, echo=print) -> dict:
    """Run every (point, seed) not yet finished; write the points and sensitivity tables.

    Returns
    -------
    dict
        ``points`` (DataFrame, one row per run), ``sensitivity`` (DataFrame or None),
        ``files`` (paths written), ``problems`` (one line per run without a result).
    """
    from .dispatch import dispatch, split_finished  # noqa: PLC0415
    from .sensitivity import plot_name, sensitivity_plot, sensitivity_table  # noqa: PLC0415
    from .table import write_table  # noqa: PLC0415

    check_sweep(sweep)
    out = Path(out_dir)
    (out / RUNS_DIR).mkdir(parents=True, exist_ok=True)
    x, runs = plan_runs(sweep, out)
    rows, todo = split_finished(runs)
    table = out / "points"
    if todo:
        echo(f"{sweep.name}: {len(x)} points x {sweep.seeds} seed(s) = {len(runs)} runs, "
             f"{len(runs) - len(todo)} already finished, {len(todo)} to run")

        def keep(row):
            rows[row["name"]] = row
            write_table(_points_frame(sweep, runs, rows), table, parquet=False)

        try:
            dispatch(todo, client=client, kind=kind, address=address, workers=workers,
                     resources=sweep.resources, log_dir=out / "dask-logs", retries=retries,
                     progress=progress, total=len(runs), on_row=keep, echo=echo)
        finally:
            write_table(_points_frame(sweep, runs, rows), table, parquet=False)
    frame = _points_frame(sweep, runs, rows)
    files = write_table(frame, table)
    sens = None
    if sweep.design in ("sobol", "morris"):
        ok = frame[frame["status"].isin(["finished", "skipped"])]
        y = {}
        for o in sweep.outcomes:
            per_point = ok.groupby("point")[o.label].mean()
            y[o.label] = per_point.reindex(range(len(x))).to_numpy()
        sens = sensitivity_table(sweep.design, sweep.axes, x, y, sweep.levels, sweep.seed)
        files += write_table(sens, out / "sensitivity")
        for o in sweep.outcomes:
            if ((sens["outcome"] == o.label) & (sens["axis"] != "")).any():
                files.append(sensitivity_plot(sens, o.label, out / plot_name(o.label)))
            else:
                note = sens.loc[sens["outcome"] == o.label, "note"].iloc[0]
                echo(f"  {o.label}: {note}")
    problems = [f"{r['name']}: {r['status']}: {r['error']}" for r in rows.values()
                if r["status"] in ("bad input", "failed")]
    echo(f"wrote {table.with_suffix('.csv')} (+ .parquet)"
         + (f", {out / 'sensitivity.csv'} and plots" if sens is not None else "") + f" in {out}")
    return {"points": frame, "sensitivity": sens, "files": files, "problems": problems}
