#!/usr/bin/env python
"""Benchmark of a full agent step: array-backed TissueModel against plain Mesa.

Run from the repository root::

    python benchmarks/agents.py                      # numpy, plus cupy when a GPU is usable
    python benchmarks/agents.py --backend numpy      # the CPU fallback only
    python benchmarks/agents.py --quick              # smoke run (1e4 and 1e5 agents, 3 steps)
    python benchmarks/agents.py --profile 100000     # also cProfile one step at 1e5 agents
    python benchmarks/agents.py --cpu-jit off        # the NumPy twins only (no numba loops)

Results are printed (a short table on stdout, progress on stderr) and written
as JSON (default ``benchmarks/results/agents-<backend>[-quick].json``). The
script exits 0 when it ran: missing a target is a measurement, not an error;
the JSON says so with an explicit ``target_met`` boolean per target.

What is timed
-------------
The workload is the one of ``benchmarks/agent_workload.py`` (read its
docstring): one BMSC population at 0.5 cells per voxel on a cubic lattice of
20 µm voxels (side ``lattice_side(n)``), capacity 4 cells per voxel, four
fields (SDF-1α, VEGF, BDNF, exosomes) with SDF-1α starting as a linear ramp
along x. One step of 1 min is, for every cell: **sense** SDF-1α and its
gradient at the cell's voxel; apply the two Hill **rules** (SDF-1α raises the
speed and the VEGF secretion rate); **move** by chemotaxis with volume
exclusion (a lattice hop with drift, refused off the lattice or into a full
voxel); **exchange** with the fields (VEGF and BDNF secretion toward a
target, exosome release, SDF-1α uptake); then the **field update** advances
all four fields by 1 min.

1. **Array implementation** (:class:`abm.TissueModel`, one population of
   :class:`abm.BMSC`) at 10⁴, 10⁵ and 10⁶ agents on the CPU (NumPy backend)
   and additionally 10⁷ on a GPU (CuPy backend). The model is built, one
   untimed warm-up step is taken (it allocates buffers, builds FFT plans and,
   on the GPU, compiles kernels), then ``--steps`` calls of
   ``TissueModel.step()`` are timed with ``time.perf_counter``, the backend
   synchronised (``m.backend.synchronize()``) before each clock read, so
   queued GPU work is charged to the step that queued it. The field update
   is timed separately: the model's ``fields.step`` is replaced, on that
   instance only, by a wrapper that synchronises and reads the clock around
   it. Reported per size: ``agent_steps_per_s`` (agents × steps / wall time
   of the full steps) and ``agent_phase_agent_steps_per_s`` (the same with
   the time inside ``FieldSolver.step`` subtracted: sense, rules, moves with
   exclusion, the exchange bookkeeping that hands secretion/uptake sums to
   the field engine, and the end-of-step bookkeeping). If the warm-up step
   shows that ``--steps`` steps would exceed ``--budget-s`` seconds, fewer
   steps are timed (at least one) and the JSON records ``steps_requested``.

2. **Plain-Mesa peer baseline** at 10⁴ agents:
   :func:`plain_mesa.run_plain_mesa` (``benchmarks/plain_mesa.py``), the same
   behaviour written the ordinary Mesa 3 way (a ``CellAgent`` per cell on an
   ``OrthogonalVonNeumannGrid``, a Python ``step()`` per agent through
   ``shuffle_do``), run in the same process and the same invocation, with one
   warm-up step and its own number of timed steps. Its field update is timed
   the same way: ``FieldSolver.step`` is wrapped (on the class, for the
   duration of the baseline run only) and the durations of the timed steps'
   calls are summed.

How the comparison is kept fair
-------------------------------
* Same behaviour: the TissueModel is built with the workload's constants as
  cell parameters and two rules, and every BMSC default from
  ``seeds/cells.csv`` that would add behaviour is overridden (division,
  death, death release of exosomes set to 0; CXCR4 pinned at 1 with zero
  gain and loss, so the receptor factor of the chemotactic drift is 1). The
  JSON records the parameters in force. A short untimed behaviour check runs
  both implementations from the same kind of initial state at 10⁴ agents and
  compares the mean x displacement per step (the chemotactic drift) and the
  total amount of each field.
* Same field engine: both hand their exchange terms to
  :class:`abm.fields.FieldSolver` (NumPy backend on the CPU, ``auto``
  scheme, float64), so the field update costs the same in both at equal
  lattice size; the agent-phase figures take it out of both sides.
* Same clock and same process, warm-up excluded on both sides, model
  construction excluded on both sides (reported as ``build_s``).
* The ratio is of throughputs (agent-steps per second), so the array
  implementation is credited at larger populations only through its own
  measured rate; the baseline is measured at 10⁴ agents, where plain Mesa is
  at its fastest per agent (Python overhead per agent is roughly constant).
* The split is slightly conservative for the array side: the baseline's
  agent phase (wall time minus ``FieldSolver.step``) includes building the
  exchange arrays and ``set_point_exchange``, and so does the array
  implementation's (``set_exchange_sums``).

CPU fast path
-------------
With numba installed the NumPy backend runs the fused motion loops of
``kernels/cpu_jit.py`` (``--cpu-jit``/``ABM_CPU_JIT`` choose; the JSON's
``cpu_jit`` says which ran). They are compiled, or loaded from numba's cache,
before anything is timed; that time is reported as ``cpu_jit.compile_s``.

Targets
-------
* CPU fallback (NumPy) at 10⁵ agents: full-step agent-steps/s at least 100×
  the plain-Mesa baseline's (``cpu_1e5_100x_plain_mesa``).
* GPU (CuPy, H100 class) at 10⁶ agents: at least 10⁸ agent-steps/s on the
  full step (``gpu_1e6_1e8_agent_steps_per_s``).

Units: ``_s`` seconds, ``_per_s`` per second of wall time; one agent-step is
one agent advanced by one step of ``DT_MIN`` = 1 min.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as _dt
import io
import json
import math
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # agent_workload, plain_mesa

import agent_workload as W  # noqa: E402
import plain_mesa  # noqa: E402

from abm import BMSC, TissueModel  # noqa: E402
from abm.fields import FieldSolver  # noqa: E402
from kernels.backend import to_numpy  # noqa: E402

# --------------------------------------------------------------------- constants
REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks" / "results"

SEED = 20261121
BASELINE_AGENTS = 10_000
DEFAULT_SIZES = {"numpy": [10_000, 100_000, 1_000_000],
                 "cupy": [10_000, 100_000, 1_000_000, 10_000_000]}
QUICK_SIZES = [10_000, 100_000]

#: Targets.
TARGET_CPU_AGENTS = 100_000
TARGET_CPU_RATIO = 100.0
TARGET_GPU_AGENTS = 1_000_000
TARGET_GPU_AGENT_STEPS_PER_S = 1.0e8

#: The two rules of the workload (abm.rules 7-tuples).
RULES = [
    ("BMSC", "SDF-1a", "increases", "speed", W.V_MAX, W.V_HALF, W.V_HILL),
    ("BMSC", "SDF-1a", "increases", "secretion:VEGF", W.S_VEGF_MAX, W.S_VEGF_HALF, W.S_VEGF_HILL),
]

#: BMSC parameters of the workload. Every BMSC row of seeds/cells.csv is
#: overridden; the ones that would add behaviour absent from the plain-Mesa
#: workload are zeroed (division, death, death_release:exosome) or pinned
#: (CXCR4 = 1 with no gain or loss, so the receptor factor of the drift is 1).
PARAMETERS = {"BMSC": {
    "speed": W.V_BASE, "persistence": W.PERSISTENCE_MIN, "chemotaxis": W.CHI,
    "chemotaxis_half_saturation": W.K_D,
    "initial:CXCR4": 1.0, "gain:CXCR4": 0.0, "loss:CXCR4": 0.0,
    "secretion:VEGF": W.S_VEGF_BASE, "target:VEGF": W.T_VEGF,
    "secretion:BDNF": W.S_BDNF, "target:BDNF": W.T_BDNF,
    "release:exosome": W.Q_EXOSOME, "uptake:SDF-1a": W.U_SDF,
    "division": 0.0, "death": 0.0, "death_release:exosome": 0.0,
}}



# ----------------------------------------------------------------------- helpers
def log(msg: str) -> None:
    """Progress line on stderr (stdout is kept for the result table)."""
    print(f"[agents-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _rate(n_agents: int, steps: int, seconds: float) -> float:
    return n_agents * steps / seconds if seconds > 0 else float("nan")


def _ratio(a: float, b: float):
    return a / b if (b and math.isfinite(a) and math.isfinite(b)) else None


# -------------------------------------------------------------------- machine
def machine_info() -> dict:
    """Platform, CPU, library versions and (when usable) GPU of this run.

    The same record as benchmarks/fields.py, plus the Mesa version.
    """
    import mesa  # noqa: PLC0415
    from fields import machine_info as field_machine_info  # noqa: PLC0415 (benchmarks/fields.py)

    info = field_machine_info()
    info["mesa"] = mesa.__version__
    return info


# ---------------------------------------------------------- the array model
def build_tissue(n_agents: int, seed: int, backend: str) -> TissueModel:
    """The workload as a :class:`TissueModel` with ``n_agents`` BMSCs placed at random.

    Parameters
    ----------
    n_agents : int
        Number of cells (lattice side ``agent_workload.lattice_side(n_agents)``).
    seed : int
        Model seed.
    backend : {"numpy", "cupy"}

    Returns
    -------
    TissueModel
        Fields at t = 0 (SDF-1α a linear ramp along x from 0 to ``SDF_RAMP_MAX``,
        the others at their seeds/fields.csv initial values), cells placed.
    """
    side = W.lattice_side(n_agents)
    m = TissueModel(shape=(side, side, side), dx=W.DX_UM, fields=W.FIELDS, cell_types=[BMSC],
                    rules=RULES, parameters=PARAMETERS, capacity=W.CAPACITY, dt=W.DT_MIN,
                    seed=seed, backend=backend)
    xp = m.xp
    ramp = W.SDF_RAMP_MAX * (np.arange(side) / max(side - 1, 1))            # ng/mL along x
    m.fields.u[m.fields.index("SDF-1a")][...] = xp.asarray(ramp, dtype=m.fields.dtype)[:, None, None]
    m.seed_cells(BMSC, n_agents)
    return m


class _FieldTimer:
    """Wraps a model instance's ``fields.step``: synchronise, time, record each call (s)."""

    def __init__(self, model: TissueModel):
        self.calls: list[float] = []
        self._inner = model.fields.step
        self._sync = model.backend.synchronize
        model.fields.step = self  # instance attribute: shadows the bound method

    def __call__(self, *args, **kwargs):
        self._sync()
        t0 = time.perf_counter()
        out = self._inner(*args, **kwargs)
        self._sync()
        self.calls.append(time.perf_counter() - t0)
        return out


