"""Global sensitivity of sweep outcomes (SALib), and its plot.

* ``sobol`` design: first-order and total Sobol' indices (``S1``, ``ST``) with their 95%
  bootstrap intervals (:func:`SALib.analyze.sobol.analyze`, no second-order terms);
* ``morris`` design: Morris ``mu_star`` (mean absolute elementary effect, in the outcome's
  unit per the axis's range), its 95% interval and ``sigma``
  (:func:`SALib.analyze.morris.analyze`).

Each point's outcome is the mean over its seeds. A point whose runs all failed leaves a
hole that these estimators cannot take: the analysis of that outcome is then skipped
with a note.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .designs import salib_problem

__all__ = ["sensitivity_table", "sensitivity_plot", "plot_name"]


def sensitivity_table(design: str, axes, x: np.ndarray, y: dict, levels: int = 4,
                      seed: int = 0) -> pd.DataFrame:
    """Indices per (outcome, axis); ``y`` maps outcome labels to one value per point."""
    rows = []
    problem = salib_problem(axes)
    for label, values in y.items():
        v = np.asarray(values, dtype=float)
        if not np.isfinite(v).all():
            rows.append({"outcome": label, "axis": "", "note": "points without a value: no indices"})
            continue
        if float(np.var(v)) == 0.0:
            rows.append({"outcome": label, "axis": "", "note": "the outcome does not vary: no indices"})
            continue
        if design == "sobol":
            from SALib.analyze import sobol  # noqa: PLC0415

            r = sobol.analyze(problem, v, calc_second_order=False, seed=seed)
            for j, a in enumerate(axes):
                rows.append({"outcome": label, "axis": a.key, "S1": r["S1"][j],
                             "S1_conf": r["S1_conf"][j], "ST": r["ST"][j], "ST_conf": r["ST_conf"][j]})
        elif design == "morris":
            from SALib.analyze import morris  # noqa: PLC0415

            r = morris.analyze(problem, x, v, num_levels=levels, seed=seed)
            for j, a in enumerate(axes):
                rows.append({"outcome": label, "axis": a.key, "mu_star": float(r["mu_star"][j]),
                             "mu_star_conf": float(r["mu_star_conf"][j]), "sigma": float(r["sigma"][j])})
    return pd.DataFrame(rows)


def sensitivity_plot(table: pd.DataFrame, outcome: str, path) -> Path:
    """Bar chart of one outcome's indices (S1 and ST, or mu* and sigma), with intervals."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # noqa: PLC0415

    t = table[(table["outcome"] == outcome) & (table["axis"] != "")]
    sobol = "ST" in t and t["ST"].notna().any()
    pairs = [("S1", "S1_conf"), ("ST", "ST_conf")] if sobol else [("mu_star", "mu_star_conf"),
                                                                  ("sigma", None)]
    fig, ax = plt.subplots(figsize=(6.5, 1.5 + 0.5 * len(t)))
    y = np.arange(len(t))
    for k, (col, conf) in enumerate(pairs):
        err = t[conf].to_numpy() if conf else None
        ax.barh(y + (k - 0.5) * 0.38, t[col].to_numpy(), height=0.36, xerr=err, capsize=3,
                label={"S1": "first order S1", "ST": "total ST", "mu_star": "mu*",
                       "sigma": "sigma"}[col])
    ax.set_yticks(y, list(t["axis"]))
    ax.set_xlabel("Sobol' index" if sobol else "elementary effect (outcome units)")
    ax.set_title(outcome, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_name(outcome: str) -> str:
    """``sensitivity_<outcome>.png`` with file-safe characters."""
    return "sensitivity_" + re.sub(r"[^A-Za-z0-9.]+", "_", outcome).strip("_") + ".png"

