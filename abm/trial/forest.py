"""Forest plot of one outcome and comparison (matplotlib).

One line per study (Hedges' g and its 95% CI, the square's area proportional to the
study's random-effects weight), a diamond per subgroup and for the DerSimonian-Laird
pooled effect, a vertical line at no effect, tau^2, I^2 and the heterogeneity test under
the title, and the test for subgroup differences under the axis.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

__all__ = ["forest_plot", "forest_file_name"]


def forest_file_name(outcome: str, comparison: str) -> str:
    """``forest_<outcome>_<comparison>.png`` with only file-safe characters."""
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", f"{outcome}_{comparison}").strip("_")
    return f"forest_{slug}.png"


def _diamond(ax, y, lo, mid, hi, colour):
    ax.fill([lo, mid, hi, mid], [y, y + 0.3, y, y - 0.3], color=colour, zorder=3)


def forest_plot(effects: pd.DataFrame, outcome: str, comparison: str, path) -> Path:
    """Draw the forest plot of ``outcome`` and ``comparison`` from the effects table."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # noqa: PLC0415

    e = effects[(effects["outcome"] == outcome) & (effects["comparison"] == comparison)]
    studies = e[e["level"] == "study"]
    groups = e[e["level"] == "subgroup"]
    pooled = e[e["level"] == "pooled"]
    n_rows = len(studies) + len(groups) + len(pooled)
    fig, ax = plt.subplots(figsize=(7.5, 1.6 + 0.42 * n_rows))
    labels, y = [], n_rows
    for _, r in studies.iterrows():
        y -= 1
        if math.isfinite(r["g"]):
            w = r["weight"] if math.isfinite(r.get("weight", math.nan)) else 0.0
            ax.plot([r["ci_low"], r["ci_high"]], [y, y], color="black", lw=1)
            ax.plot([r["g"]], [y], "s", color="tab:blue", ms=4 + 14 * math.sqrt(max(w, 0.0)))
        else:
            ax.text(0, y, r["note"] or "no effect size", va="center", ha="center", fontsize=8)
        labels.append((y, f"{r['study']}  (n = {int(r['n_treated'])}/{int(r['n_control'])})"))
    for _, r in groups.iterrows():
        y -= 1
        _diamond(ax, y, r["ci_low"], r["g"], r["ci_high"], "tab:orange")
        labels.append((y, str(r["study"])))
    for _, r in pooled.iterrows():
        y -= 1
        if math.isfinite(r["g"]):
            _diamond(ax, y, r["ci_low"], r["g"], r["ci_high"], "tab:red")
        labels.append((y, "pooled (DerSimonian-Laird)"))
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks([p for p, _ in labels], [t for _, t in labels])
    ax.set_ylim(-0.8, n_rows - 0.2)
    xlabel = f"Hedges' g ({comparison}), 95% CI"
    for _, r in e[e["level"] == "subgroup test"].iterrows():
        if math.isfinite(r["q"]):
            xlabel += (f"\nsubgroup difference ({r['factor']}): Q = {r['q']:.2f} "
                       f"(df {int(r['q_df'])}, p = {r['q_p']:.3g})")
    ax.set_xlabel(xlabel)
    title = outcome
    if len(pooled) and math.isfinite(pooled.iloc[0]["g"]):
        p = pooled.iloc[0]
        title += f"\npooled g = {p['g']:.2f} [{p['ci_low']:.2f}, {p['ci_high']:.2f}]"
        if p["k"] > 1:
            title += (f", tau² = {p['tau2']:.3g}, I² = {100 * p['i2']:.0f}%, "
                      f"Q = {p['q']:.2f} (df {int(p['q_df'])}, p = {p['q_p']:.3g})")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