def run_tissue(n_agents: int, steps: int, seed: int, backend: str, budget_s: float) -> dict:
    """Build, warm up (1 step), then time ``steps`` full steps of the array model.

    Parameters
    ----------
    n_agents : int
    steps : int
        Timed steps requested.
    seed : int
    backend : {"numpy", "cupy"}
    budget_s : float
        If the warm-up step shows that ``steps`` steps would take longer, fewer
        are timed (at least one).

    Returns
    -------
    dict
        Timings, throughputs and the split (see the module docs).
    """
    t0 = time.perf_counter()
    m = build_tissue(n_agents, seed, backend)
    sync = m.backend.synchronize
    sync()
    build_s = time.perf_counter() - t0
    side = m.shape[0]
    log(f"[{backend}] {n_agents:,} agents on {side}^3: built in {build_s:.1f} s; warm-up step")
    timer = _FieldTimer(m)

    sync()
    t0 = time.perf_counter()
    m.step()
    sync()
    warmup_s = time.perf_counter() - t0
    n_timed = steps
    if warmup_s * steps > budget_s:
        n_timed = max(1, int(budget_s // max(warmup_s, 1e-9)))
        log(f"  warm-up step took {warmup_s:.2f} s: timing {n_timed} steps instead of {steps} "
            f"(budget {budget_s:.0f} s)")
    timer.calls.clear()

    x0 = to_numpy(m.populations["BMSC"].pos[:, 0]).astype(np.float64).mean()
    per_step = []
    for _ in range(n_timed):
        sync()
        t0 = time.perf_counter()
        m.step()
        sync()
        per_step.append(time.perf_counter() - t0)
    wall_s = float(sum(per_step))
    fields_s = float(sum(timer.calls))
    agent_s = wall_s - fields_s
    x1 = to_numpy(m.populations["BMSC"].pos[:, 0]).astype(np.float64).mean()
    n_end = m.count(BMSC)
    full = _rate(n_agents, n_timed, wall_s)
    agent = _rate(n_agents, n_timed, agent_s)
    log(f"  {n_timed} steps in {wall_s:.3f} s (fields {fields_s:.3f} s): "
        f"{full:.3g} agent-steps/s full, {agent:.3g} agent phase")
    res = {
        "implementation": "TissueModel",
        "backend": backend,
        "device": m.backend.device,
        "field_dtype": m.fields.dtype.name,
        "field_schemes": list(m.fields.schemes),
        "n_agents": n_agents,
        "n_agents_after": n_end,
        "lattice": list(m.shape),
        "n_voxels": m.n_voxels,
        "steps": n_timed,
        "steps_requested": steps,
        "build_s": build_s,
        "warmup_step_s": warmup_s,
        "wall_s": wall_s,
        "step_s": {"median": statistics.median(per_step), "min": min(per_step),
                   "max": max(per_step), "all": per_step},
        "fields_s": fields_s,
        "agent_phase_s": agent_s,
        "fields_fraction": fields_s / wall_s if wall_s > 0 else None,
        "agent_steps_per_s": full,
        "agent_phase_agent_steps_per_s": agent,
        "mean_dx_voxels_per_step": (x1 - x0) / n_timed,
    }
    del timer, m
    if backend == "cupy":
        import cupy as cp  # noqa: PLC0415

        cp.get_default_memory_pool().free_all_blocks()
    return res


# ------------------------------------------------------------- the baseline
@contextlib.contextmanager
def _time_field_steps(calls: list[float]):
    """Temporarily wrap ``FieldSolver.step`` (the class) to record how long each call takes.

    Each call's duration is appended to ``calls`` (NumPy backend: no synchronisation needed).
    """
    original = FieldSolver.step

    def timed(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            calls.append(time.perf_counter() - t0)

    FieldSolver.step = timed
    try:
        yield
    finally:
        FieldSolver.step = original


def run_baseline(n_agents: int, steps: int, seed: int) -> dict:
    """The plain-Mesa peer baseline (:func:`plain_mesa.run_plain_mesa`), with the split.

    Returns
    -------
    dict
        ``run_plain_mesa``'s result plus ``field_step_s`` (time inside
        ``FieldSolver.step`` during the timed steps), ``agent_phase_s`` and
        ``agent_phase_agent_steps_per_s``.
    """
    log(f"[plain-mesa] {n_agents:,} agents, 1 warm-up + {steps} timed steps")
    calls: list[float] = []
    with _time_field_steps(calls):
        res = plain_mesa.run_plain_mesa(n_agents, steps, seed=seed, warmup=1)
    field_step_s = float(sum(calls[-steps:])) if steps else 0.0
    agent_s = res["wall_s"] - field_step_s
    res.update({
        "seed": seed,
        "warmup_steps": 1,
        "field_step_s": field_step_s,
        "field_step_note": "time inside FieldSolver.step only; fields_s (from run_plain_mesa) "
                           "also includes building the exchange arrays and set_point_exchange",
        "agent_phase_s": agent_s,
        "agent_phase_agent_steps_per_s": _rate(n_agents, steps, agent_s),
    })
    log(f"  {res['agent_steps_per_s']:.3g} agent-steps/s full, "
        f"{res['agent_phase_agent_steps_per_s']:.3g} agent phase")
    return res


# ------------------------------------------------------- behaviour check
def behaviour_check(n_agents: int, steps: int, seed: int) -> dict:
    """Run both implementations (untimed, NumPy) and compare what they do.

    Compared after ``steps`` steps from the same kind of initial state (same
    lattice, same SDF-1α ramp, the same number of cells placed uniformly at
    random, by each implementation's own random numbers): the mean x
    displacement per step (chemotaxis up the ramp, with its standard error
    over cells) and the total amount of each field (concentration × µm³).
    """
    log(f"behaviour check: both implementations, {n_agents:,} agents, {steps} steps")
    pm = plain_mesa.PlainMesaModel(n_agents, seed=seed)
    agents = list(pm.agents)
    x0 = np.array([a.cell.coordinate[0] for a in agents], dtype=np.float64)
    for _ in range(steps):
        pm.step()
    dx_pm = np.array([a.cell.coordinate[0] for a in agents], dtype=np.float64) - x0
    tot_pm = {name: pm.fields.total_amount(name) for name in W.FIELDS}

    tm = build_tissue(n_agents, seed, "numpy")
    pop = tm.populations["BMSC"]
    ids0 = to_numpy(pop.ids).copy()
    x0 = to_numpy(pop.pos[:, 0]).astype(np.float64)
    for _ in range(steps):
        tm.step()
    ids1 = to_numpy(pop.ids)
    x1 = to_numpy(pop.pos[:, 0]).astype(np.float64)
    same = ids1.shape == ids0.shape and bool((ids1 == ids0).all())
    dx_tm = x1 - x0 if same else np.full(1, np.nan)
    tot_tm = {name: tm.fields.total_amount(name) for name in W.FIELDS}

    def drift(d):
        return {"mean_dx_voxels_per_step": float(d.mean() / steps),
                "stderr": float(d.std(ddof=1) / math.sqrt(d.size) / steps) if d.size > 1 else None}

    out = {
        "n_agents": n_agents, "steps": steps, "seed": seed,
        "plain_mesa": {"drift": drift(dx_pm), "field_totals": tot_pm, "n_agents_after": len(pm.agents)},
        "tissue_model": {"drift": drift(dx_tm), "field_totals": tot_tm,
                         "n_agents_after": tm.count(BMSC), "same_cells_same_order": same},
        "field_total_rel_diff": {n: (tot_tm[n] - tot_pm[n]) / abs(tot_pm[n]) if tot_pm[n] else None
                                 for n in W.FIELDS},
    }
    a, b = out["plain_mesa"]["drift"], out["tissue_model"]["drift"]
    if a["stderr"] and b["stderr"]:
        out["drift_difference_in_stderr"] = (b["mean_dx_voxels_per_step"] - a["mean_dx_voxels_per_step"]) \
            / math.hypot(a["stderr"], b["stderr"])
    log(f"  drift (voxels/step): plain Mesa {a['mean_dx_voxels_per_step']:.4f} ± {a['stderr']:.4f}, "
        f"TissueModel {b['mean_dx_voxels_per_step']:.4f} ± {b['stderr']:.4f}")
    return out


# --------------------------------------------------------------- profiling
def profile_step(n_agents: int, seed: int, backend: str, top: int = 25) -> dict:
    """Profile one step with cProfile (after a warm-up step) and list the project's top functions.

    Returns
    -------
    dict
        ``by_cumulative`` and ``by_tottime``: the ``top`` functions defined in
        ``abm/`` or ``kernels/`` (file:line(name), calls, tottime_s, cumtime_s),
        and ``step_s`` (wall time of the profiled step, profiler overhead included).
    """
    m = build_tissue(n_agents, seed, backend)
    m.step()
    m.backend.synchronize()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    m.step()
    m.backend.synchronize()
    prof.disable()
    step_s = time.perf_counter() - t0
    st = pstats.Stats(prof, stream=io.StringIO())
    rows = []
    for (fname, line, func), (cc, nc, tt, ct, _) in st.stats.items():
        rel = os.path.relpath(fname, REPO) if os.path.isabs(fname) else fname
        if rel.startswith(("abm" + os.sep, "kernels" + os.sep)):
            rows.append({"function": f"{rel}:{line}({func})", "calls": nc,
                         "tottime_s": tt, "cumtime_s": ct})
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(30)
    return {
        "n_agents": n_agents, "backend": backend, "step_s": step_s,
        "by_cumulative": sorted(rows, key=lambda r: -r["cumtime_s"])[:top],
        "by_tottime": sorted(rows, key=lambda r: -r["tottime_s"])[:top],
        "pstats_cumulative_top30": text.getvalue(),
    }


# --------------------------------------------------------------------- driver
def targets(report: dict) -> list[dict]:
    """The two targets, each with ``target_met`` (None when its size was not run)."""
    base = report["baseline"]["agent_steps_per_s"]
    out = []
    cpu = report["backends"].get("numpy", {})
    run = next((r for r in cpu.get("runs", []) if r["n_agents"] == TARGET_CPU_AGENTS), None)
    t = {"name": "cpu_1e5_100x_plain_mesa",
         "description": f"NumPy fallback at {TARGET_CPU_AGENTS:,} agents: full-step agent-steps/s "
                        f">= {TARGET_CPU_RATIO:g} x the plain-Mesa baseline's "
                        f"({BASELINE_AGENTS:,} agents)",
         "limit_ratio": TARGET_CPU_RATIO}
    if run is None:
        t.update(target_met=None, reason="numpy backend not run at this size")
    else:
        t.update(value_ratio=run["ratio_vs_plain_mesa"], agent_steps_per_s=run["agent_steps_per_s"],
                 baseline_agent_steps_per_s=base,
                 target_met=bool(run["ratio_vs_plain_mesa"] is not None
                                 and run["ratio_vs_plain_mesa"] >= TARGET_CPU_RATIO))
    out.append(t)
    gpu = report["backends"].get("cupy", {})
    run = next((r for r in gpu.get("runs", []) if r["n_agents"] == TARGET_GPU_AGENTS), None)
    t = {"name": "gpu_1e6_1e8_agent_steps_per_s",
         "description": f"CuPy (H100 class) at {TARGET_GPU_AGENTS:,} agents: full-step "
                        f"agent-steps/s >= {TARGET_GPU_AGENT_STEPS_PER_S:.0e}",
         "limit_agent_steps_per_s": TARGET_GPU_AGENT_STEPS_PER_S}
    if run is None:
        t.update(target_met=None, reason=gpu.get("reason", "cupy backend not run at this size")
                 if gpu.get("skipped") else "cupy backend not run at this size")
    else:
        t.update(agent_steps_per_s=run["agent_steps_per_s"],
                 gpu=(report["machine"].get("gpu") or {}).get("name"),
                 target_met=bool(run["agent_steps_per_s"] >= TARGET_GPU_AGENT_STEPS_PER_S))
    out.append(t)
    return out


def summary_table(report: dict) -> str:
    """A short human-readable table of the main numbers."""
    b = report["baseline"]
    lines = [f"plain-Mesa baseline ({b['n_agents']:,} agents, {b['steps']} steps, Mesa "
             f"{b['mesa_version']}): {b['agent_steps_per_s']:.3g} agent-steps/s full, "
             f"{b['agent_phase_agent_steps_per_s']:.3g} agent phase"]
    for name, res in report["backends"].items():
        if res.get("skipped"):
            lines.append(f"[{name}] skipped: {res['reason']}")
            continue
        jit = report.get("cpu_jit", {})
        lines.append(f"[{name}] {res['device']}" + (
            f" (CPU JIT path on, compile {jit['compile_s']:.2f} s, not timed)"
            if name == "numpy" and jit.get("enabled") else ""))
        lines.append(f"  {'agents':>10}{'lattice':>9}{'steps':>6}{'s/step':>9}{'fields':>8}"
                     f"{'agent-steps/s':>15}{'x Mesa':>9}{'agent phase/s':>15}{'x Mesa':>9}")
        for r in res["runs"]:
            lines.append(
                f"  {r['n_agents']:>10,}{str(r['lattice'][0]) + '^3':>9}{r['steps']:>6}"
                f"{r['wall_s'] / r['steps']:>9.4f}{r['fields_fraction']:>8.0%}"
                f"{r['agent_steps_per_s']:>15.3g}{r['ratio_vs_plain_mesa'] or float('nan'):>9.1f}"
                f"{r['agent_phase_agent_steps_per_s']:>15.3g}"
                f"{r['agent_phase_ratio_vs_plain_mesa'] or float('nan'):>9.1f}")
    bc = report.get("behaviour_check")
    if bc:
        a, t = bc["plain_mesa"]["drift"], bc["tissue_model"]["drift"]
        lines.append(f"behaviour check ({bc['n_agents']:,} agents, {bc['steps']} steps): x drift "
                     f"{a['mean_dx_voxels_per_step']:.4f} ± {a['stderr']:.4f} (Mesa) vs "
                     f"{t['mean_dx_voxels_per_step']:.4f} ± {t['stderr']:.4f} voxels/step; field totals "
                     + ", ".join(f"{n} {d:+.2%}" for n, d in bc["field_total_rel_diff"].items()
                                 if d is not None))
    for tg in report["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "not run"}[tg["target_met"]]
        lines.append(f"target {tg['name']}: {verdict}")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=("numpy", "cupy", "all"), default=None,
                   help="default: numpy, plus cupy when CuPy sees a CUDA GPU")
    p.add_argument("--sizes", default=None,
                   help="comma-separated agent counts, e.g. 1e4,1e5 (default 1e4,1e5,1e6 on "
                        "numpy, 1e4,1e5,1e6,1e7 on cupy; 1e4,1e5 with --quick)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per size (default 5; 3 with --quick)")
    p.add_argument("--baseline-steps", type=int, default=None,
                   help="timed steps of the plain-Mesa baseline (default: --steps; 2 with --quick)")
    p.add_argument("--budget-s", type=float, default=300.0,
                   help="largest timed wall time per size; fewer steps are timed if the warm-up "
                        "step says --steps would exceed it (default 300)")
    p.add_argument("--seed", type=int, default=SEED, help="model seed")
    p.add_argument("--no-check", action="store_true", help="skip the untimed behaviour check")
    p.add_argument("--profile", type=float, default=None, metavar="N",
                   help="also cProfile one step at N agents (first backend run) into the JSON")
    p.add_argument("--out", default=None,
                   help="JSON path (default benchmarks/results/agents-<backend>[-quick].json)")
    p.add_argument("--cpu-jit", choices=("auto", "on", "off"), default=None,
                   help="CPU fast path (kernels/cpu_jit.py, numba): sets ABM_CPU_JIT for this run "
                        "(default: the environment's, else auto = on when numba imports)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1e4 and 1e5 agents, 3 steps, baseline 2 steps")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from fields import backends_to_run  # noqa: PLC0415 (benchmarks/fields.py)

    args = parse_args(argv)
    t_start = time.perf_counter()
    backends, tag, cupy_ok, cupy_reason = backends_to_run(args.backend)
    steps = args.steps if args.steps is not None else (3 if args.quick else 5)
    base_steps = args.baseline_steps if args.baseline_steps is not None else (2 if args.quick else steps)
    if steps < 1 or base_steps < 1:
        raise SystemExit("--steps and --baseline-steps must be >= 1")
    explicit_sizes = [int(float(s)) for s in args.sizes.split(",") if s.strip()] if args.sizes else None
    default_name = f"agents-{tag}{'-quick' if args.quick else ''}.json"
    out_path = Path(args.out) if args.out else RESULTS_DIR / default_name

    report = {
        "benchmark": "benchmarks/agents.py",
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "quick": bool(args.quick),
        "steps": steps,
        "seed": args.seed,
        "workload": {
            "spec": "benchmarks/agent_workload.py",
            "dt_min": W.DT_MIN, "dx_um": W.DX_UM, "capacity": W.CAPACITY, "density": W.DENSITY,
            "fields": list(W.FIELDS), "sdf_ramp_max": W.SDF_RAMP_MAX,
            "rules": [list(r) for r in RULES], "parameters": PARAMETERS,
            "zeroed_or_pinned_defaults": {
                "division": 0.0, "death": 0.0, "death_release:exosome": 0.0,
                "initial:CXCR4": 1.0, "gain:CXCR4": 0.0, "loss:CXCR4": 0.0},
        },
        "machine": machine_info(),
        "backends": {},
    }

    if args.cpu_jit is not None:
        os.environ["ABM_CPU_JIT"] = args.cpu_jit
    from kernels import cpu_jit  # noqa: PLC0415

    jit_on = cpu_jit.enabled()
    # compile (or load from numba's cache) before anything is timed; reported, not charged to steps
    report["cpu_jit"] = {"available": cpu_jit.AVAILABLE, "enabled": jit_on,
                         "reason": cpu_jit.REASON or None,
                         "compile_s": cpu_jit.warm_up() if jit_on else 0.0}
    log(f"CPU JIT (numba) path: {'on' if jit_on else 'off'}"
        + (f", compiled/loaded in {report['cpu_jit']['compile_s']:.2f} s" if jit_on else ""))
    report["baseline"] = run_baseline(BASELINE_AGENTS, base_steps, args.seed)
    base_full = report["baseline"]["agent_steps_per_s"]
    base_agent = report["baseline"]["agent_phase_agent_steps_per_s"]

    if "cupy" not in backends:
        report["backends"]["cupy"] = {"skipped": True,
                                      "reason": "not requested" if cupy_ok else cupy_reason}
    for b in backends:
        if b == "cupy" and not cupy_ok:
            log(f"cupy backend skipped: {cupy_reason}")
            report["backends"][b] = {"skipped": True, "reason": cupy_reason}
            continue
        sizes = explicit_sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES[b])
        runs = []
        for n in sizes:
            r = run_tissue(n, steps, args.seed, b, args.budget_s)
            r["ratio_vs_plain_mesa"] = _ratio(r["agent_steps_per_s"], base_full)
            r["agent_phase_ratio_vs_plain_mesa"] = _ratio(r["agent_phase_agent_steps_per_s"], base_agent)
            runs.append(r)
        report["backends"][b] = {"skipped": False, "device": runs[0]["device"] if runs else b,
                                 "sizes": sizes, "runs": runs}

    if not args.no_check:
        report["behaviour_check"] = behaviour_check(BASELINE_AGENTS, 2 if args.quick else 5, args.seed)
    if args.profile:
        b = next((x for x in backends if not report["backends"][x].get("skipped")), None)
        if b is not None:
            log(f"profiling one step at {int(args.profile):,} agents on {b}")
            report["profile"] = profile_step(int(args.profile), args.seed, b)

    report["targets"] = targets(report)
    report["total_wall_s"] = time.perf_counter() - t_start

    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    print(summary_table(report))
    if "profile" in report:
        pr = report["profile"]
        print(f"profile of one step at {pr['n_agents']:,} agents ({pr['step_s']:.3f} s with the "
              f"profiler), abm/ and kernels/ functions:")
        print(f"  {'cumtime s':>10}{'tottime s':>10}{'calls':>7}  function")
        for r in pr["by_cumulative"][:15]:
            print(f"  {r['cumtime_s']:>10.4f}{r['tottime_s']:>10.4f}{r['calls']:>7}  {r['function']}")
    print(f"total wall time {report['total_wall_s']:.1f} s; results written to {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
