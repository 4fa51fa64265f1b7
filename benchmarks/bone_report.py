#!/usr/bin/env python
"""The bone seed experiments against what their papers report: runs, statistics, figures.

The same report as benchmarks/brain_report.py (read its docs for the options and what is
written), over the scenarios of ``scenarios/bone/`` (seeds 001_70475427c1d3b693 and
002_d22e3df16e83e9bf): each arm once per virtual animal at full size, every ``reported:``
finding compared over the animals (Welch and Mann-Whitney p, Hedges' g), each reported
readout drawn over time per arm. Written: ``bone_report_DATE.json`` and
``bone_report_DATE/<scenario>.png`` under ``--out`` (default benchmarks/results)::

    python benchmarks/bone_report.py --animals 3 --workers 2
    python benchmarks/bone_report.py --only ovx_rat_evs --animals 10
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import brain_report as _report  # noqa: E402  (benchmarks/brain_report.py)

_report.TREE = "bone"
main = _report.main

if __name__ == "__main__":
    sys.exit(main())
