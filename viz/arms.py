"""Treated against control across animals: the mean of each arm with a band (``abm plot --arm``).

A virtual experiment runs several animals (seeds) per arm. This picture draws, for each
readout, one line per arm at the mean over its animals and a shaded band around it:

* ``band="sd"`` (default): mean ± the sample standard deviation (ddof = 1), the spread
  between animals, as papers draw "mean ± SD" of a group;
* ``band="sem"``: mean ± the standard error of the mean (SD / √n);
* ``band="ci95"``: the 95 % confidence interval of the mean, mean ± t₀.₉₇₅,ₙ₋₁ · SEM
  (Student's t from SciPy).

The legend gives each arm's number of animals. The runs of one arm must share their
readout times (the same scenario, other seeds); NaN rows (a readout missing in a row)
are left out of that time's statistics. ``fig.arm_stats`` holds the numbers drawn.

Example
-------
>>> from viz.arms import plot_arms
>>> fig = plot_arms({"control": ["c1.h5", "c2.h5"], "BMSC": ["t1.h5", "t2.h5"]}, "arms.png")
"""

from __future__ import annotations

import glob as _glob
from pathlib import Path

import numpy as np

from abm.errors import ModelInputError

from .plots import (
    TIME_UNITS,
    _axis_label,
    _check_out,
    _check_units,
    _choose_columns,
    _convert_time,
    _grid,
    _save,
    load_series,
)

__all__ = ["BANDS", "parse_arm", "plot_arms", "arm_statistics"]

#: Band kinds.
BANDS = ("sd", "sem", "ci95")


def parse_arm(text: str) -> tuple[str, list[Path]]:
    """``"treated=runs/treated_*.h5"`` -> ("treated", sorted matching files).

    Several patterns may follow, separated by commas.

    Raises
    ------
    ModelInputError
        Not ``LABEL=PATTERN``, or a pattern that matches no file.
    """
    label, sep, pats = str(text).partition("=")
    label = label.strip()
    if not sep or not label or not pats.strip():
        raise ModelInputError(f"cannot read --arm {text!r}; write LABEL=FILES, e.g. "
                              "--arm 'treated=runs/treated_*.h5' (quote the pattern)")
    files: list[Path] = []
    for pat in (p.strip() for p in pats.split(",")):
        if not pat:
            continue
        hits = sorted(_glob.glob(pat)) if any(ch in pat for ch in "*?[") else (
            [pat] if Path(pat).exists() else [])
        if not hits:
            raise ModelInputError(f"arm {label!r}: no run file matches {pat!r}; check the path")
        files.extend(Path(h) for h in hits)
    return label, list(dict.fromkeys(files))


def arm_statistics(values: np.ndarray, band: str = "sd") -> dict:
    """Per-time statistics over animals.

    Parameters
    ----------
    values : ndarray (n_animals, n_times)
        One row per animal; NaN entries are left out.
    band : {"sd", "sem", "ci95"}

    Returns
    -------
    dict
        ``n`` (animals with a value, per time), ``mean``, ``sd`` (ddof 1; NaN for n < 2),
        ``lo`` and ``hi`` (the band's edges; equal to the mean for n < 2).
    """
    from scipy import stats  # noqa: PLC0415

    if band not in BANDS:
        raise ModelInputError(f"unknown band {band!r}; choose one of {', '.join(BANDS)}")
    v = np.asarray(values, dtype=np.float64)
    n = np.sum(np.isfinite(v), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.nansum(v, axis=0) / np.maximum(n, 1), np.nan)
        dev = np.where(np.isfinite(v), v - mean, 0.0)
        sd = np.where(n > 1, np.sqrt(np.sum(dev ** 2, axis=0) / np.maximum(n - 1, 1)), np.nan)
        if band == "sd":
            half = sd
        else:
            sem = sd / np.sqrt(n)
            half = sem if band == "sem" else stats.t.ppf(0.975, np.maximum(n - 1, 1)) * sem
    half = np.where(np.isfinite(half), half, 0.0)
    return {"n": n, "mean": mean, "sd": sd, "lo": mean - half, "hi": mean + half}


