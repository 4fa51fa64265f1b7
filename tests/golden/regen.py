"""Regenerate the golden readout tables of the shipped scenarios (an intended change only).

Run from the repository root::

    python -m tests.golden.regen                       # every scenario; stale tables removed
    python -m tests.golden.regen --only quickstart     # one scenario, all its arms
    python -m tests.golden.regen --only brain/ni2019_tbi_exosomes
    python -m tests.golden.regen --list                # what would run, and how shortened

``--only`` takes a scenario's path under ``scenarios/`` without ``.yaml``, or its file
stem; it also removes that scenario's stale tables (e.g. the one it had before it
declared arms).

Each table is written by the same run the golden test makes (:mod:`goldens`). Say in the
commit why the results changed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from goldens import GOLDEN_DIR, cases, golden_run, golden_settings  # noqa: E402


def _matches(case, only) -> bool:
    return not only or any(o in (case.name, case.rel, Path(case.rel).stem) for o in only)


def _stale(keep: set) -> list[Path]:
    """Golden tables in the folder that no case writes."""
    out = []
    for p in sorted(GOLDEN_DIR.glob("*.csv")):
        head = p.read_text(encoding="utf-8", errors="replace")[:80]
        if p not in keep and head.startswith('# format: "bmsc-abm exact readout table'):
            out.append(p)
    return out


def main(argv=None) -> int:
    """Regenerate; returns the exit status."""
    ap = argparse.ArgumentParser(prog="python -m tests.golden.regen", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="a scenario: its path under scenarios/ without .yaml, or its file stem "
                         "(repeatable)")
    ap.add_argument("--list", action="store_true", help="list the golden runs and exit")
    args = ap.parse_args(argv)
    every = cases()
    chosen = [c for c in every if _matches(c, args.only)]
    if args.only and not chosen:
        names = ", ".join(sorted({c.name for c in every}))
        print(f"regen: no scenario matches {', '.join(args.only)}; the scenarios are: {names}",
              file=sys.stderr)
        return 2
    from abm.experiment import write_exact_table  # noqa: PLC0415

    for c in chosen:
        s, seed = golden_settings(c)
        if args.list:
            print(f"{c.id}: seed {seed}, {s.anchor}, {s.duration_min:g} min -> {c.golden.name}")
            continue
        t0 = time.perf_counter()
        columns, meta = golden_run(c)
        write_exact_table(c.golden, columns, meta)
        print(f"wrote {c.golden.name}: {len(columns['time_min'])} rows x {len(columns)} columns, "
              f"{s.duration_min:g} min simulated, {time.perf_counter() - t0:.1f} s")
    if not args.list:
        # stale tables: all of them, or with --only those of the scenarios chosen (a
        # scenario that gained arms leaves its table without an arm behind)
        stems = {c.name.replace("/", "__") for c in chosen}
        for p in _stale({c.golden for c in every}):
            if not args.only or p.stem in stems or any(p.stem.startswith(f"{s}__")
                                                          for s in stems):
                p.unlink()
                print(f"removed {p.name} (no scenario writes it any more)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
