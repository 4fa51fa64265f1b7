"""The ``abm`` command line.

Today: ``abm demo`` (a demonstration of the field engine) and ``abm info-backend``.
Exit codes: 0 success, 2 bad input, 1 failure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kernels.backend import BackendUnavailableError, get_backend

from .errors import FieldNotFiniteError, ModelInputError


def _fail(msg: str, code: int) -> int:
    print(f"abm: error: {msg}", file=sys.stderr)
    return code


def main(argv=None) -> int:
    """Entry point of the ``abm`` command; returns the exit code."""
    p = argparse.ArgumentParser(prog="abm", description="BMSC tissue simulator")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="run the field-engine demonstration (cytokines around a lesion)")
    d.add_argument("--hours", type=float, default=12.0, help="simulated time, h (default 12)")
    d.add_argument("--out", type=Path, default=Path("demo_fields.png"),
                   help="picture to write (PNG; default demo_fields.png)")
    d.add_argument("--overwrite", action="store_true", help="replace an existing picture")
    d.add_argument("--backend", choices=["numpy", "cupy"], default=None,
                   help="array backend (default: ABM_BACKEND, else GPU if present)")
    sub.add_parser("info-backend", help="show which array backend would be used")
    args = p.parse_args(argv)
    try:
        if args.cmd == "info-backend":
            b = get_backend()
            print(f"{b.name}: {b.device}")
            return 0
        if args.cmd == "demo":
            if not (args.hours > 0):
                return _fail(f"--hours must be > 0, got {args.hours}", 2)
            if args.out.suffix.lower() != ".png":
                return _fail(f"--out must name a .png file, got {args.out}", 2)
            if args.out.exists() and not args.overwrite:
                return _fail(f"{args.out} exists; pass --overwrite to replace it or choose another --out", 2)
            if not args.out.parent.exists():
                return _fail(f"folder {args.out.parent} does not exist; create it or choose another --out", 2)
            from .demo import run_demo  # noqa: PLC0415

            run_demo(args.hours, args.out, args.backend)
            return 0
    except (BackendUnavailableError, ModelInputError) as exc:
        return _fail(str(exc), 2)
    except FieldNotFiniteError as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
