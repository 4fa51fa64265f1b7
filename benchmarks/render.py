#!/usr/bin/env python
"""Benchmark of off-screen rendering on a big run: 256³ fields, 10⁶ agents.

Run from the repository root::

    python benchmarks/render.py                          # 256³, 1e6 agents, 4 snapshots
    python benchmarks/render.py --side 128 --agents 200000 --snapshots 3

A synthetic run file is written with :class:`abm.runfile.RunWriter` (one
float32 field, a lesion label, Microglia with states and BMSCs), then
``viz.render.render_run`` draws one PNG and one GIF with a frame per
snapshot, in each of the three field modes for the PNG. Reported: wall time
per picture and per movie frame, and the process's peak resident memory
(``ru_maxrss``) after the GIF of ``--snapshots`` frames and after one of twice
as many, which must stay flat if snapshots are read one at a time. JSON goes
to ``benchmarks/results/render.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from fields import machine_info  # noqa: E402

from abm.runfile import RunWriter  # noqa: E402
from viz.render import render_run  # noqa: E402


def _write_run(path: Path, n: int, n_agents: int, n_snap: int) -> None:
    rng = np.random.default_rng(1)
    x = (np.arange(n) + 0.5) / n
    r2 = (x[:, None, None] - 0.5) ** 2 + (x[None, :, None] - 0.5) ** 2 + (x[None, None, :] - 0.5) ** 2
    labels = (r2 < 0.02).astype(np.uint8)
    w = RunWriter.create(path, metadata={"dx_um": 20.0, "shape": [n, n, n],
                                         "scenario_name": "render-bench"},
                         scenario_text="name: render-bench\n", units={"length": "um"},
                         field_units={"SDF-1a": "ng/mL"}, tissue_names=["brain", "lesion"],
                         labels=labels,
                         cell_types={"Microglia": {"states": ["M0", "M1", "M2"], "variables": []},
                                     "BMSC": {"states": [], "variables": []}})
    for s in range(n_snap):
        field = (5.0 * np.exp(-r2 / (0.02 + 0.01 * s))).astype(np.float32)
        mg = {"id": np.arange(n_agents, dtype=np.int64),
              "pos": rng.integers(0, n, (n_agents, 3)).astype(np.int32),
              "state": rng.integers(0, 3, n_agents).astype(np.int8)}
        nb = max(1, n_agents // 100)
        bm = {"id": np.arange(n_agents, n_agents + nb, dtype=np.int64),
              "pos": rng.integers(0, n, (nb, 3)).astype(np.int32)}
        w.write_snapshot(s * 60, s * 60.0, {"SDF-1a": field}, {"Microglia": mg, "BMSC": bm},
                         labels=labels)
    w.close()


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv=None) -> int:
    """Render a synthetic big run; print and write timings and peak memory."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--side", type=int, default=256)
    p.add_argument("--agents", type=int, default=1_000_000)
    p.add_argument("--snapshots", type=int, default=4)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "render.json")
    a = p.parse_args(argv)
    rep = {"machine": machine_info(), "side": a.side, "agents": a.agents, "png_s": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        short, long = tmp / "short.h5", tmp / "long.h5"
        _write_run(short, a.side, a.agents, a.snapshots)
        _write_run(long, a.side, a.agents, 2 * a.snapshots)
        for mode in ("slices", "iso", "volume"):
            t0 = time.perf_counter()
            render_run(short, tmp / f"{mode}.png", mode=mode)
            rep["png_s"][mode] = time.perf_counter() - t0
        t0 = time.perf_counter()
        render_run(short, tmp / "short.gif")
        rep["gif_s_per_frame"] = (time.perf_counter() - t0) / a.snapshots
        rep["maxrss_MB_after_short_gif"] = _maxrss_mb()
        render_run(long, tmp / "long.gif")
        rep["maxrss_MB_after_long_gif"] = _maxrss_mb()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(rep, indent=2))
    print(f"{a.side}^3, {a.agents:.0e} agents: PNG " +
          ", ".join(f"{m} {t:.2f} s" for m, t in rep["png_s"].items()) +
          f"; GIF {rep['gif_s_per_frame']:.2f} s/frame; peak RSS {rep['maxrss_MB_after_short_gif']:.0f} MB "
          f"after {a.snapshots} frames, {rep['maxrss_MB_after_long_gif']:.0f} MB after "
          f"{2 * a.snapshots} -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
