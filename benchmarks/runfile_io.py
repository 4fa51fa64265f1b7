#!/usr/bin/env python
"""Benchmark of the HDF5 run file: writing snapshots and checkpoints, reading one field.

Run from the repository root::

    python benchmarks/runfile_io.py               # 256³ lattice, 2 float32 fields, 1e6 agents
    python benchmarks/runfile_io.py --side 128 --agents 100000

A snapshot holds the fields (gzip 1 + shuffle, stored z,y,x) and the agent
table of one cell type; a checkpoint holds the same fields in float64 plus the
agent columns (what ``TissueModel.get_state`` returns). Field values are a
smooth gradient plus noise at 1e-3 relative (compressible like a real
cytokine field, not like zeros). Each operation is timed with
``time.perf_counter`` around the call, including the flush to the operating
system; the file lives in a temporary folder. JSON goes to
``benchmarks/results/runfile_io.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from fields import machine_info  # noqa: E402

from abm.runfile import RunWriter, open_run  # noqa: E402


def _field(n: int, rng, dtype) -> np.ndarray:
    x = np.linspace(0.0, 1.0, n)
    f = 5.0 * np.exp(-3.0 * (x[:, None, None] + 0.5 * x[None, :, None] + 0.2 * x[None, None, :]))
    return (f * (1.0 + 1e-3 * rng.standard_normal((n, n, n)))).astype(dtype)


def _agents(n: int, side: int, rng) -> dict:
    return {"id": np.arange(1, n + 1, dtype=np.int64),
            "pos": rng.integers(0, side, (n, 3)).astype(np.int32),
            "lineage": np.arange(1, n + 1, dtype=np.int64),
            "parent": -np.ones(n, np.int64), "generation": np.zeros(n, np.int32),
            "born": np.zeros(n), "last_division": np.zeros(n),
            "last_differentiation": np.zeros(n), "last_transition": np.zeros(n),
            "CXCR4": rng.random(n)}


def main(argv=None) -> int:
    """Time one snapshot write, one checkpoint write and one field read; write JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--side", type=int, default=256, help="lattice side, voxels (default 256)")
    p.add_argument("--agents", type=int, default=1_000_000, help="agents (default 1e6)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "runfile_io.json")
    a = p.parse_args(argv)
    rng = np.random.default_rng(0)
    n = a.side
    f32 = {"SDF-1a": _field(n, rng, np.float32), "VEGF": _field(n, rng, np.float32)}
    f64 = {k: v.astype(np.float64) for k, v in f32.items()}
    agents = _agents(a.agents, n, rng)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.h5"
        w = RunWriter.create(path, metadata={"dx_um": 20.0, "shape": [n, n, n]},
                             scenario_text="name: bench\n", units={"length": "um"},
                             field_units={"SDF-1a": "ng/mL", "VEGF": "ng/mL"},
                             tissue_names=["tissue"], labels=np.zeros((n, n, n), np.uint8),
                             cell_types={"BMSC": {"states": [], "variables": ["CXCR4"]}})
        t0 = time.perf_counter()
        w.write_snapshot(1, 1.0, f32, {"BMSC": agents})
        t_snap = time.perf_counter() - t0
        t0 = time.perf_counter()
        w.write_checkpoint(1, 1.0, {"fields": f64, "populations": {"BMSC": agents}})
        t_ckpt = time.perf_counter() - t0
        w.close()
        size = path.stat().st_size
        with open_run(path) as r:
            t0 = time.perf_counter()
            got = np.ascontiguousarray(r.field("VEGF", 0))
            t_read = time.perf_counter() - t0
        assert np.array_equal(got, f32["VEGF"])
    raw_snap = sum(v.nbytes for v in f32.values()) + sum(v.nbytes for v in agents.values())
    rep = {"machine": machine_info(), "side": n, "agents": a.agents,
           "snapshot_write_s": t_snap, "checkpoint_write_s": t_ckpt, "field_read_s": t_read,
           "snapshot_raw_MB": raw_snap / 1e6, "file_MB": size / 1e6,
           "snapshot_write_MB_per_s": raw_snap / 1e6 / t_snap}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(rep, indent=2))
    print(f"{n}^3, {a.agents:.0e} agents: snapshot {t_snap:.2f} s ({rep['snapshot_write_MB_per_s']:.0f} MB/s "
          f"raw), checkpoint {t_ckpt:.2f} s, read one field {t_read:.3f} s, file {size / 1e6:.0f} MB"
          f" -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
