#!/usr/bin/env python
"""Benchmark of the field engine: speed, memory bandwidth and accuracy.

Run from the repository root::

    python benchmarks/fields.py                    # numpy, plus cupy when a GPU is usable
    python benchmarks/fields.py --backend numpy    # the CPU fallback only
    python benchmarks/fields.py --quick            # smoke run (small lattices, few repetitions)

Results are printed (a short table on stdout, progress on stderr) and written
as JSON (default ``benchmarks/results/fields-<backend>.json``). The script
always exits 0 when it ran: missing a target is a measurement, not an error;
the JSON says so with an explicit ``meets_target`` boolean per target.

What is measured
----------------
1. **Copy bandwidth** (the reference for "fraction of the device's memory
   bandwidth"): a large same-device copy, timed in the same run. On the GPU a
   1 GiB ``cupy.copyto`` (and, for information, a ``cudaMemcpy`` device to
   device) timed with CUDA events; on the CPU a 512 MiB ``numpy.copyto``.
   Bytes moved = 2 × array size (read + write); the larger of the GPU figures is
   the reference.

2. **The BioFVM problem** (PhysiCell's solver, implicit LOD on 2 threads, takes
   55 ms per step on a 2-core machine for this problem): a 128×128×64 lattice of
   20 µm voxels, 4 species (D = 4200, 1800, 1620, 60 µm²/min; decay 0.018,
   0.0206, 0.0116, 0.001 /min), 10,000 point agents at seeded random voxels,
   each secreting toward a target and taking up every species. Timed with the
   ``auto`` scheme (spectral here) at the default cell step
   (:data:`abm.DEFAULT_CELL_STEP_MIN`, 1 min) and at BioFVM's 3%-accuracy step
   of 0.1 min, and with the explicit scheme at 1 min for information. Reported:
   wall time per simulated minute (``s_per_sim_min``), voxel-species updates per
   second. BioFVM's own figures (0.055 s per step, 0.55 s per simulated minute at
   its 3%-accurate 0.1-min step) were measured side by side when issue 15 was
   filed; they are recorded for information and no ratio is computed from them,
   since they were not measured in this run.
   Target (NumPy fallback): ``s_per_sim_min <= 0.55`` at the step it uses.

2b. **Exchange accuracy of that same problem** (:func:`exchange_accuracy`): the
   agents' own-voxel concentrations and the totals at dt = 1 and 2 min against a
   0.05-min reference run of the same problem. Target: within 5 % and 0.5 %.

3. **Accuracy at the step used** (one species, D = 4200 µm²/min, decay 0.018
   /min, 100³ voxels of 20 µm, a constant point release at the centre): the
   field is stepped at 1 min until steady (the largest relative change per step
   over the compared voxels falls below a tolerance), then every voxel from 3 to
   30 voxels from the source is compared with the analytic steady profile
   ``q exp(-r/L) / (4 π D r)``, ``L = sqrt(D/decay)``, summed over the source and
   its mirror images in the no-flux faces (faces at -0.5 and n-0.5 in voxel
   units, so images at ``c + 2mn`` and ``-1 - c + 2mn``, m = -4..4 per axis).
   Target: max |relative error| <= 3%. The explicit scheme is not time-stepped
   to steady state on the CPU (too slow: its cost is estimated and recorded);
   instead its fixed point, which is the same for every sub-step length, is
   solved for directly with conjugate gradients using the engine's own
   sub-step as the operator, and compared the same way (information only).

4. **Throughput** on 128³ and 256³ lattices (4 species, no sources) for both
   schemes: wall time of a full step at 1 min (median over repetitions after a
   warm-up, the device synchronised before each clock read), voxel-species
   updates per second and wall time per simulated minute. For the explicit
   scheme, one sub-step of one species (``ExplicitGeometry.substep``: one fused
   CUDA kernel on the GPU) is timed alone and converted to an effective
   bandwidth with bytes = 2 × voxels × itemsize (read u, write out: the
   minimum traffic of the update), and to a fraction of the copy bandwidth.
   Target (GPU): fraction >= 0.70 on the largest lattice whose working set
   exceeds twice the L2 cache (smaller ones are served partly from cache and reported
   for information).

Units are in the names: ``_s`` seconds, ``_ms`` milliseconds, ``_min`` minutes
of simulated time, ``_GBps`` 10⁹ bytes per second, ``_um2_per_min`` µm²/min.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from abm import DEFAULT_CELL_STEP_MIN, FieldSolver, Species
from kernels.backend import cupy_available, get_backend, to_numpy

# --------------------------------------------------------------------- constants
REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks" / "results"

#: The four substrates of the BioFVM comparison: (name, D µm²/min, decay 1/min).
SPECIES_4 = (
    ("s1", 4200.0, 0.018),
    ("s2", 1800.0, 0.0206),
    ("s3", 1620.0, 0.0116),
    ("s4", 60.0, 0.001),
)
DX_UM = 20.0

#: BioFVM reference on a 2-core machine, 128×128×64 voxels × 4 substrates.
BIOFVM_S_PER_STEP = 0.055
BIOFVM_DEFAULT_DT_MIN = 0.01
BIOFVM_3PCT_DT_MIN = 0.1
BIOFVM_S_PER_SIM_MIN_AT_3PCT = BIOFVM_S_PER_STEP / BIOFVM_3PCT_DT_MIN  # 0.55 s

#: Targets.
TARGET_CPU_S_PER_SIM_MIN = 0.55
TARGET_ACCURACY_REL = 0.03
TARGET_GPU_BANDWIDTH_FRACTION = 0.70

#: Agent parameters of the BioFVM problem (every species).
AGENT_SECRETION_PER_MIN = 0.1
AGENT_TARGET = 1.0
AGENT_UPTAKE_PER_MIN = 0.01
SEED = 20261121

GIB = 1 << 30
MIB = 1 << 20


# ----------------------------------------------------------------------- helpers
def log(msg: str) -> None:
    """Progress line on stderr (stdout is kept for the result table)."""
    print(f"[fields-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def species4() -> list[Species]:
    """The four species of the benchmark problem."""
    return [Species(n, diffusion=d, decay=k) for n, d, k in SPECIES_4]


def _stats(times_s: list[float]) -> dict:
    """Median / min / max / count of a list of durations (s)."""
    return {
        "median_s": float(statistics.median(times_s)),
        "min_s": float(min(times_s)),
        "max_s": float(max(times_s)),
        "n_timed": len(times_s),
    }


def time_calls(fn: Callable[[], object], sync: Callable[[], None], reps: int,
               budget_s: float) -> list[float]:
    """Wall time of ``reps`` calls of ``fn`` (fewer if ``budget_s`` runs out; at least one).

    The device is synchronised before each clock read, so queued GPU work is
    charged to the call that queued it.

    Parameters
    ----------
    fn : callable
        The work to time (already warmed up by the caller).
    sync : callable
        Waits for queued device work (a no-op on the CPU).
    reps : int
        Largest number of timed calls.
    budget_s : float
        Stop after the call during which this much wall time has been spent.

    Returns
    -------
    list of float
        Duration of each call, s.
    """
    out: list[float] = []
    t_begin = time.perf_counter()
    for _ in range(max(1, reps)):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - t0)
        if time.perf_counter() - t_begin > budget_s:
            break
    return out


def gpu_event_times(cp, fn: Callable[[], object], inner: int, reps: int) -> list[float]:
    """Per-call duration (s) of ``fn`` on the GPU, timed with CUDA events.

    Each sample is ``inner`` back-to-back calls between two events, divided by
    ``inner``; ``reps`` samples are returned.
    """
    start, end = cp.cuda.Event(), cp.cuda.Event()
    out = []
    for _ in range(reps):
        start.record()
        for _ in range(inner):
            fn()
        end.record()
        end.synchronize()
        out.append(cp.cuda.get_elapsed_time(start, end) / 1e3 / inner)
    return out


def _free_gpu(backend) -> None:
    """Return cached CuPy blocks to the device between sections."""
    if backend.is_gpu:
        backend.xp.get_default_memory_pool().free_all_blocks()


# -------------------------------------------------------------------- machine
def machine_info() -> dict:
    """Platform, CPU, library versions and (when usable) GPU of this run."""
    import scipy  # noqa: PLC0415

    info = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity_count": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": None,
        "memory_total_GiB": None,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "cupy": None,
        "git_commit": None,
    }
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal"):
                    info["memory_total_GiB"] = round(int(line.split()[1]) * 1024 / GIB, 1)
                    break
    except OSError:
        pass
    try:
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
            timeout=10).stdout.strip() or None
    except Exception:  # no git, or no commit yet
        pass
    ok, reason = cupy_available()
    info["cupy_usable"] = ok
    info["cupy_reason"] = reason
    if ok:
        import cupy as cp  # noqa: PLC0415

        info["cupy"] = cp.__version__
        info["gpu"] = gpu_info(cp)
    return info


def gpu_info(cp) -> dict:
    """Name, memory, L2 size and nominal bandwidth of the current CUDA device."""
    dev = cp.cuda.Device()
    out = {"id": dev.id}
    try:
        props = cp.cuda.runtime.getDeviceProperties(dev.id)
        out["name"] = props.get("name", b"").decode() if isinstance(props.get("name"), bytes) else props.get("name")
        out["total_memory_GiB"] = round(props.get("totalGlobalMem", 0) / GIB, 2)
        out["compute_capability"] = f"{props.get('major')}.{props.get('minor')}"
    except Exception as exc:  # pragma: no cover - cosmetic
        out["props_error"] = str(exc)
    try:
        attrs = dev.attributes
        out["l2_cache_bytes"] = int(attrs.get("L2CacheSize", 0)) or None
        clock_khz = attrs.get("MemoryClockRate")
        bus_bits = attrs.get("GlobalMemoryBusWidth")
        if clock_khz and bus_bits:  # DDR: two transfers per clock
            out["nominal_bandwidth_GBps"] = 2 * clock_khz * 1e3 * bus_bits / 8 / 1e9
    except Exception:  # pragma: no cover - cosmetic
        pass
    try:
        out["cuda_runtime"] = cp.cuda.runtime.runtimeGetVersion()
        out["cuda_driver"] = cp.cuda.runtime.driverGetVersion()
    except Exception:  # pragma: no cover - cosmetic
        pass
    return out


# ---------------------------------------------------------- 1. copy bandwidth
def copy_bandwidth(backend, quick: bool) -> dict:
    """Bandwidth of a large same-device copy, the reference for bandwidth fractions.

    Parameters
    ----------
    backend : kernels.backend.Backend
        Where to copy.
    quick : bool
        Smaller array and fewer repetitions.

    Returns
    -------
    dict
        ``reference_GBps`` (bytes = 2 × array size per copy: read + write) and
        the individual measurements.
    """
    xp = backend.xp
    if backend.is_gpu:
        cp = xp
        nbytes = (64 * MIB) if quick else GIB
        n = nbytes // 4
        src = cp.ones(n, dtype=cp.float32)
        dst = cp.zeros(n, dtype=cp.float32)
        reps = 5 if quick else 20

        def kernel_copy():
            cp.copyto(dst, src)

        def memcpy():
            dst.data.copy_from_device_async(src.data, src.nbytes)

        res = {"method": "cupy.copyto (copy kernel) and cudaMemcpyAsync device-to-device, "
                         "CUDA events", "array_MiB": nbytes / MIB, "bytes_per_copy": 2 * nbytes}
        for label, fn in (("copyto", kernel_copy), ("memcpy_d2d", memcpy)):
            fn()
            backend.synchronize()
            t = gpu_event_times(cp, fn, inner=1, reps=reps)
            st = _stats(t)
            res[label] = {**st, "GBps": 2 * nbytes / st["median_s"] / 1e9}
        if not bool((dst[:: max(1, n // 1000)] == 1).all()):
            raise RuntimeError("device copy produced wrong data")
        res["reference_GBps"] = max(res["copyto"]["GBps"], res["memcpy_d2d"]["GBps"])
        res["reference"] = "the larger of copyto and memcpy_d2d"
        del src, dst
        _free_gpu(backend)
        return res
    nbytes = (64 * MIB) if quick else 512 * MIB
    n = nbytes // 8
    src = np.ones(n, dtype=np.float64)
    dst = np.zeros(n, dtype=np.float64)  # pages touched: no first-touch faults in the timing
    np.copyto(dst, src)
    t = time_calls(lambda: np.copyto(dst, src), lambda: None, reps=5 if quick else 15, budget_s=30)
    st = _stats(t)
    res = {"method": "numpy.copyto of a float64 array, perf_counter", "array_MiB": nbytes / MIB,
           "bytes_per_copy": 2 * nbytes, "copyto": {**st, "GBps": 2 * nbytes / st["median_s"] / 1e9}}
    res["reference_GBps"] = res["copyto"]["GBps"]
    res["reference"] = "copyto"
    return res


# ----------------------------------------------------- 2. the BioFVM problem
def exchange_accuracy(backend, dtype, quick: bool) -> dict:
    """Accuracy of the timed BioFVM problem itself: its cells' own voxels and totals.

    The problem of :func:`biofvm_problem` (4 species, agents secreting toward a
    target and taking up) is run for ``T_ACC_MIN`` simulated minutes at dt = 1 and
    2 min and at a reference step of 0.05 min (the coupling converges: 0.1 and 0.01
    min agree to ~1e-7 on a smaller lattice, see tests/fields/test_exchange_coupling.py).
    Reported per species and dt: the median and largest relative error of the
    concentration at the agents' voxels (what their rules read), and the relative
    error of the total amount. Target (issue 15, item 1): own voxels within 5 %,
    totals within 0.5 %.
    """
    shape = (32, 32, 16) if quick else (128, 128, 64)
    n_agents = 500 if quick else 10_000
    t_acc = 4.0 if quick else 10.0
    rng = np.random.default_rng(SEED)
    voxels = np.column_stack([rng.integers(0, n, size=n_agents) for n in shape])
    uvox = np.unique(voxels, axis=0)

    def run(dt):
        f = FieldSolver(shape, DX_UM, species4(), backend=backend, dtype=dtype, scheme="auto")
        for n, _, _ in SPECIES_4:
            f.set_point_exchange(n, voxels, secretion_rate=AGENT_SECRETION_PER_MIN,
                                 target=AGENT_TARGET, uptake_rate=AGENT_UPTAKE_PER_MIN)
        for _ in range(int(round(t_acc / dt))):
            f.step(dt)
        out = {}
        for n, _, _ in SPECIES_4:
            u = f.field_numpy(n)
            out[n] = (u[tuple(uvox.T)].astype(np.float64), float(u.sum(dtype=np.float64)))
        return out

    log(f"exchange accuracy on the BioFVM problem {shape}: reference dt = 0.05 min, "
        f"{t_acc:g} simulated min")
    ref = run(0.05)
    rows = []
    for dt in (1.0, 2.0):
        got = run(dt)
        for n, _, _ in SPECIES_4:
            own, tot = got[n]
            r_own, r_tot = ref[n]
            err = np.abs(own / r_own - 1.0)
            rows.append({"species": n, "dt_min": dt, "own_voxel_median_rel_error": float(np.median(err)),
                         "own_voxel_max_rel_error": float(err.max()),
                         "total_rel_error": float(abs(tot / r_tot - 1.0))})
    worst_own = max(r["own_voxel_max_rel_error"] for r in rows)
    worst_tot = max(r["total_rel_error"] for r in rows)
    return {"shape": list(shape), "n_agents": n_agents, "simulated_min": t_acc,
            "reference_dt_min": 0.05, "rows": rows, "worst_own_voxel_rel_error": worst_own,
            "worst_total_rel_error": worst_tot,
            "meets_target": bool(worst_own <= 0.05 and worst_tot <= 0.005)}


def biofvm_problem(backend, dtype, quick: bool) -> dict:
    """Time the BioFVM comparison problem (4 species, 10,000 secreting agents).

    Parameters
    ----------
    backend : Backend
    dtype : str or None
        Field precision (None: the engine's default for the backend).
    quick : bool
        A 32×32×16 lattice with 500 agents and few steps instead.

    Returns
    -------
    dict
        The problem, and one entry per (scheme, dt) run.
    """
    shape = (32, 32, 16) if quick else (128, 128, 64)
    n_agents = 500 if quick else 10_000
    rng = np.random.default_rng(SEED)
    voxels = np.column_stack([rng.integers(0, n, size=n_agents) for n in shape])
    n_vox = int(np.prod(shape))
    problem = {
        "shape": list(shape), "dx_um": DX_UM, "n_voxels": n_vox,
        "species": [{"name": n, "D_um2_per_min": d, "decay_per_min": k} for n, d, k in SPECIES_4],
        "n_agents": n_agents, "n_agent_voxels": int(np.unique(voxels, axis=0).shape[0]),
        "agent_secretion_per_min": AGENT_SECRETION_PER_MIN, "agent_target": AGENT_TARGET,
        "agent_uptake_per_min": AGENT_UPTAKE_PER_MIN, "seed": SEED,
        "biofvm_reference": {
            "s_per_step": BIOFVM_S_PER_STEP,
            "s_per_sim_min_at_default_dt": BIOFVM_S_PER_STEP / BIOFVM_DEFAULT_DT_MIN,
            "default_dt_min": BIOFVM_DEFAULT_DT_MIN,
            "s_per_sim_min_at_3pct_dt": BIOFVM_S_PER_SIM_MIN_AT_3PCT,
            "dt_for_3pct_min": BIOFVM_3PCT_DT_MIN,
            "note": "NOT measured in this run: BioFVM 1.14.2's implicit LOD on 2 threads, timed "
                    "side by side on a 2-core machine when issue 15 was filed (128x128x64 voxels x "
                    "4 substrates); no ratio to BioFVM is computed from these figures",
        },
    }

    def build(scheme):
        f = FieldSolver(shape, DX_UM, species4(), backend=backend, dtype=dtype, scheme=scheme)
        for n, _, _ in SPECIES_4:
            f.set_point_exchange(n, voxels, secretion_rate=AGENT_SECRETION_PER_MIN,
                                 target=AGENT_TARGET, uptake_rate=AGENT_UPTAKE_PER_MIN)
        return f

    runs = []
    plan = [("auto", DEFAULT_CELL_STEP_MIN, 3 if quick else 7, 60.0),
            ("auto", BIOFVM_3PCT_DT_MIN, 3 if quick else 10, 60.0),
            ("explicit", DEFAULT_CELL_STEP_MIN, 2 if quick else 3, 30.0)]
    for scheme, dt, reps, budget in plan:
        f = build(scheme)
        log(f"BioFVM problem {shape}, scheme={scheme}, dt={dt} min: warm-up")
        f.step(dt)  # warm-up: buffers, coefficient cache, kernel compilation
        sync = f.backend.synchronize
        times = time_calls(lambda f=f, dt=dt: f.step(dt), sync, reps, budget)
        st = _stats(times)
        s_per_min = st["median_s"] / dt
        run = {
            "scheme_requested": scheme,
            "schemes": dict(zip([s.name for s in f.species], f.schemes)),
            "dt_min": dt,
            "substeps_per_step": f.substeps(dt),
            "step": st,
            "s_per_sim_min": s_per_min,
            "voxel_species_updates_per_s": n_vox * len(SPECIES_4) / st["median_s"],
            "within_0p55_s_per_sim_min": bool(s_per_min <= TARGET_CPU_S_PER_SIM_MIN),
            "describe": f.describe(dt),
        }
        if scheme == "explicit":
            nsub = sum(run["substeps_per_step"].values())
            run["voxel_species_substep_updates_per_s"] = n_vox * nsub / st["median_s"]
        log(f"  median step {st['median_s'] * 1e3:.1f} ms -> {s_per_min:.3f} s per simulated min")
        runs.append(run)
        f = None  # release the fields before the next section
        _free_gpu(backend)
    return {"problem": problem, "runs": runs}


# ----------------------------------------------------------- 3. accuracy check
def analytic_point_source(points_vox: np.ndarray, centre, shape, dx: float, D: float,
                          decay: float, q: float, images_per_side: int = 4) -> np.ndarray:
    """Steady concentration of a constant point release with decay in a no-flux box.

    The free-space solution ``q exp(-r/L) / (4 π D r)``, ``L = sqrt(D/decay)``,
    summed over the source and its mirror images. With cell-centred voxels
    ``0..n-1`` the no-flux faces lie at ``-0.5`` and ``n - 0.5`` (voxel units), so
    along an axis the images of a source at ``c`` lie at ``c + 2mn`` and
    ``-1 - c + 2mn``.

    Parameters
    ----------
    points_vox : float array (m, 3)
        Voxel coordinates where to evaluate.
    centre : sequence of 3 int
        Source voxel.
    shape : sequence of 3 int
        Box size, voxels.
    dx : float
        Voxel edge, µm.
    D, decay, q : float
        µm²/min, 1/min and amount/min.
    images_per_side : int
        ``m`` runs over ``-images_per_side .. images_per_side`` on every axis.

    Returns
    -------
    ndarray (m,)
        Concentration (amount/µm³).
    """
    L_um = math.sqrt(D / decay)
    m = np.arange(-images_per_side, images_per_side + 1)
    axes = [np.concatenate([c + 2 * m * n, -1 - c + 2 * m * n]).astype(np.float64)
            for c, n in zip(centre, shape)]
    P = np.asarray(points_vox, dtype=np.float64)
    # squared offsets per axis: (m_points, n_images_axis)
    d2 = [(P[:, a, None] - axes[a][None, :]) ** 2 for a in range(3)]
    total = np.zeros(P.shape[0])
    buf = np.empty((P.shape[0], axes[2].size))
    for i in range(axes[0].size):  # vectorised over the y and z images
        dxy = d2[0][:, i, None] + d2[1]  # (m, ny_images)
        for j in range(axes[1].size):
            np.add(dxy[:, j, None], d2[2], out=buf)
            np.sqrt(buf, out=buf)
            buf *= dx  # r in µm
            total += (np.exp(-buf / L_um) / buf).sum(axis=1)
    return q * total / (4 * math.pi * D)


def _compared_voxels(centre, r_min: float, r_max: float):
    """Integer voxels with r_min <= |v - centre| <= r_max (voxel units), and their r."""
    R = int(math.ceil(r_max))
    g = np.arange(-R, R + 1)
    off = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    r = np.linalg.norm(off, axis=1)
    keep = (r >= r_min) & (r <= r_max)
    return off[keep] + np.asarray(centre), r[keep]


def _error_summary(num: np.ndarray, exact: np.ndarray, pts: np.ndarray, r: np.ndarray,
                   centre) -> dict:
    """Max/mean relative error, where the worst voxel is, and on-axis samples."""
    rel = num / exact - 1.0
    iw = int(np.argmax(np.abs(rel)))
    on_axis = {}
    c = np.asarray(centre)
    for k in (3, 4, 5, 10, 20, 30):
        hit = np.flatnonzero(np.all(pts == c + np.array([k, 0, 0]), axis=1))
        if hit.size:
            on_axis[str(k)] = float(rel[hit[0]])
    diag = {}
    for k in (2, 5, 10, 17):  # (k, k, k): r = k√3
        hit = np.flatnonzero(np.all(pts == c + k, axis=1))
        if hit.size:
            diag[f"{k * math.sqrt(3):.2f}"] = float(rel[hit[0]])
    return {
        "max_abs_rel_error": float(np.abs(rel).max()),
        "mean_abs_rel_error": float(np.abs(rel).mean()),
        "worst_voxel_offset": [int(v) for v in pts[iw] - c],
        "worst_voxel_r_vox": float(r[iw]),
        "worst_voxel_signed_rel_error": float(rel[iw]),
        "rel_error_on_x_axis_by_r_vox": on_axis,
        "rel_error_on_diagonal_by_r_vox": diag,
    }


def accuracy_check(backend, dtype, quick: bool) -> dict:
    """Steady point-source profile vs the analytic one, at the step the timing used.

    Parameters
    ----------
    backend : Backend
    dtype : str or None
    quick : bool
        A 40³ box, r from 3 to 12 voxels.

    Returns
    -------
    dict
        The setup, convergence record, error summary, and the explicit scheme's
        fixed-point comparison (NumPy only) or the reason it was skipped.
    """
    n = 40 if quick else 100
    shape = (n, n, n)
    c = n // 2
    centre = (c, c, c)
    D, decay, q = 4200.0, 0.018, 1.0
    r_min, r_max = 3.0, (12.0 if quick else 30.0)
    dt = DEFAULT_CELL_STEP_MIN
    pts, r = _compared_voxels(centre, r_min, r_max)
    if (pts.min() < 0) or (pts.max() >= n):
        raise ValueError("compared voxels leave the box")
    flat = np.ravel_multi_index(pts.T, shape)

    log(f"accuracy: analytic profile at {len(pts)} voxels ({18**3} image sources)")
    t0 = time.perf_counter()
    exact = analytic_point_source(pts, centre, shape, DX_UM, D, decay, q)
    t_analytic = time.perf_counter() - t0

    f = FieldSolver(shape, DX_UM, [Species("probe", D, decay)], backend=backend, dtype=dtype,
                    scheme="auto")
    f.set_point_exchange("probe", [list(centre)], release=q)
    xp = f.xp
    idx = xp.asarray(flat)
    eps = float(np.finfo(f.dtype).eps)
    tol = max(1e-7, 100 * eps)  # float32 round-off alone is ~1e-7 relative
    max_steps = 1000 if quick else 3000
    log(f"accuracy: stepping {shape} at dt = {dt} min ({f.schemes[0]}) until the relative "
        f"change per step < {tol:g} (at most {max_steps} steps)")
    prev = f.u[0].reshape(-1)[idx]
    history = []
    converged = False
    t0 = time.perf_counter()
    try:
        from tqdm import tqdm  # noqa: PLC0415

        bar = tqdm(total=max_steps, desc="steady state", file=sys.stderr, disable=None,
                   leave=False)
    except ImportError:  # pragma: no cover
        bar = None
    change = math.inf
    changes: list[float] = []
    stalled = False
    for k in range(1, max_steps + 1):
        f.step(dt)
        cur = f.u[0].reshape(-1)[idx]
        change = float(xp.max(xp.abs(cur - prev) / cur))
        prev = cur
        if bar is not None:
            bar.update(1)
            if k % 50 == 0:
                bar.set_postfix(change=f"{change:.2e}")
        if k in (1, 10, 100) or k % 250 == 0:
            history.append({"step": k, "time_min": f.time, "max_rel_change_per_step": change})
        changes.append(change)
        if change < tol:
            converged = True
            break
        # float32 on a GPU: round-off may hold the change per step above ``tol``;
        # stop once it no longer falls (it falls by e^{-0.9} per 50 steps while
        # the field still relaxes) and is small
        if (k >= 200 and change < 1e-4
                and min(changes[-50:]) > 0.8 * min(changes[-100:-50])):
            converged = stalled = True
            break
    if bar is not None:
        bar.close()
    t_steady = time.perf_counter() - t0
    n_steps = f.step_count
    num = np.asarray(to_numpy(f.u[0].reshape(-1)[idx]), dtype=np.float64)
    summary = _error_summary(num, exact, pts, r, centre)
    log(f"accuracy: {n_steps} steps in {t_steady:.1f} s, converged={converged}, "
        f"max |rel err| = {summary['max_abs_rel_error']:.4%}")

    # The exact steady state of the same discrete operator: one step much longer
    # than 1/decay (exp(-decay*dt) underflows to 0 for every mode).
    g = FieldSolver(shape, DX_UM, [Species("probe", D, decay)], backend=backend, dtype=dtype,
                    scheme="auto")
    g.set_point_exchange("probe", [list(centre)], release=q)
    g.step(1.0e5)
    discrete = np.asarray(to_numpy(g.u[0].reshape(-1)[idx]), dtype=np.float64)
    # the CG solve of the explicit fixed point starts from it
    spectral_steady_full = None if backend.is_gpu else np.array(g.u[0], dtype=np.float64)
    g = None

    result = {
        "setup": {
            "shape": list(shape), "dx_um": DX_UM, "D_um2_per_min": D, "decay_per_min": decay,
            "L_um": math.sqrt(D / decay), "release_amount_per_min": q, "source_voxel": list(centre),
            "r_min_vox": r_min, "r_max_vox": r_max, "n_compared_voxels": int(len(pts)),
            "analytic": "q exp(-r/L)/(4 pi D r) summed over the source and its images "
                        "c+2mn, -1-c+2mn per axis, m=-4..4 (18^3 sources)",
            "analytic_eval_s": t_analytic,
        },
        "scheme": f.schemes[0],
        "dtype": f.dtype.name,
        "dt_min": dt,
        "convergence": {
            "criterion": "max over the compared voxels of |u_k - u_(k-1)| / u_k",
            "tolerance": tol, "converged": converged, "stalled_at_round_off": stalled,
            "estimated_remaining_drift_rel": change / (decay * dt), "steps": n_steps,
            "simulated_min": f.time, "final_max_rel_change_per_step": change,
            "wall_s": t_steady, "history": history,
        },
        **summary,
        "max_abs_rel_diff_vs_exact_discrete_steady_state": float(np.abs(num / discrete - 1).max()),
        "limit": TARGET_ACCURACY_REL,
        "meets_target": bool(converged and summary["max_abs_rel_error"] <= TARGET_ACCURACY_REL),
    }
    f = None  # release the fields before the next section
    _free_gpu(backend)
    result["explicit_scheme"] = explicit_accuracy(backend, dtype, quick, shape, centre, D, decay,
                                                  q, dt, pts, r, flat, exact,
                                                  spectral_steady_full)
    return result


def explicit_accuracy(backend, dtype, quick, shape, centre, D, decay, q, dt, pts, r, flat, exact,
                      x0_full) -> dict:
    """The explicit scheme's steady point-source profile, without time stepping it to steady state.

    Time-stepping the explicit scheme to steady state on a 100³ box takes tens
    of minutes on the CPU (cost estimated here from one timed step). Its fixed
    point does not depend on the sub-step length ``h``: ``u = u + r·Δu - λh u + h s``
    holds iff ``D/dx² Δu - λu + s = 0``. So it is found directly by conjugate
    gradients on ``(D/dx²)(-Δ) + λ`` (symmetric positive definite), whose
    product is formed with the engine's own ``ExplicitGeometry.substep`` at
    ``h = 1`` min, and compared with the analytic profile. NumPy backend only.
    """
    res = {"time_stepped_to_steady_state": False}
    # cost of time-stepping it (one step at dt)
    f = FieldSolver(shape, DX_UM, [Species("probe", D, decay)], backend=backend, dtype=dtype,
                    scheme="explicit")
    f.set_point_exchange("probe", [list(centre)], release=q)
    f.step(dt)
    t = time_calls(lambda: f.step(dt), f.backend.synchronize, reps=2, budget_s=10)
    step_s = statistics.median(t)
    steps_needed = math.ceil(math.log(decay / 1e-7) / (decay * dt))  # e^{-λt}λ < 1e-7
    res["substeps_per_step"] = f.substeps(dt)["probe"]
    res["step_s"] = step_s
    res["estimated_steps_to_steady_state"] = steps_needed
    res["estimated_wall_s_to_steady_state"] = step_s * steps_needed
    res["skip_reason"] = (
        f"time-stepping the explicit scheme to steady state at dt = {dt} min would take "
        f"~{steps_needed} steps x {step_s:.2f} s = ~{step_s * steps_needed / 60:.0f} min on this "
        "machine; its fixed point (independent of the sub-step) is solved for directly instead")
    f = None  # release the fields before the next section
    if backend.is_gpu:
        res["fixed_point"] = {"skipped": True,
                              "reason": "fixed-point solve is done on the numpy backend only "
                                        "(same operator)"}
        return res
    from scipy.sparse.linalg import LinearOperator, cg  # noqa: PLC0415

    g = FieldSolver(shape, DX_UM, [Species("probe", D, decay)], backend="numpy",
                    dtype="float64", scheme="explicit")
    geom = g.geometry
    h = 1.0
    r_h, kdt = D * h / DX_UM**2, decay * h
    out = np.empty(shape)
    nvox = int(np.prod(shape))

    def matvec(x):
        x3 = np.ascontiguousarray(x, dtype=np.float64).reshape(shape)
        geom.substep(x3, out, None, r_h, kdt, h, 0, [0.0] * 6)
        return (x3 - out).ravel()  # = h * ((D/dx²)(-Δ) + λ) x

    A = LinearOperator((nvox, nvox), matvec=matvec, dtype=np.float64)
    rhs = np.zeros(nvox)
    rhs[np.ravel_multi_index(centre, shape)] = h * q / DX_UM**3
    n_iter = [0]

    def count(_):
        n_iter[0] += 1

    t0 = time.perf_counter()
    x0 = None if x0_full is None else np.asarray(x0_full, dtype=np.float64).ravel()
    sol, info = cg(A, rhs, x0=x0, rtol=1e-11, atol=0.0, maxiter=20000, callback=count)
    t_cg = time.perf_counter() - t0
    resid = float(np.linalg.norm(matvec(sol) - rhs) / np.linalg.norm(rhs))
    num = sol[flat]
    summary = _error_summary(num, exact, pts, r, centre)
    shells = []
    for r0 in range(int(math.ceil(r.min())), int(r.max()) + 1):
        sh = np.abs(r - r0) < 0.5
        if sh.any():
            shells.append(abs(num[sh].mean() / exact[sh].mean() - 1))
    res["fixed_point"] = {
        "method": "scipy conjugate gradients, operator = engine ExplicitGeometry.substep (h = 1 min), "
                  "started from the spectral steady state",
        "cg_info": int(info), "cg_iterations": n_iter[0], "relative_residual": resid,
        "wall_s": t_cg, **summary,
        "max_abs_rel_error_of_shell_means": float(max(shells)) if shells else None,
        "meets_3pct_pointwise": bool(info == 0 and summary["max_abs_rel_error"] <= TARGET_ACCURACY_REL),
        "note": "information only: the timed scheme (auto -> spectral) is the one held to the target",
    }
    log(f"accuracy (explicit fixed point): {n_iter[0]} CG iterations in {t_cg:.1f} s, "
        f"max |rel err| = {summary['max_abs_rel_error']:.4%}")
    return res


# ----------------------------------------------------------------- 4. throughput
def throughput(backend, dtype, n: int, scheme: str, copy_GBps: float, l2_bytes, quick: bool) -> dict:
    """Step and sub-step timings of 4 species without sources on an n³ lattice.

    Parameters
    ----------
    backend : Backend
    dtype : str or None
    n : int
        Lattice edge, voxels.
    scheme : {"spectral", "explicit"}
    copy_GBps : float
        Reference copy bandwidth of this device (same run).
    l2_bytes : int or None
        L2 cache size of the GPU (None on the CPU).
    quick : bool
        Fewer repetitions.

    Returns
    -------
    dict
    """
    shape = (n, n, n)
    nvox = n**3
    dt = DEFAULT_CELL_STEP_MIN
    f = FieldSolver(shape, DX_UM, species4(), backend=backend, dtype=dtype, scheme=scheme)
    f.u[...] = 1.0
    sync = f.backend.synchronize
    nsub = f.substeps(dt)
    log(f"throughput {n}^3 {scheme} ({f.dtype.name}, {f.backend.device}): warm-up")
    if scheme == "explicit":
        # a short step that needs one sub-step per species allocates every buffer
        # and compiles the kernel without paying for a full step
        warm_dt = 0.5 / max(f.geometry.max_rate(d, k, DX_UM, 0) for _, d, k in SPECIES_4)
        f.step(warm_dt)
    else:
        f.step(dt)
    sync()
    # a step's cost in s, from a rough one-off estimate, sets the repetitions
    t_est = time_calls(lambda: f.step(dt), sync, 1, 0)[0]
    reps = 2 if quick else (7 if t_est < 2 else (3 if t_est < 15 else 1))
    times = [t_est] if reps == 1 else time_calls(lambda: f.step(dt), sync, reps, 60)
    st = _stats(times)
    if reps == 1:
        st["note"] = "a single timed step (the step is long); the warm-up step was shorter"
    res = {
        "shape": list(shape), "n_voxels": nvox, "n_species": len(SPECIES_4), "scheme": scheme,
        "dtype": f.dtype.name, "dt_min": dt, "substeps_per_step": nsub, "step": st,
        "s_per_sim_min": st["median_s"] / dt,
        "voxel_species_updates_per_s": nvox * len(SPECIES_4) / st["median_s"],
    }
    log(f"  median step {st['median_s']:.3f} s -> "
        f"{res['voxel_species_updates_per_s'] / 1e6:.1f} M voxel-species updates/s")
    if scheme == "explicit":
        res["voxel_species_substep_updates_per_s"] = nvox * sum(nsub.values()) / st["median_s"]
        res["substep_kernel"] = substep_bandwidth(f, copy_GBps, l2_bytes, quick)
    f = None  # release the fields before the next section
    _free_gpu(backend)
    return res


def substep_bandwidth(f: FieldSolver, copy_GBps: float, l2_bytes, quick: bool) -> dict:
    """Time one explicit sub-step of one species and convert it to a bandwidth.

    The update reads ``u`` and writes ``out`` (uniform tissue, no source, no
    fixed face), so its minimum traffic is ``2 × voxels × itemsize`` bytes; the
    effective bandwidth is that over the measured time, and the fraction is
    relative to the copy bandwidth measured in the same run.
    """
    name, D, decay = SPECIES_4[0]
    dt = DEFAULT_CELL_STEP_MIN
    nsub = f.substeps(dt)[name]
    h = dt / nsub
    r, kdt = D * h / DX_UM**2, decay * h
    u = f.u[0]
    out = f.xp.empty_like(u)
    faces = [0.0] * 6

    def one():
        f.geometry.substep(u, out, None, r, kdt, h, 0, faces)

    one()
    f.backend.synchronize()
    nbytes = 2 * u.size * u.itemsize
    if f.backend.is_gpu:
        times = gpu_event_times(f.xp, one, inner=10, reps=5 if quick else 20)
        how = "CUDA events around 10 back-to-back launches, median of the per-launch time"
    else:
        times = time_calls(one, f.backend.synchronize, reps=3 if quick else 7, budget_s=20)
        how = "perf_counter around one call (NumPy twin of the kernel), median"
    st = _stats(times)
    bw = nbytes / st["median_s"] / 1e9
    res = {
        "species": name, "r": r, "kdt": kdt, "h_min": h, "timing": how, **st,
        "bytes_moved": nbytes, "bytes_model": "2 x voxels x itemsize (read u, write out)",
        "effective_GBps": bw, "copy_reference_GBps": copy_GBps,
        "fraction_of_copy_bandwidth": bw / copy_GBps,
        "voxel_updates_per_s": u.size / st["median_s"],
    }
    if f.backend.is_gpu:
        res["working_set_bytes"] = nbytes
        res["l2_cache_bytes"] = l2_bytes
        res["working_set_exceeds_2x_l2"] = bool(l2_bytes is None or nbytes > 2 * l2_bytes)
        res["meets_target"] = bool(res["fraction_of_copy_bandwidth"] >= TARGET_GPU_BANDWIDTH_FRACTION)
    log(f"  sub-step of one species: {st['median_s'] * 1e3:.2f} ms, {bw:.1f} GB/s = "
        f"{res['fraction_of_copy_bandwidth']:.1%} of the copy bandwidth")
    return res


# --------------------------------------------------------------------- driver
def run_backend(name: str, sizes: list[int], dtype, quick: bool) -> dict:
    """Every section on one backend; a skipped backend is recorded with its reason."""
    if name == "cupy":
        ok, reason = cupy_available()
        if not ok:
            log(f"cupy backend skipped: {reason}")
            return {"skipped": True, "reason": reason}
    backend = get_backend(name)
    t0 = time.perf_counter()
    out: dict = {"skipped": False, "device": backend.device,
                 "dtype": str(np.dtype(dtype)) if dtype else ("float32" if backend.is_gpu else "float64")}
    if not backend.is_gpu:
        out["scipy_fft_workers"] = os.cpu_count()
    l2 = None
    if backend.is_gpu:
        out["gpu"] = gpu_info(backend.xp)
        l2 = out["gpu"].get("l2_cache_bytes")
    log(f"=== backend {name}: {backend.device}")
    log("copy bandwidth")
    out["copy_bandwidth"] = copy_bandwidth(backend, quick)
    copy_GBps = out["copy_bandwidth"]["reference_GBps"]
    log(f"  {copy_GBps:.1f} GB/s")
    out["biofvm_problem"] = biofvm_problem(backend, dtype, quick)
    out["exchange_accuracy"] = exchange_accuracy(backend, dtype, quick)
    out["accuracy"] = accuracy_check(backend, dtype, quick)
    out["throughput"] = [throughput(backend, dtype, n, scheme, copy_GBps, l2, quick)
                         for n in sizes for scheme in ("spectral", "explicit")]
    out["targets"] = backend_targets(name, out)
    out["wall_s"] = time.perf_counter() - t0
    return out


def backend_targets(name: str, res: dict) -> list[dict]:
    """The issue's targets that apply to this backend, each with ``meets_target``."""
    targets = []
    if name == "numpy":
        run = next(r for r in res["biofvm_problem"]["runs"]
                   if r["scheme_requested"] == "auto" and r["dt_min"] == DEFAULT_CELL_STEP_MIN)
        acc = res["accuracy"]
        speed_ok = bool(run["s_per_sim_min"] <= TARGET_CPU_S_PER_SIM_MIN)
        targets.append({
            "name": "cpu_speed_biofvm_problem",
            "description": "NumPy fallback: wall time per simulated minute of the BioFVM problem "
                           "at the step it uses (auto scheme, dt = default cell step)",
            "value_s_per_sim_min": run["s_per_sim_min"], "limit_s_per_sim_min": TARGET_CPU_S_PER_SIM_MIN,
            "dt_min": run["dt_min"], "meets_target": speed_ok,
        })
        ex = res["exchange_accuracy"]
        targets.append({
            "name": "cpu_exchange_accuracy_biofvm_problem",
            "description": "the timed problem's own-voxel concentrations within 5% and totals "
                           "within 0.5% of a 0.05-min reference, at dt = 1 and 2 min",
            "value_own_voxel": ex["worst_own_voxel_rel_error"],
            "value_total": ex["worst_total_rel_error"], "meets_target": ex["meets_target"],
        })
        targets.append({
            "name": "cpu_accuracy_point_source",
            "description": "steady point-source profile within 3% of the analytic one for r = 3..30 "
                           "voxels at the same step",
            "value_max_abs_rel_error": acc["max_abs_rel_error"], "limit": TARGET_ACCURACY_REL,
            "dt_min": acc["dt_min"], "scheme": acc["scheme"], "converged": acc["convergence"]["converged"],
            "meets_target": bool(acc["meets_target"]),
        })
        targets.append({
            "name": "cpu_speed_at_equal_accuracy",
            "description": "both of the above at the same step: at least as fast as BioFVM at equal "
                           "(3%) accuracy",
            "meets_target": bool(speed_ok and acc["meets_target"] and acc["dt_min"] == run["dt_min"]),
        })
    else:
        kernels = [t["substep_kernel"] for t in res["throughput"] if t["scheme"] == "explicit"]
        shapes = [t["shape"] for t in res["throughput"] if t["scheme"] == "explicit"]
        big = [(s, k) for s, k in zip(shapes, kernels) if k.get("working_set_exceeds_2x_l2")]
        judged = big[-1] if big else (shapes[-1], kernels[-1])
        targets.append({
            "name": "gpu_fused_update_bandwidth",
            "description": "explicit sub-step (one fused kernel) bandwidth / device copy bandwidth, "
                           "on the largest lattice whose working set exceeds twice the L2 cache",
            "shape": judged[0], "value_fraction": judged[1]["fraction_of_copy_bandwidth"],
            "limit_fraction": TARGET_GPU_BANDWIDTH_FRACTION,
            "working_set_exceeds_2x_l2": judged[1].get("working_set_exceeds_2x_l2"),
            "meets_target": bool(judged[1]["fraction_of_copy_bandwidth"] >= TARGET_GPU_BANDWIDTH_FRACTION),
        })
    return targets


def summary_table(report: dict) -> str:
    """A short human-readable table of the main numbers."""
    lines = []
    for name, res in report["backends"].items():
        if res.get("skipped"):
            lines.append(f"[{name}] skipped: {res['reason']}")
            continue
        lines.append(f"[{name}] {res['device']}, {res['dtype']}; copy bandwidth "
                     f"{res['copy_bandwidth']['reference_GBps']:.1f} GB/s")
        p = res["biofvm_problem"]["problem"]
        lines.append(f"  BioFVM problem {'x'.join(map(str, p['shape']))} x 4 species, "
                     f"{p['n_agents']} agents (BioFVM not run here: no ratio)")
        lines.append(f"    {'scheme':<10}{'dt min':>8}{'ms/step':>10}{'s/sim min':>11}"
                     f"{'Mvox-sp/s':>11}")
        for r in res["biofvm_problem"]["runs"]:
            lines.append(f"    {r['scheme_requested']:<10}{r['dt_min']:>8g}{r['step']['median_s'] * 1e3:>10.1f}"
                         f"{r['s_per_sim_min']:>11.3f}{r['voxel_species_updates_per_s'] / 1e6:>11.1f}")
        ex = res.get("exchange_accuracy")
        if ex:
            lines.append(f"  exchange accuracy of that problem at dt 1-2 min vs dt 0.05: own voxels "
                         f"max {ex['worst_own_voxel_rel_error']:.3%}, totals max "
                         f"{ex['worst_total_rel_error']:.4%} (target 5% / 0.5%)")
        a = res["accuracy"]
        lines.append(f"  accuracy ({a['scheme']}, dt {a['dt_min']:g} min, {a['convergence']['steps']} steps, "
                     f"converged={a['convergence']['converged']}): max |rel err| r=3..{a['setup']['r_max_vox']:g} "
                     f"= {a['max_abs_rel_error']:.3%}")
        fp = a["explicit_scheme"].get("fixed_point", {})
        if "max_abs_rel_error" in fp:
            lines.append(f"  explicit (7-point) fixed point: max |rel err| = {fp['max_abs_rel_error']:.3%} "
                         f"(shell means {fp['max_abs_rel_error_of_shell_means']:.3%}), info only")
        lines.append(f"    {'lattice':<9}{'scheme':<10}{'s/step':>9}{'s/sim min':>11}{'Mvox-sp/s':>11}"
                     f"{'substep GB/s':>14}{'of copy':>9}")
        for t in res["throughput"]:
            k = t.get("substep_kernel")
            bw = f"{k['effective_GBps']:>14.1f}{k['fraction_of_copy_bandwidth']:>9.1%}" if k else ""
            lines.append(f"    {str(t['shape'][0]) + '^3':<9}{t['scheme']:<10}{t['step']['median_s']:>9.3f}"
                         f"{t['s_per_sim_min']:>11.3f}{t['voxel_species_updates_per_s'] / 1e6:>11.1f}{bw}")
        for tg in res["targets"]:
            lines.append(f"  target {tg['name']}: {'PASS' if tg['meets_target'] else 'FAIL'}")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=("numpy", "cupy", "all"), default=None,
                   help="default: numpy, plus cupy when CuPy sees a CUDA GPU")
    p.add_argument("--sizes", default=None,
                   help="comma-separated lattice edges for the throughput section "
                        "(default 128,256; 32 with --quick)")
    p.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="field precision (default: float64 on numpy, float32 on cupy)")
    p.add_argument("--out", default=None,
                   help="JSON path (default benchmarks/results/fields-<backend>[-quick].json)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: small lattices and few repetitions (numbers not meaningful)")
    return p.parse_args(argv)


