#!/usr/bin/env python
"""The brain seed experiments against what their papers report: runs, statistics, figures.

Run from the repository root::

    python benchmarks/brain_report.py                          # every scenario in scenarios/brain/
    python benchmarks/brain_report.py --only zhang2006_mcao_intracarotid --animals 10
    python benchmarks/brain_report.py --quick                  # shortened runs (a smoke test)
    python benchmarks/brain_report.py --scenario my.yaml --quick --out /tmp/report

For each scenario every arm it declares runs once per virtual animal (``--animals N``
seeds: the scenario's seed, +1, +2, ...; the same seeds in every arm), at full size and
duration unless ``--quick``. Every ``reported:`` finding is then compared over the animals
(:func:`abm.experiment.compare_claim`: per arm n, mean, SD, SEM; two-sided Welch t and
Mann-Whitney U p values; Hedges' g with its 95 % interval; whether the direction holds),
and each reported readout is drawn over time, one line per arm at the mean over the
animals with a band of ± 1 SD (:func:`viz.arms.plot_arms`), with a dashed line where each
finding is read and whether it holds (a scenario that reports no finding shows all its
readouts).

Written (``DATE`` is today's UTC date, ``--out`` defaults to ``benchmarks/results``):

* ``brain_report_DATE.json``: the machine, the command, and per scenario the arms, seeds,
  overrides, simulated time, each run's wall time (s) and backend, and every claim;
* ``brain_report_DATE/<scenario>.png``: the figures.

``--quick`` shortens each scenario to its first treatment plus a few steps
(:func:`abm.experiment.shorten`; ``--set`` overrides apply first, so ``--set "events.1.at=0 h"``
moves a late treatment earlier); a finding dated later is then read at the end of the
shortened runs, and the JSON and the printed lines say so. Whether a finding holds is a
result, not an error: the script exits 0 when it ran, 2 for bad input (an unknown
scenario, a bad override, an existing report without ``--overwrite``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BRAIN = ROOT / "scenarios" / "brain"
RESULTS = ROOT / "benchmarks" / "results"
#: The scenario tree a report covers (``scenarios/<tree>/``); benchmarks/bone_report.py sets "bone".
TREE = "brain"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=f"python benchmarks/{TREE}_report.py",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help=f"a scenario of scenarios/{TREE}/ by file stem (repeatable)")
    ap.add_argument("--scenario", action="append", default=[], metavar="FILE", type=Path,
                    help=f"a scenario file instead of scenarios/{TREE}/ (repeatable)")
    ap.add_argument("--animals", type=int, default=3, metavar="N",
                    help="virtual animals (seeds) per arm (default 3)")
    ap.add_argument("--arm", action="append", default=[], metavar="NAME", dest="arms",
                    help="run only this arm (repeatable; findings between arms not run are "
                         "left out)")
    ap.add_argument("--quick", action="store_true",
                    help="shortened runs: to the first treatment and 5 steps more")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                    help="an override for every run, as abm run --set (repeatable)")
    ap.add_argument("--workers", type=int, default=1, help="runs at the same time (processes)")
    ap.add_argument("--backend", choices=["numpy", "cupy"], default=None)
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for the report")
    ap.add_argument("--keep-runs", action="store_true",
                    help=f"keep the run files in <out>/{TREE}_report_DATE/runs/")
    ap.add_argument("--overwrite", action="store_true", help="replace a report of the same date")
    return ap


def _scenarios(args) -> list[Path]:
    from abm.errors import ModelInputError  # noqa: PLC0415
    from abm.registry import did_you_mean  # noqa: PLC0415

    if args.scenario:
        for p in args.scenario:
            if not p.is_file():
                raise ModelInputError(f"scenario file {p} not found; check the path")
        return list(args.scenario)
    tree = ROOT / "scenarios" / TREE
    found = sorted(tree.glob("*.yaml"))
    if not args.only:
        if not found:
            raise ModelInputError(f"no scenario files in {tree}; give --scenario FILE")
        return found
    stems = {p.stem: p for p in found}
    for name in args.only:
        if name not in stems:
            raise ModelInputError(f"no scenario {name!r} in scenarios/{TREE}/"
                                  f"{did_you_mean(name, list(stems))}; there are: "
                                  f"{', '.join(stems) or 'none'}")
    return [stems[n] for n in args.only]


def _machine() -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fields import machine_info  # noqa: PLC0415 (benchmarks/fields.py)

    return machine_info()


def mark_claims(figure, readouts: list, claims: list, unit: str) -> None:
    """Draw each claim on its readout's panel: a dashed line at the time read, and its verdict."""
    per = {"h": 60.0, "d": 1440.0}[unit]
    for ax, name in zip(figure.axes, readouts):
        for c in (c for c in claims if c["readout"] == name):
            x = c["time_used_min"] / per
            ax.axvline(x, color="0.4", linestyle="--", linewidth=0.9)
            lo, hi = ax.get_xlim()
            right = x > (lo + hi) / 2                     # the text goes where there is room
            ax.annotate(f"paper: {c['expect']} ({'holds' if c['holds'] else 'does not hold'})",
                        (x, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(-3 if right else 3, -3), textcoords="offset points", va="top",
                        ha="right" if right else "left", fontsize="x-small", color="0.3")


def report_scenario(path: Path, args, run_dir: Path, fig_dir: Path, bar) -> dict:
    """Run one scenario's arms over the animals, compare its claims, draw its figure."""
    from abm.experiment import compare_claim, run_arms, shorten  # noqa: PLC0415
    from abm.runfile import open_run  # noqa: PLC0415
    from abm.scenario import load_scenario  # noqa: PLC0415

    extra = list(args.overrides)
    overrides = list(shorten(path, overrides=extra).overrides) if args.quick else extra
    sc = load_scenario(path, overrides)
    base = sc.domain.seed if sc.domain.seed is not None else 1
    seeds = [int(base) + k for k in range(args.animals)]
    entry = {"file": str(path), "name": sc.name, "description": sc.description,
             "arms": list(sc.arms), "seeds": seeds, "overrides": overrides,
             "simulated_min": sc.domain.n_steps * sc.domain.dt,
             "lattice": list(sc.domain.shape), "voxel_um": sc.domain.dx, "dt_min": sc.domain.dt}
    if not sc.arms:
        entry["skipped"] = "declares no arms: nothing to compare"
        return entry
    folder = run_dir / sc.name
    folder.mkdir(parents=True, exist_ok=True)
    arms = [a for a in args.arms if a in sc.arms] or None
    if args.arms and not arms:
        entry["skipped"] = f"declares none of the arms {', '.join(args.arms)}"
        return entry
    entry["arms"] = arms or list(sc.arms)
    runs = run_arms(path, arms=arms, seeds=seeds, overrides=overrides, out_dir=folder,
                    backend=args.backend, workers=args.workers, overwrite=True,
                    on_run=lambda t: bar.update(1))
    entry["runs"] = []
    for arm, tables in runs.items():
        for t in tables:
            with open_run(t.path) as r:
                where = {"backend": r.attrs.get("backend"), "device": r.attrs.get("device")}
            entry["runs"].append({"arm": arm, "seed": t.seed, "wall_s": round(t.wall_s, 3),
                                  **where})
    walls = [r["wall_s"] for r in entry["runs"]]
    entry["wall_s_per_run_mean"] = sum(walls) / len(walls)
    entry["claims"] = [compare_claim(c, runs).as_dict() for c in sc.reported
                       if c.a in runs and c.b in runs]
    # the reported readouts; a scenario that reports none shows all its readouts
    readouts = list(dict.fromkeys(c.readout for c in sc.reported)) or \
        [r.text for r in sc.outputs.readouts]
    entry["figure_readouts"] = readouts
    if readouts:
        from viz.arms import plot_arms  # noqa: PLC0415

        fig = fig_dir / f"{sc.name}.png"
        unit = "d" if entry["simulated_min"] >= 2 * 1440 else "h"
        figure = plot_arms({a: [t.path for t in ts] for a, ts in runs.items()}, fig,
                           readouts=readouts, time_unit=unit, band="sd", overwrite=True)
        mark_claims(figure, readouts, entry["claims"], unit)
        figure.savefig(fig, dpi=150)
        entry["figure"] = str(fig)
    return entry


def main(argv=None) -> int:
    """Run the report; returns the exit status (0 when it ran, 2 for bad input)."""
    from tqdm import tqdm  # noqa: PLC0415

    from abm.errors import ModelInputError  # noqa: PLC0415
    from abm.runfile import RunFileError  # noqa: PLC0415
    from abm.scenario import ScenarioError, load_scenario  # noqa: PLC0415

    args = _parser().parse_args(argv)
    try:
        if args.animals < 1:
            raise ModelInputError(f"--animals {args.animals}; give 1 or more")
        paths = _scenarios(args)
        date = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        out = Path(args.out)
        if not out.is_dir():
            raise ModelInputError(f"folder {out} does not exist; create it or choose another --out")
        js, fig_dir = out / f"{TREE}_report_{date}.json", out / f"{TREE}_report_{date}"
        if js.exists() and not args.overwrite:
            raise ModelInputError(f"{js} exists; pass --overwrite to replace it or choose --out")
        n_runs = 0
        for p in paths:
            sc = load_scenario(p, list(args.overrides))
            arms = [a for a in args.arms if a in sc.arms] or sc.arms
            n_runs += len(arms) * args.animals
    except (ModelInputError, ScenarioError, RunFileError) as exc:
        print(f"{TREE}_report: {exc}", file=sys.stderr)
        return 2
    fig_dir.mkdir(exist_ok=True)
    report = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "command": " ".join(["python", f"benchmarks/{TREE}_report.py",
                                   *(argv or sys.argv[1:])]),
              "quick": args.quick, "animals": args.animals, "machine": _machine(),
              "scenarios": {}}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"{TREE}-report-") as tmp, \
            tqdm(total=n_runs, unit="run", file=sys.stderr, dynamic_ncols=True) as bar:
        run_dir = fig_dir / "runs" if args.keep_runs else Path(tmp)
        for p in paths:
            bar.set_postfix_str(p.stem, refresh=True)
            try:
                entry = report_scenario(p, args, run_dir, fig_dir, bar)
            except (ModelInputError, ScenarioError, RunFileError) as exc:
                print(f"{TREE}_report: {p.name}: {exc}", file=sys.stderr)
                return 2
            report["scenarios"][entry["name"]] = entry
    report["wall_s"] = round(time.perf_counter() - t0, 3)
    claims = [c for e in report["scenarios"].values() for c in e.get("claims", [])]
    report["summary"] = {"claims": len(claims), "hold": sum(c["holds"] for c in claims)}
    js.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, e in report["scenarios"].items():
        print(f"{name}: {len(e.get('runs', []))} runs, {e.get('wall_s_per_run_mean', 0):.1f} s "
              f"a run" + (f" ({e['skipped']})" if "skipped" in e else ""))
        for c in e.get("claims", []):
            print(f"  {c['describe']}")
    print(f"{report['summary']['hold']} of {len(claims)} reported findings hold; wrote {js} "
          f"and {fig_dir}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
