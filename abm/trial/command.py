"""``abm trial``, ``abm sweep`` and ``abm validate TRIAL|SWEEP.yaml`` (their command line).

::

    abm trial TRIAL.yaml [--scheduler ADDRESS | --slurm | --pbs] [--workers N] [--out DIR]
                         [--retries N] [--job-script] [--quiet]
    abm sweep SWEEP.yaml (the same options)

Exit codes as for ``abm run``: 0 when every animal has a result, 2 for bad input (the
trial file, or animals whose drawn values the scenario refuses: listed once each), 1 when
a run failed after its retries, 130 when interrupted (run the same command again: the
finished animals are kept and skipped).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_trial_parser", "trial_command", "validate_trial"]


def add_trial_parser(sub) -> None:
    """Add the ``trial`` and ``sweep`` subcommands to the ``abm`` parser's subparsers."""
    t = sub.add_parser("trial", help="run a virtual trial: animals per arm on Dask, Hedges' g, "
                                     "random-effects pooling, forest plots")
    t.add_argument("trial", type=Path, help="trial YAML file (a top-level trial: key)")
    _execution_options(t)
    w = sub.add_parser("sweep", help="run a parameter sweep on Dask (grid, list, Latin hypercube, "
                                     "Sobol', Morris) with global sensitivity indices (SALib)")
    w.add_argument("trial", type=Path, metavar="sweep", help="sweep YAML file (a top-level sweep: key)")
    _execution_options(w)


def _execution_options(t) -> None:
    where = t.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="use a running Dask cluster, e.g. tcp://node01:8786")
    where.add_argument("--slurm", action="store_true",
                       help="submit workers as SLURM jobs (dask-jobqueue; resources from the "
                            "trial file's cluster:)")
    where.add_argument("--pbs", action="store_true", help="submit workers as PBS jobs (dask-jobqueue)")
    t.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default: one per core), or batch jobs")
    t.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output folder (default: the trial's name, in the current folder)")
    t.add_argument("--retries", type=int, default=2, metavar="N",
                   help="retries of a run that fails unexpectedly (default 2; bad input is never "
                        "retried, a run whose worker died is always rescheduled)")
    t.add_argument("--job-script", action="store_true",
                   help="with --slurm or --pbs: print the job script of one worker and exit")
    t.add_argument("--quiet", action="store_true", help="no progress bar")


def _summary(trial, loaded) -> str:
    lines = [f"trial {trial.name} ({trial.source.name}): seed {trial.seed}, {trial.n_runs} runs"]
    if trial.overrides:
        lines.append(f"  every arm    {' '.join(trial.overrides)}")
    for a in trial.arms.values():
        lines.append(f"  arm {a.name:<12} {a.scenario.name} {' '.join(a.overrides)}".rstrip())
    for s in trial.studies:
        sub = ", ".join(f"{k}={v}" for k, v in s.subgroups.items())
        per_arm = " ".join(f"{a}: {' '.join(o)};" for a, o in s.arm_overrides.items())
        lines.append(f"  study {s.name:<10} {s.animals} animals per arm {' '.join(s.overrides)} "
                     f"{per_arm}{f' [{sub}]' if sub else ''}".rstrip())
    for v in trial.variability:
        p = ", ".join(f"{k} {x:g}" for k, x in v.params.items())
        only = f" (arms: {', '.join(v.arms)})" if v.arms else ""
        lines.append(f"  varies {v.key}: {v.kind} ({p}) {v.unit}".rstrip() + only)
    for o in trial.outcomes:
        lines.append(f"  outcome {o.label}")
    for c in trial.comparisons:
        lines.append(f"  compare {c.label} (Hedges' g, DerSimonian-Laird pooling)")
    return "\n".join(lines)


def is_trial_or_sweep(path) -> bool:
    """Whether ``path`` is a trial or a sweep file (a top-level ``trial:`` or ``sweep:`` key).

    Read here without importing the trial modules, so that ``abm validate SCENARIO`` does
    not pay for pandas.
    """
    import re  # noqa: PLC0415

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return re.search(r"(?m)^(trial|sweep)\s*:", text) is not None


def _sweep_summary(sweep) -> str:
    n = len(sweep.points())
    lines = [f"sweep {sweep.name} ({sweep.source.name}): {sweep.design} design, {n} points x "
             f"{sweep.seeds} seed(s) = {n * sweep.seeds} runs of {sweep.scenario.name}"]
    if sweep.overrides:
        lines.append(f"  every run    {' '.join(sweep.overrides)}")
    for a in sweep.axes:
        rng = (", ".join(f"{v:g}" for v in a.values) if a.values else f"{a.low:g} to {a.high:g}")
        lines.append(f"  axis {a.key}: {rng} {a.unit}".rstrip())
    for o in sweep.outcomes:
        lines.append(f"  outcome {o.label}")
    if sweep.design in ("sobol", "morris"):
        lines.append(f"  sensitivity: {'Sobol indices S1, ST' if sweep.design == 'sobol' else 'Morris mu*, sigma'}"
                     " (SALib)")
    return "\n".join(lines)


def validate_trial(path, overrides=(), arm=None) -> int:
    """``abm validate TRIAL.yaml`` (or a sweep file): check it and its scenarios; print a summary."""
    from ..errors import ModelInputError  # noqa: PLC0415
    from .load import check_trial, is_trial_file, load_trial  # noqa: PLC0415

    if overrides or arm:
        raise ModelInputError("--set and --arm apply to scenario files; a trial or sweep file sets "
                              "its own overrides (set:)")
    if not is_trial_file(path):
        from .sweep import check_sweep, load_sweep  # noqa: PLC0415

        sweep = load_sweep(path)
        check_sweep(sweep)
        print(_sweep_summary(sweep))
        return 0
    trial = load_trial(path)
    loaded = check_trial(trial)
    print(_summary(trial, loaded))
    return 0


def trial_command(args: argparse.Namespace) -> int:
    """Run ``abm trial`` with parsed ``args``; returns the exit code."""
    from ..errors import ModelInputError  # noqa: PLC0415
    from .load import load_trial  # noqa: PLC0415

    kind = "slurm" if args.slurm else "pbs" if args.pbs else "scheduler" if args.scheduler else "local"
    if args.workers is not None and args.workers < 1:
        raise ModelInputError(f"--workers must be >= 1, got {args.workers}")
    if args.retries < 0:
        raise ModelInputError(f"--retries must be >= 0, got {args.retries}")
    if args.cmd == "sweep":
        from .sweep import load_sweep  # noqa: PLC0415

        trial = load_sweep(args.trial)
    else:
        trial = load_trial(args.trial)
    if args.job_script:
        if kind not in ("slurm", "pbs"):
            raise ModelInputError("--job-script shows a batch job: give --slurm or --pbs with it")
        from .clusters import job_script  # noqa: PLC0415

        print(job_script(kind, trial.resources))
        return 0
    from .execute import run_trial  # noqa: PLC0415
    from .sweep import run_sweep  # noqa: PLC0415

    out = args.out or Path(trial.name)
    run = run_sweep if args.cmd == "sweep" else run_trial
    try:
        result = run(trial, out, kind=kind, address=args.scheduler, workers=args.workers,
                     retries=args.retries, progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"abm: error: interrupted; the finished runs are kept in {out}: run the same "
              "command again to run the rest", file=sys.stderr)
        return 130
    problems = result["problems"] if isinstance(result, dict) else result.problems
    if any(": failed:" in p for p in problems):
        return 1
    return 2 if problems else 0
