"""From one row per animal to the effects table of a trial.

The effects table is long: one row per (outcome, comparison) and

* ``level = study``: a study's group means, SDs and N, Hedges' g, its variance, 95% CI
  and random-effects weight in the pooling;
* ``level = pooled``: the DerSimonian-Laird pooled g over the studies, with tau^2, I^2
  and the Q test (with one study: that study's g, no heterogeneity test);
* ``level = subgroup``: the pooling within one level (``group``) of a subgroup factor;
* ``level = subgroup test``: the test for differences between that factor's levels.

See :mod:`abm.trial.statistics` for the methods.
"""

from __future__ import annotations

import math

import pandas as pd

from .spec import Trial
from .statistics import hedges_g, pool, subgroup_test, summarize

__all__ = ["effects_table", "COLUMNS"]

COLUMNS = ["level", "outcome", "comparison", "study", "factor", "group", "n_treated",
           "mean_treated", "sd_treated", "n_control", "mean_control", "sd_control", "g", "var",
           "ci_low", "ci_high", "weight", "tau2", "i2", "q", "q_df", "q_p", "k", "note"]


def _pooled_row(base: dict, p) -> dict:
    return {**base, "g": p.g, "var": p.se ** 2, "ci_low": p.ci_low, "ci_high": p.ci_high,
            "tau2": p.tau2, "i2": p.i2, "q": p.q, "q_df": p.q_df, "q_p": p.q_p, "k": p.k}


def effects_table(trial: Trial, animals: pd.DataFrame) -> pd.DataFrame:
    """The effects table (see the module docs) from the animals table.

    Parameters
    ----------
    trial : Trial
    animals : pandas.DataFrame
        One row per animal with ``study``, ``arm``, ``status`` and a column per outcome
        label; only rows with status ``finished`` or ``skipped`` count.
    """
    done = animals[animals["status"].isin(["finished", "skipped"])] if len(animals) else animals
    rows = []
    for o in trial.outcomes:
        for c in trial.comparisons:
            base = {"outcome": o.label, "comparison": c.label}
            study_rows = []
            for s in trial.studies:
                here = done[done["study"] == s.name] if len(done) else done
                vals = {arm: (here.loc[here["arm"] == arm, o.label] if o.label in here else [])
                        for arm in (c.treated, c.control)}
                t, k = summarize(vals[c.treated]), summarize(vals[c.control])
                e = hedges_g(t, k)
                r = {**base, "level": "study", "study": s.name, "n_treated": t.n,
                     "mean_treated": t.mean, "sd_treated": t.sd, "n_control": k.n,
                     "mean_control": k.mean, "sd_control": k.sd, "g": e.g, "var": e.var,
                     "ci_low": e.ci_low, "ci_high": e.ci_high, "note": e.note}
                r.update({f"subgroup:{f}": v for f, v in s.subgroups.items()})
                study_rows.append(r)
            rows += study_rows
            usable = [r for r in study_rows if math.isfinite(r["g"]) and r["var"] > 0]
            if not usable:
                rows.append({**base, "level": "pooled", "study": "pooled (DL)",
                             "note": "no study with an effect size"})
                continue
            p = pool([r["g"] for r in usable], [r["var"] for r in usable])
            for r, w in zip(usable, p.weights):
                r["weight"] = w
            rows.append(_pooled_row({**base, "level": "pooled", "study": "pooled (DL)",
                                     "note": "" if len(usable) == len(study_rows) else
                                     f"{len(study_rows) - len(usable)} study(ies) without an effect "
                                     "size left out"}, p))
            factors = sorted({f for s in trial.studies for f in s.subgroups})
            for f in factors:
                levels = {}
                for r in usable:
                    levels.setdefault(r[f"subgroup:{f}"], []).append(r)
                pooled = {lv: pool([r["g"] for r in rs], [r["var"] for r in rs])
                          for lv, rs in levels.items()}
                for lv, pp in pooled.items():
                    rows.append(_pooled_row({**base, "level": "subgroup", "study": f"{f} = {lv}",
                                             "factor": f, "group": lv}, pp))
                q, df, qp = subgroup_test(pooled)
                rows.append({**base, "level": "subgroup test", "study": f"between {f} levels",
                             "factor": f, "q": q, "q_df": df, "q_p": qp, "k": len(pooled)})
    table = pd.DataFrame(rows)
    extra = [c for c in table.columns if c not in COLUMNS]
    for col in COLUMNS:
        if col not in table:
            table[col] = math.nan if col not in ("note", "factor", "group", "study") else ""
    return table[COLUMNS + extra]