def backends_to_run(choice):
    """Backends a benchmark runs for ``--backend`` (None: numpy, plus cupy when usable).

    Returns
    -------
    (list of str, str, bool, str)
        Backends, the tag used in the JSON file name, whether CuPy is usable, and why not.
    """
    cupy_ok, cupy_reason = cupy_available()
    if choice is None:
        return ["numpy"] + (["cupy"] if cupy_ok else []), ("all" if cupy_ok else "numpy"), \
            cupy_ok, cupy_reason
    if choice == "all":
        return ["numpy", "cupy"], "all", cupy_ok, cupy_reason
    return [choice], choice, cupy_ok, cupy_reason


def main(argv=None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    backends, tag, cupy_ok, cupy_reason = backends_to_run(args.backend)
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    else:
        sizes = [32] if args.quick else [128, 256]
    default_name = f"fields-{tag}{'-quick' if args.quick else ''}.json"
    out_path = Path(args.out) if args.out else RESULTS_DIR / default_name

    report = {
        "benchmark": "benchmarks/fields.py",
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "quick": bool(args.quick),
        "sizes": sizes,
        "default_cell_step_min": DEFAULT_CELL_STEP_MIN,
        "machine": machine_info(),
        "backends": {},
    }
    if "cupy" not in backends:
        report["backends"]["cupy"] = {"skipped": True,
                                      "reason": "not requested" if cupy_ok else cupy_reason}
    for b in backends:
        report["backends"][b] = run_backend(b, sizes, args.dtype, args.quick)
    report["targets"] = [dict(t, backend=b) for b, r in report["backends"].items()
                         if not r.get("skipped") for t in r["targets"]]
    report["all_targets_met"] = bool(report["targets"]) and all(t["meets_target"] for t in report["targets"])
    report["total_wall_s"] = time.perf_counter() - t_start

    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    print(summary_table(report))
    print(f"total wall time {report['total_wall_s']:.1f} s; results written to {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
