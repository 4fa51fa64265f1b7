"""Readout time series of one or more runs as a picture (``abm plot RUN.h5 ... --out FILE.png``).

One panel per readout column (``count BMSC``, ``mean SDF-1a in penumbra``, ...), every
run overlaid in each panel so that a treated run can be compared with its control.
Only the readout datasets of the run files are read, never snapshots or checkpoints.

The figure is drawn on a bare :class:`matplotlib.figure.Figure` with no pyplot and no
display, so it works on a batch node without a screen and does not disturb the
backend of an interactive session. The returned Figure holds the plotted numbers: in
panel ``i`` the line of run ``j`` has ``get_xdata()`` = that run's ``time_min``
converted to ``time_unit`` and ``get_ydata()`` = the stored series, unchanged (NaN
where a row lacked the readout, drawn as a gap).

Example
-------
>>> from viz.plots import plot_runs
>>> fig = plot_runs(["control.h5", "treated.h5"], "compare.png",
...                 readouts=["count BMSC", "fraction Microglia M2"])
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from abm.atomic import atomic_output
from abm.errors import ModelInputError
from abm.runfile import open_run

__all__ = ["FORMATS", "TIME_UNITS", "RunSeries", "load_series", "plot_runs"]

#: Output formats, by file extension (lower case).
FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}

#: Time units for the x axis -> minutes per unit.
TIME_UNITS = {"s": 1.0 / 60.0, "min": 1.0, "h": 60.0, "d": 1440.0}

# Metadata that would otherwise put the creation time into the file: without it the
# same runs give byte-identical PDF/SVG output.
_SAVE_METADATA = {"pdf": {"CreationDate": None}, "svg": {"Date": None}, "png": {}}


class RunSeries:
    """The readout time series of one run file, as plotted.

    Attributes
    ----------
    path : pathlib.Path
        The run file.
    scenario_name : str
        ``scenario_name`` recorded in the file (the file stem if none was recorded).
    seed : int or None
        Seed recorded in the file.
    columns : list of str
        Readout columns in the file's order (without ``time_min`` and ``step``).
    units : dict of str to str
        Readout column -> unit string as stored (e.g. ``"cells"``, ``"ng/mL"``, ``"1"``).
    time_min : numpy.ndarray of float
        Simulated time of each complete readout row, min.
    values : dict of str to numpy.ndarray of float
        Readout column -> series (one value per row, in ``units[column]``).
    """

    def __init__(self, path, scenario_name, seed, columns, units, time_min, values):
        self.path = Path(path)
        self.scenario_name = scenario_name
        self.seed = seed
        self.columns = list(columns)
        self.units = dict(units)
        self.time_min = time_min
        self.values = values

    def __repr__(self) -> str:
        return (f"<RunSeries {self.path}: {len(self.time_min)} rows, "
                f"{len(self.columns)} readouts>")


def load_series(path) -> RunSeries:
    """Read the readout time series of one run file (nothing else is read).

    Parameters
    ----------
    path : str or Path
        A run file written by ``abm run``.

    Returns
    -------
    RunSeries

    Raises
    ------
    abm.runfile.RunFileError
        Missing, unreadable or corrupt file, or not a bmsc-abm run file.
    """
    with open_run(path) as run:
        table = run.readouts()
        units = dict(run.readout_units)
        attrs = run.attrs
    columns = [c for c in table if c not in ("time_min", "step")]
    name = attrs.get("scenario_name")
    return RunSeries(
        path, str(name) if name not in (None, "") else Path(path).stem, attrs.get("seed"),
        columns, {c: str(units.get(c, "") or "") for c in columns},
        np.asarray(table["time_min"], dtype=np.float64),
        {c: np.asarray(table[c]) for c in columns})


def plot_runs(paths: Sequence, out, *, readouts: Sequence[str] | None = None,
              labels: Sequence[str] | None = None, time_unit: str = "h",
              overwrite: bool = False):
    """Plot the readout time series of one or more runs, one panel per readout, and save it.

    Parameters
    ----------
    paths : sequence of str or Path
        Run files (``.h5``) written by ``abm run``; several are overlaid in every panel
        (e.g. a treated run against its control), in the order given.
    out : str or Path
        Picture to write; the format follows the extension: ``.png`` (150 dpi),
        ``.pdf`` or ``.svg``. Its folder must exist.
    readouts : sequence of str, optional
        Readout columns to plot, in this order (e.g. ``["count BMSC",
        "mean SDF-1a in penumbra"]``). Default: every readout column present in all
        runs, in the order of the first run's file.
    labels : sequence of str, optional
        Legend entry of each run, one per path. Default: the file stems, or
        ``"<scenario name>, seed <seed>"`` when two stems are equal.
    time_unit : {"h", "min", "s", "d"}
        Unit of the x axis, ``time [h]`` by default (x = ``time_min / 60``).
    overwrite : bool
        Replace an existing ``out``. Without it an existing file is refused and left
        untouched. The picture is written to a temporary file in the same folder and
        then moved into place, so an interrupted write never leaves half a picture.

    Returns
    -------
    matplotlib.figure.Figure
        The figure saved: one axes per readout (in ``fig.axes``, in the order
        plotted), each with one line per run whose x data are the run's readout
        times in ``time_unit`` and whose y data are the stored values unchanged; the
        y label is ``"<readout> [<unit>]"`` (e.g. ``"count BMSC [cells]"``,
        ``"fraction Microglia M2 [1]"``); the first axes carries the legend.

    Raises
    ------
    abm.errors.ModelInputError
        No run files; ``out`` exists and ``overwrite`` is false; an unsupported
        extension; ``out``'s folder does not exist; ``out`` is a folder; an unknown
        ``time_unit``; ``labels`` of the wrong length; a run with no readout rows; a
        requested readout missing from a run (naming the run and the readout) or
        unknown in all of them (with a did-you-mean); runs that share no readout;
        a readout stored with different units in different runs.
        :class:`abm.runfile.RunFileError` (a subclass) for a missing or corrupt run
        file.
    """
    paths = _check_paths(paths)
    out, fmt = _check_out(out, overwrite)
    if time_unit not in TIME_UNITS:
        raise ModelInputError(f"unknown time unit {time_unit!r}; choose one of "
                              f"{', '.join(TIME_UNITS)}")
    if labels is not None:
        labels = [str(s) for s in labels]
        if len(labels) != len(paths):
            raise ModelInputError(f"{len(labels)} labels for {len(paths)} run files; give one "
                                  "label per run file, in the same order")
    runs = [load_series(p) for p in paths]
    for r in runs:
        if len(r.time_min) == 0:
            raise ModelInputError(
                f"{r.path} has no readout rows (the run stopped before its first readout, or "
                "its scenario lists no outputs.readouts); plot a run that got further, or "
                "run it longer")
    columns = _choose_columns(runs, readouts)
    _check_units(runs, columns)
    if labels is None:
        labels = _default_labels(runs)

    fig = _draw(runs, columns, labels, time_unit)
    _save(fig, out, fmt)
    return fig


# --------------------------------------------------------------------------- checks


def _check_paths(paths) -> list[Path]:
    if paths is None or isinstance(paths, (str, os.PathLike)):
        paths = [] if paths is None else [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise ModelInputError("no run files to plot; give at least one RUN.h5 written by "
                              "'abm run'")
    return paths


def _check_out(out, overwrite: bool) -> tuple[Path, str]:
    out = Path(out)
    ext = out.suffix.lower()
    if ext not in FORMATS:
        got = f"{out.suffix!r}" if out.suffix else "no extension"
        raise ModelInputError(f"cannot write {out}: unsupported picture format ({got}); "
                              f"end the output name with {', '.join(FORMATS)}")
    folder = out.parent
    if not folder.is_dir():
        raise ModelInputError(f"cannot write {out}: the folder {folder} does not exist; "
                              "create it first or choose another output path")
    if out.is_dir():
        raise ModelInputError(f"{out} is a folder; give a file name such as "
                              f"{out / ('readouts' + ext)}")
    if out.exists() and not overwrite:
        raise ModelInputError(f"{out} exists; pass --overwrite to replace it, or choose "
                              "another output path")
    return out, FORMATS[ext]


def _choose_columns(runs: list[RunSeries], wanted) -> list[str]:
    if wanted is None:
        common = [c for c in runs[0].columns if all(c in r.columns for r in runs[1:])]
        if not common:
            if not runs[0].columns:
                raise ModelInputError(f"{runs[0].path} has no readout columns; nothing to plot")
            have = "; ".join(f"{r.path.name}: {', '.join(r.columns) or 'none'}" for r in runs)
            raise ModelInputError(f"the runs share no readout column ({have}); plot them "
                                  "separately, or choose runs of the same scenario")
        return common
    if isinstance(wanted, str):
        wanted = [wanted]
    columns = list(dict.fromkeys(str(c) for c in wanted))
    if not columns:
        raise ModelInputError("no readouts selected; name at least one, or leave the "
                              "selection out to plot them all")
    known = list(dict.fromkeys(c for r in runs for c in r.columns))
    for c in columns:
        if c not in known:
            close = difflib.get_close_matches(c, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ModelInputError(f"unknown readout {c!r}; {hint}readouts in the run "
                                  f"file{'s' if len(runs) > 1 else ''}: "
                                  f"{', '.join(known) or 'none'}")
    for c in columns:
        lacking = [r for r in runs if c not in r.columns]
        if lacking:
            which = ", ".join(str(r.path) for r in lacking)
            raise ModelInputError(
                f"{which} {'has' if len(lacking) == 1 else 'have'} no readout {c!r} "
                f"(it is in {', '.join(str(r.path) for r in runs if c in r.columns)}); "
                "leave that readout out, or add it to the scenario's outputs.readouts and "
                "run again")
    return columns


def _check_units(runs: list[RunSeries], columns: list[str]) -> None:
    for c in columns:
        units = {r.units[c] for r in runs}
        if len(units) > 1:
            each = ", ".join(f"{r.path.name}: {r.units[c] or 'no unit'}" for r in runs)
            raise ModelInputError(f"readout {c!r} has different units in the runs ({each}); "
                                  "plot those runs separately")


def _default_labels(runs: list[RunSeries]) -> list[str]:
    stems = [r.path.stem for r in runs]
    if len(set(stems)) == len(stems):
        return stems
    labels = [f"{r.scenario_name}, seed {r.seed}" if r.seed is not None else r.scenario_name
              for r in runs]
    if len(set(labels)) == len(labels):
        return labels
    labels = [str(r.path) for r in runs]
    if len(set(labels)) == len(labels):
        return labels
    return [f"{lab} (#{i + 1})" for i, lab in enumerate(labels)]


# --------------------------------------------------------------------------- drawing


def _axis_label(name: str, unit: str) -> str:
    return f"{name} [{unit}]" if unit else name


def _convert_time(time_min: np.ndarray, unit: str) -> np.ndarray:
    """Minutes -> ``unit``; hours are exactly ``time_min / 60``, seconds ``time_min * 60``."""
    if unit == "s":
        return time_min * 60.0
    return time_min / TIME_UNITS[unit]


def _grid(n: int) -> tuple[int, int]:
    ncols = 1 if n == 1 else 2 if n <= 6 else 3
    return -(-n // ncols), ncols


_STYLES = ("-", "--", ":", "-.")


def _draw(runs: list[RunSeries], columns: list[str], labels: list[str], time_unit: str):
    from matplotlib.figure import Figure

    nrows, ncols = _grid(len(columns))
    fig = Figure(figsize=(5.2 * ncols, 0.6 + 3.0 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True).ravel()
    for ax in axes[len(columns):]:
        fig.delaxes(ax)
    times = [_convert_time(r.time_min, time_unit) for r in runs]
    for k, (ax, c) in enumerate(zip(axes, columns)):
        for j, (r, t, lab) in enumerate(zip(runs, times, labels)):
            y = r.values[c]
            # Line styles as well as colours, so a run lying on top of another stays visible.
            ax.plot(t, y, label=lab, linestyle=_STYLES[j % len(_STYLES)],
                    marker="o" if len(y) == 1 else None, markersize=4, linewidth=1.5)
        ax.set_ylabel(_axis_label(c, runs[0].units[c]))
        ax.grid(True, alpha=0.3)
        # The bottom panel of each column carries the time axis label.
        if k + ncols >= len(columns):
            ax.set_xlabel(f"time [{time_unit}]")
            ax.xaxis.set_tick_params(labelbottom=True)
    axes[0].legend(fontsize="small", loc="best")
    names = list(dict.fromkeys(r.scenario_name for r in runs))
    fig.suptitle(f"scenario{'s' if len(names) > 1 else ''}: {', '.join(names)}")
    return fig


def _save(fig, out: Path, fmt: str) -> None:
    with atomic_output(out, "wb") as fh:
        fig.savefig(fh, format=fmt, dpi=150, metadata=_SAVE_METADATA[fmt])