_BAND_TEXT = {"sd": "mean ± SD", "sem": "mean ± SEM", "ci95": "mean, 95% CI"}


def plot_arms(arms: dict, out, *, readouts=None, time_unit: str = "h", band: str = "sd",
              overwrite: bool = False):
    """Plot each arm's mean readout with a band across its animals, one panel per readout.

    Parameters
    ----------
    arms : dict of str to sequence of path
        Arm label -> its run files (one per animal), in legend order.
    out : str or Path
        Picture (``.png``, ``.pdf``, ``.svg``).
    readouts : sequence of str, optional
        Readouts to plot (default: all common to every run).
    time_unit : {"h", "min", "s", "d"}
    band : {"sd", "sem", "ci95"}
        What the shaded band shows (module docs).
    overwrite : bool

    Returns
    -------
    matplotlib.figure.Figure
        With ``fig.arm_stats[readout][arm]`` = :func:`arm_statistics` plus ``time`` (in
        ``time_unit``).

    Raises
    ------
    abm.errors.ModelInputError
        No arms, an empty arm, runs of one arm with different readout times, and every
        refusal of :func:`viz.plots.plot_runs`.
    """
    from matplotlib.figure import Figure  # noqa: PLC0415

    if not arms:
        raise ModelInputError("no arms to plot; give --arm LABEL=FILES at least once")
    if time_unit not in TIME_UNITS:
        raise ModelInputError(f"unknown time unit {time_unit!r}; choose one of "
                              f"{', '.join(TIME_UNITS)}")
    if band not in BANDS:
        raise ModelInputError(f"unknown band {band!r}; choose one of {', '.join(BANDS)}")
    out, fmt = _check_out(out, overwrite)
    series = {}
    for label, paths in arms.items():
        if not paths:
            raise ModelInputError(f"arm {label!r} has no run files")
        runs = [load_series(p) for p in paths]
        t0 = runs[0].time_min
        for r in runs[1:]:
            if r.time_min.shape != t0.shape or not np.array_equal(r.time_min, t0):
                raise ModelInputError(
                    f"arm {label!r}: {r.path.name} has readouts at other times than "
                    f"{runs[0].path.name}; an arm's animals must be runs of the same scenario "
                    "and duration (other seeds)")
        series[label] = runs
    every = [r for runs in series.values() for r in runs]
    columns = _choose_columns(every, readouts)
    _check_units(every, columns)

    nrows, ncols = _grid(len(columns))
    fig = Figure(figsize=(5.2 * ncols, 0.6 + 3.0 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True).ravel()
    for ax in axes[len(columns):]:
        fig.delaxes(ax)
    stats_out: dict = {}
    for k, (ax, c) in enumerate(zip(axes, columns)):
        stats_out[c] = {}
        for j, (label, runs) in enumerate(series.items()):
            t = _convert_time(runs[0].time_min, time_unit)
            st = arm_statistics(np.vstack([np.asarray(r.values[c], float) for r in runs]), band)
            st["time"] = t
            stats_out[c][label] = st
            line, = ax.plot(t, st["mean"], linewidth=1.6, label=f"{label} (n = {len(runs)})")
            ax.fill_between(t, st["lo"], st["hi"], color=line.get_color(), alpha=0.25,
                            linewidth=0)
        ax.set_ylabel(_axis_label(c, every[0].units[c]))
        ax.grid(True, alpha=0.3)
        if k + ncols >= len(columns):
            ax.set_xlabel(f"time [{time_unit}]")
            ax.xaxis.set_tick_params(labelbottom=True)
    axes[0].legend(fontsize="small", loc="best", title=_BAND_TEXT[band],
                   title_fontsize="small")
    names = list(dict.fromkeys(r.scenario_name for r in every))
    fig.suptitle(f"scenario{'s' if len(names) > 1 else ''}: {', '.join(names)}")
    fig.arm_stats = stats_out
    _save(fig, out, fmt)
    return fig
