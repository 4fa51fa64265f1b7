"""Cell motion in fused kernels: hop probabilities, the hop draw and proposal, and the commit.

One step of cell motion is the *decide* phase's hop probabilities
(:func:`abm.cells.phases.decide.decide`) and the *move* phase's rounds of
proposals with exclusion (:func:`abm.cells.phases.move.move`). This module holds
both halves twice: the NumPy twin (the reference, and the code the NumPy backend
runs) and the CUDA source of the GPU path.

Kernels (one :class:`cupy.RawModule`, :data:`CUDA_SOURCE`, compiled once per
field dtype with ``-DFIELD_T=float|double``)

``cell_motion_propose``
    Per agent, in one pass: the gradient of the chemotaxis field at the agent's
    voxel (the stencil of :func:`kernels.lattice.gradient_at`), the
    concentration there, the receptor-law drift capped at the speed, the six
    hop probabilities and their total (:func:`hop_probabilities`), then the
    direction draw of one round with the counter-based generator (a
    ``__device__`` port of :mod:`kernels.rng`, bit-identical), the target voxel,
    the off-lattice drop, the priority bits packed with the target into the
    64-bit sort key of :func:`kernels.lattice.accept_by_priority`, and the free
    room of the target voxel (:func:`propose_round`). With ``have_hop`` it
    reads the probabilities instead of computing them (rounds after the first
    of a split step, which use the probabilities of the step's start).
``cell_motion_commit``
    Per proposal, in the order of the stable sort of the packed keys (one
    ``argsort`` between the two kernels): accepted when fewer than ``free``
    proposals for the same voxel sort before it (lowest priority wins, ties
    by proposal order), then the occupancy is moved by atomics and the
    agent's position and flat voxel are written. This is
    :func:`abm.cells.placement.place_with_exclusion` with ``vacate``.
``rng_selftest``
    The generator port alone (keys, bits and uniforms), for the tests.

What is fused and what is not yet
    Fused: the gather of the field at the agent, the gradient, the drift, the
    probabilities, the draw and the proposal (one kernel), and the
    accept/commit (one kernel after one sort). Not fused: rule evaluation
    (behaviour values from scenario rules stay array expressions of
    :class:`abm.rules.RuleSet`), the fate events of *decide*, division,
    and the exchange phase.

Host synchronisations per step (GPU path)
    Exactly one for all of motion: ``max(hop_total)`` over all moving
    populations reaches the host to fix the number of rounds
    (:func:`max_total`, counted in :data:`HOST_SYNCS`). The "any chemotaxis
    > 0" test of the NumPy twin is a device flag read by the kernel, and an
    immobile population is not skipped by a host test: its probabilities are
    zero, and a step whose maximum total is zero launches no round. The
    round-0 proposal is made speculatively in *decide* with one round; it is
    used when the step needs one round, and remade from the stored
    probabilities otherwise.

Identity with the NumPy twin
    Every floating-point operation is done in float64 in the order of the
    NumPy expressions (products that feed a sum through ``__dmul_rn`` and
    ``__dadd_rn``, so that NVRTC cannot contract them into FMAs; the CPU shim
    compiles without contraction), so probabilities are bit-identical; the
    draws are integer arithmetic; the sort is stable, so ties resolve as in
    NumPy. The free room is read by the propose kernel: between proposing and
    committing (the *decide* and *move* phases, back to back) nothing changes
    the occupancy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import lattice as L
from . import rng as R
from . import xp_ops

__all__ = ["CUDA_SOURCE", "HOST_SYNCS", "Proposal", "hop_probabilities", "propose_round",
           "max_total", "rounds_for", "propose", "commit", "rng_port"]

#: Threads per block of every launch.
THREADS = 256

#: Host synchronisations made by the GPU motion path, by reason (see the module docs).
HOST_SYNCS = {"max_hop_total": 0}

CUDA_SOURCE = r"""
#ifndef FIELD_T
#define FIELD_T double
#endif
#if !defined(__CUDACC__) && !defined(__CUDACC_RTC__)
// CPU shim: each operation rounds on its own anyway (compiled without contraction).
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __dadd_rn(double a, double b) { return a + b; }
#endif
typedef unsigned long long u64;

// ---- counter-based generator: a port of kernels/rng.py (SplitMix64 finaliser) ----
#define RNG_G 0x9E3779B97F4A7C15ULL
#define RNG_C 0xD1B54A32D192ED03ULL
__device__ __forceinline__ u64 rng_mix64(u64 x) {
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}
__device__ __forceinline__ u64 rng_step_key(u64 seed, u64 step) {
    return rng_mix64(rng_mix64(seed) + step * RNG_G);
}
__device__ __forceinline__ u64 rng_agent_key(u64 step_key, long long id) {
    return rng_mix64(((u64)id * RNG_C) ^ step_key);
}
__device__ __forceinline__ u64 rng_draw_bits(u64 key, long long purpose) {
    return rng_mix64(key ^ rng_mix64((u64)purpose * RNG_G + 1ULL));
}
__device__ __forceinline__ double rng_uniform(u64 bits) {
    return (double)(bits >> 11) * (1.0 / 9007199254740992.0);   // top 53 bits * 2^-53
}
#define PURPOSE_MOVE 2
#define PURPOSE_PRIORITY 3

__device__ __forceinline__ double max0(double x) { return x < 0.0 ? 0.0 : x; }  // NaN stays NaN

extern "C" __global__ void rng_selftest(const long long* __restrict__ ids, const u64 seed,
                                        const u64 step, const long long purpose,
                                        u64* __restrict__ keys, u64* __restrict__ bits,
                                        double* __restrict__ u, const long long n) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    const u64 sk = rng_step_key(seed, step);
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const u64 k = rng_agent_key(sk, ids[i]);
        keys[i] = k;
        bits[i] = rng_draw_bits(k, purpose);
        u[i] = rng_uniform(bits[i]);
    }
}

// One agent per thread (grid-stride): hop probabilities (or read them), then one round's
// proposal: target voxel (nvox = none), packed sort key, free room at the target.
extern "C" __global__ void cell_motion_propose(
        const int* __restrict__ pos, const u64* __restrict__ keys,
        const double* __restrict__ speed_a, const double speed_s, const int speed_arr,
        const double* __restrict__ chi_a, const double chi_s, const int chi_arr,
        const double* __restrict__ rec_a, const int use_rec,
        const bool* __restrict__ chem_flag, const int chem_mode,
        const FIELD_T* __restrict__ field,
        const int nx, const int ny, const int nz,
        const double dx, const double dx2, const double dtdx, const double dt,
        const double persistence, const double K,
        double* __restrict__ hop, double* __restrict__ hop_total, const int have_hop,
        const int rounds, const int r,
        const int* __restrict__ occupancy, const int* __restrict__ capacity, const int tb,
        long long* __restrict__ target, u64* __restrict__ comp, int* __restrict__ room,
        const long long n) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long nvox = (long long)nx * ny * nz;
    const bool drift = chem_mode == 1 || (chem_mode == 2 && chem_flag[0]);
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const int p[3] = {pos[3 * i], pos[3 * i + 1], pos[3 * i + 2]};
        double pr[6];
        if (have_hop) {
            for (int k = 0; k < 6; ++k) pr[k] = hop[k * n + i];
        } else {
            const double sp = speed_arr ? speed_a[i] : speed_s;
            const double D = sp * sp * persistence / 3.0;
            const double base = D * dt / dx2;
            if (!drift) {
                for (int k = 0; k < 6; ++k) pr[k] = base;
            } else {
                // gradient_at: central differences inside, one-sided at the faces
                const long long b = ((long long)p[0] * ny + p[1]) * nz + p[2];
                const int size[3] = {nx, ny, nz};
                const long long st[3] = {(long long)ny * nz, (long long)nz, 1LL};
                double w[3];
                for (int a = 0; a < 3; ++a) {
                    const int lo = p[a] > 0, hi = p[a] < size[a] - 1;
                    const double span = ((double)lo + (double)hi) * dx;
                    const double diff = (double)field[b + st[a] * hi] - (double)field[b - st[a] * lo];
                    w[a] = span > 0 ? diff / (span > 1e-300 ? span : 1e-300) : 0.0;
                }
                const double conc = (double)field[b];
                const double chi = chi_arr ? chi_a[i] : chi_s;
                const double den = K + max0(conc);
                double scale = chi * K / (den * den);
                if (use_rec) scale = scale * rec_a[i];
                for (int a = 0; a < 3; ++a) w[a] = w[a] * scale;
                const double norm = sqrt(__dadd_rn(__dadd_rn(__dmul_rn(w[0], w[0]),
                                                             __dmul_rn(w[1], w[1])),
                                                   __dmul_rn(w[2], w[2])));
                if (norm > sp) {
                    const double f = sp / (norm > 1e-300 ? norm : 1e-300);
                    for (int a = 0; a < 3; ++a) w[a] = w[a] * f;
                }
                for (int a = 0; a < 3; ++a) {
                    pr[2 * a] = __dadd_rn(base, __dmul_rn(max0(-w[a]), dtdx));
                    pr[2 * a + 1] = __dadd_rn(base, __dmul_rn(max0(w[a]), dtdx));
                }
            }
            double tot = pr[0];
            for (int k = 0; k < 6; ++k) hop[k * n + i] = pr[k];
            for (int k = 1; k < 6; ++k) tot = tot + pr[k];
            hop_total[i] = tot;
        }
        // one round: direction = number of cumulative probabilities <= u (6 = stay)
        const u64 key = keys[i];
        const double u = rng_uniform(rng_draw_bits(key, PURPOSE_MOVE + 16 * r));
        const double R = (double)rounds;
        double cum = 0.0;
        int dir = 0;
        for (int k = 0; k < 6; ++k) {
            cum = k == 0 ? pr[0] / R : cum + pr[k] / R;
            dir += u >= cum;
        }
        long long t = nvox;
        if (dir < 6) {
            int q[3] = {p[0], p[1], p[2]};
            q[dir >> 1] += (dir & 1) ? 1 : -1;
            if (q[0] >= 0 && q[0] < nx && q[1] >= 0 && q[1] < ny && q[2] >= 0 && q[2] < nz)
                t = ((long long)q[0] * ny + q[1]) * nz + q[2];
        }
        target[i] = t;
        if (t < nvox) {
            const u64 prio = rng_draw_bits(key, PURPOSE_PRIORITY + 16 * r);
            comp[i] = ((u64)t << (64 - tb)) | (prio >> tb);
            const int f = capacity[t] - occupancy[t];
            room[i] = f > 0 ? f : 0;
        } else {
            comp[i] = (u64)nvox << (64 - tb);   // after every real proposal
            room[i] = 0;
        }
    }
}

// One proposal per thread, in sorted order: accept, move the occupancy, write the agent.
extern "C" __global__ void cell_motion_commit(
        const long long* __restrict__ order, const long long* __restrict__ target,
        const int* __restrict__ room, int* occupancy, int* __restrict__ pos,
        long long* __restrict__ flat, const int ny, const int nz, const long long nvox,
        const long long m) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < m; i += stride) {
        const long long j = order[i];
        const long long t = target[j];
        if (t >= nvox) continue;
        const long long f = room[j];
        // sorted by (voxel, priority): rank < free  <=>  the f-th predecessor is another voxel
        if (!(i < f || target[order[i - f]] != t)) continue;
        atomicAdd(&occupancy[flat[j]], -1);
        atomicAdd(&occupancy[t], 1);
        flat[j] = t;
        pos[3 * j] = (int)(t / ((long long)ny * nz));
        pos[3 * j + 1] = (int)((t / nz) % ny);
        pos[3 * j + 2] = (int)(t % nz);
    }
}
"""


# ------------------------------------------------------------------ the NumPy twin
def hop_probabilities(xp, pos, speed, persistence: float, dt: float, dx: float, n: int,
                      field=None, conc=None, chi=None, K: float = 1.0, receptor=None):
    """Hop probabilities of one step per face direction, the NumPy twin (and reference).

    Parameters
    ----------
    xp : module
        numpy (the twin runs on CuPy too, as plain array expressions).
    pos : int32 array (n, 3)
        Voxels of the agents.
    speed : float or float64 array (n,)
        Cell speed, µm/min.
    persistence : float
        Persistence time, min (``D = speed² persistence / 3``, µm²/min).
    dt, dx : float
        Step, min, and voxel edge, µm.
    n : int
        Number of agents.
    field : array (nx, ny, nz), optional
        Chemotaxis field (any float dtype; read as float64); None: no chemotaxis.
    conc : float64 array (n,) or callable, optional
        Field value at each agent (or a function returning it, called only when
        some ``chi > 0``).
    chi : float or float64 array (n,), optional
        Chemotactic sensitivity, µm²/min per field unit.
    K : float
        Receptor half-saturation, field units.
    receptor : float64 array (n,), optional
        Receptor level (0–1) scaling the drift.

    Returns
    -------
    hop : float64 array (6, n) or None
        Probability of a hop along x-, x+, y-, y+, z-, z+ over the step; None when
        nobody moves (no drift and ``D <= 0`` everywhere).
    hop_total : float64 array (n,) or None
        ``hop`` summed over the directions.
    """
    D = speed * speed * persistence / 3.0
    w = None
    if field is not None:
        if bool(xp.any(xp.asarray(chi) > 0)):  # one flag, not the array, crosses to the host
            c = conc() if callable(conc) else conc
            grad = L.gradient_at(xp, field, pos, dx)
            scale = chi * K / (K + xp.maximum(c, 0.0)) ** 2
            if receptor is not None:
                scale = scale * receptor
            w = grad * scale.reshape(-1, 1)
            norm = xp.sqrt((w * w).sum(axis=1))
            cap = xp.broadcast_to(xp.asarray(speed, dtype=np.float64), (n,))
            over = norm > cap
            w = xp.where(over[:, None], w * (cap / xp.maximum(norm, 1e-300))[:, None], w)
    base = xp.broadcast_to(xp.asarray(D * dt / dx**2, dtype=np.float64), (n,))
    probs = xp.empty((6, n), dtype=np.float64)
    for a in range(3):
        if w is None:
            probs[2 * a] = base
            probs[2 * a + 1] = base
        else:
            probs[2 * a] = base + xp.maximum(-w[:, a], 0.0) * (dt / dx)
            probs[2 * a + 1] = base + xp.maximum(w[:, a], 0.0) * (dt / dx)
    if w is None and not bool(xp.any(xp.asarray(D) > 0)):
        return None, None  # nobody in this population moves this step
    return probs, probs.sum(axis=0)


def propose_round(xp, hop, rounds: int, r: int, keys, pos, shape):
    """One round of hop proposals of one population, the NumPy twin (and reference).

    Parameters
    ----------
    xp : module
        numpy.
    hop : float64 array (6, n)
        Hop probabilities of the whole step (:func:`hop_probabilities`).
    rounds, r : int
        Rounds the step is split into, and this round (0-based).
    keys : uint64 array (n,)
        The agents' counter-based keys (:func:`kernels.rng.agent_keys`).
    pos : int32 array (n, 3)
        Current voxels.
    shape : tuple of 3 int
        Lattice shape, voxels.

    Returns
    -------
    rows : int array (m,)
        Agents that propose a hop that stays on the lattice.
    newpos : int32 array (m, 3)
        Their target voxels.
    target : int64 array (m,)
        The same, flat.
    prio : uint64 array (m,)
        Their priority bits for :func:`abm.cells.placement.place_with_exclusion`.
    """
    cum = xp.cumsum(hop / rounds, axis=0)
    u = R.uniform_from_keys(xp, keys, R.PURPOSES["move"] + 16 * r)
    direction = (u[None, :] >= cum).sum(axis=0)  # 6 = stay
    rows = xp.flatnonzero(direction < 6)
    newpos = L.neighbour_positions(xp, pos[rows], direction[rows])
    ok = L.inside(xp, newpos, shape)
    rows, newpos = rows[ok], newpos[ok]
    prio = R.draw_bits(xp, keys[rows], R.PURPOSES["priority"] + 16 * r)
    return rows, newpos, L.flat_index(xp, newpos, shape), prio


def rounds_for(total_max: float) -> int:
    """Rounds a step is split into when the largest hop total is ``total_max`` (>= 1)."""
    return max(1, math.ceil(total_max - 1e-12))


# ------------------------------------------------------------------ the GPU path
_MODULES: dict = {}


def _module(xp, field_dtype):
    """The compiled RawModule for ``field_dtype`` (float32 or float64) on ``xp``."""
    real = "float" if np.dtype(field_dtype) == np.float32 else "double"
    key = (xp.RawModule, real)
    if key not in _MODULES:
        mod = xp.RawModule(code=CUDA_SOURCE, options=(f"-DFIELD_T={real}",))
        _MODULES[key] = {k: mod.get_function(k) for k in
                         ("cell_motion_propose", "cell_motion_commit", "rng_selftest")}
        # one-element stand-ins for the pointer arguments a launch does not use
        _MODULES[key]["dummy"] = {"f8": xp.zeros(1, np.float64), "b1": xp.zeros(1, bool),
                                  "field": xp.zeros(1, np.dtype(field_dtype))}
    return _MODULES[key]


def _grid(n: int) -> tuple[int]:
    return (max(1, min((n + THREADS - 1) // THREADS, 65535 * 8)),)


def rng_port(xp, seed: int, step: int, ids, purpose: int):
    """Keys, bits and uniforms of the ``__device__`` generator port, for the tests.

    Parameters
    ----------
    xp : module
        cupy (or the CPU shim's stand-in).
    seed, step : int
        Run seed and model step.
    ids : int64 array (n,)
        Agent ids.
    purpose : int
        Purpose number (:data:`kernels.rng.PURPOSES`).

    Returns
    -------
    keys, bits : uint64 arrays (n,)
        As :func:`kernels.rng.agent_keys` and :func:`kernels.rng.draw_bits`.
    u : float64 array (n,)
        As :func:`kernels.rng.uniform_from_keys`, in [0, 1).
    """
    ids = xp.ascontiguousarray(xp.asarray(ids, dtype=np.int64))
    n = int(ids.shape[0])
    keys = xp.empty(n, np.uint64)
    bits = xp.empty(n, np.uint64)
    u = xp.empty(n, np.float64)
    _module(xp, np.float64)["rng_selftest"](
        _grid(n), (THREADS,), (ids, np.uint64(int(seed) & (2**64 - 1)),
                               np.uint64(int(step) & (2**64 - 1)), np.int64(purpose),
                               keys, bits, u, np.int64(n)))
    return keys, bits, u


@dataclass
class Proposal:
    """One population's hop probabilities and its proposal of one round (GPU path).

    Attributes
    ----------
    hop : float64 array (6, n)
        Hop probabilities of the step (never None on the GPU path: zero when immobile).
    hop_total : float64 array (n,)
        Their sum over the directions.
    target : int64 array (n,)
        Flat target voxel of each agent's proposal; ``n_voxels`` where it proposes none.
    comp : uint64 array (n,)
        Sort key: the target in the high bits, the priority in the low ones.
    room : int32 array (n,)
        Free room of the target voxel when proposed.
    rounds, r : int
        The split and the round this proposal was drawn for.
    args : dict
        What a later round needs to propose again.
    """

    hop: Any
    hop_total: Any
    target: Any
    comp: Any
    room: Any
    rounds: int
    r: int
    args: dict


def _scalar_or_array(xp, v, n, dummy):
    """(array, scalar, is_array) kernel arguments for a float or a float64 array (n,)."""
    if isinstance(v, (int, float, np.floating, np.integer)) or np.ndim(v) == 0:
        return dummy, np.float64(float(v)), np.int32(0)
    return xp.ascontiguousarray(xp.asarray(v, dtype=np.float64)), np.float64(0.0), np.int32(1)


def propose(xp, pos, keys, speed, persistence: float, dt: float, dx: float, shape,
            occupancy, capacity, field=None, chi=0.0, K: float = 1.0, receptor=None,
            rounds: int = 1, r: int = 0, hop=None, hop_total=None) -> Proposal:
    """Hop probabilities and one round's proposal in one kernel launch (GPU path).

    Computes :func:`hop_probabilities` (unless ``hop`` is given) and
    :func:`propose_round` for every agent, bit for bit, with no host synchronisation.

    Parameters
    ----------
    xp : module
        cupy (or the CPU shim's stand-in).
    pos : int32 array (n, 3)
        Current voxels (C-contiguous).
    keys : uint64 array (n,)
        Counter-based keys of the step.
    speed : float or float64 array (n,)
        Speed, µm/min.
    persistence : float
        Persistence time, min.
    dt, dx : float
        Step, min, and voxel edge, µm.
    shape : tuple of 3 int
        Lattice shape.
    occupancy, capacity : int32 arrays (n_voxels,)
        Cells per voxel now, and the room of each voxel.
    field : array, optional
        Chemotaxis field (float32 or float64); None: no chemotaxis.
    chi : float or float64 array (n,)
        Chemotactic sensitivity, µm²/min per field unit.
    K : float
        Receptor half-saturation, field units.
    receptor : float64 array (n,), optional
        Receptor level scaling the drift.
    rounds, r : int
        The split of the step and the round to propose.
    hop, hop_total : float64 arrays, optional
        Probabilities of the step's start (from an earlier proposal): read, not computed.

    Returns
    -------
    Proposal
    """
    n = int(pos.shape[0])
    nx, ny, nz = (int(s) for s in shape)
    nvox = nx * ny * nz
    fdt = np.float64 if field is None else field.dtype
    k = _module(xp, fdt)
    pos = xp.ascontiguousarray(pos)
    dummy = k["dummy"]["f8"]
    have = hop is not None
    if not have:
        hop = xp.empty((6, n), np.float64)
        hop_total = xp.empty(n, np.float64)
    sp = _scalar_or_array(xp, speed, n, dummy)
    if field is None:
        ch, mode, flag = (dummy, np.float64(0.0), np.int32(0)), 0, k["dummy"]["b1"]
        fld = k["dummy"]["field"]
    else:
        ch = _scalar_or_array(xp, chi, n, dummy)
        fld = xp.ascontiguousarray(field).reshape(-1)
        if ch[2]:
            mode, flag = 2, xp.any(ch[0] > 0, keepdims=True)  # stays on the device
        else:
            mode, flag = (1 if float(ch[1]) > 0 else 0), k["dummy"]["b1"]  # a host float
    rec = dummy if receptor is None else xp.ascontiguousarray(xp.asarray(receptor, np.float64))
    target = xp.empty(n, np.int64)
    comp = xp.empty(n, np.uint64)
    room = xp.empty(n, np.int32)
    tb = max(1, nvox.bit_length())
    if n:
        k["cell_motion_propose"](_grid(n), (THREADS,), (
            pos, keys, sp[0], sp[1], sp[2], ch[0], ch[1], ch[2], rec,
            np.int32(receptor is not None), flag, np.int32(mode), fld,
            np.int32(nx), np.int32(ny), np.int32(nz), np.float64(dx), np.float64(dx**2),
            np.float64(dt / dx), np.float64(dt), np.float64(persistence), np.float64(K),
            hop, hop_total, np.int32(have), np.int32(rounds), np.int32(r),
            occupancy, capacity, np.int32(tb), target, comp, room, np.int64(n)))
    args = dict(pos=pos, keys=keys, speed=speed, persistence=persistence, dt=dt, dx=dx,
                shape=shape, field=field)
    return Proposal(hop, hop_total, target, comp, room, rounds, r, args)


def max_total(xp, totals) -> float:
    """Largest hop total over the populations' ``hop_total`` arrays: the one host sync.

    Parameters
    ----------
    xp : module
        cupy (or the CPU shim's stand-in).
    totals : list of float64 arrays
        One per moving population (none empty).

    Returns
    -------
    float
        ``max`` over all agents (dimensionless); counted in ``HOST_SYNCS["max_hop_total"]``.
    """
    m = xp.max(xp.stack([xp.max(t) for t in totals]))
    HOST_SYNCS["max_hop_total"] += 1
    return float(m)


def commit(xp, comp, target, room, occupancy, pos, flat, shape) -> None:
    """Accept the proposals of one round and move the accepted agents (GPU path).

    Per voxel, the proposals with the lowest keys win within its free room, as
    :func:`abm.cells.placement.place_with_exclusion` (with ``vacate``) decides
    them; accepted agents leave their voxel and take their target. One stable
    sort and one kernel launch, no host synchronisation.

    Parameters
    ----------
    xp : module
        cupy (or the CPU shim's stand-in).
    comp, target, room : arrays (m,)
        The proposals (:class:`Proposal`), concatenated over the populations.
    occupancy : int32 array (n_voxels,)
        Updated in place.
    pos : int32 array (m, 3)
        Agents' voxels, updated in place (C-contiguous).
    flat : int64 array (m,)
        Agents' flat voxels, updated in place.
    shape : tuple of 3 int
        Lattice shape.
    """
    m = int(target.shape[0])
    if m == 0:
        return
    if not (pos.flags.c_contiguous and flat.flags.c_contiguous):
        raise ValueError("commit writes pos and flat in place: they must be C-contiguous")
    nx, ny, nz = (int(s) for s in shape)
    order = xp_ops.argsort_stable(xp, comp).astype(np.int64, copy=False)
    k = _module(xp, np.float64)
    k["cell_motion_commit"](_grid(m), (THREADS,), (
        order, target, room, occupancy, pos, flat, np.int32(ny), np.int32(nz),
        np.int64(nx * ny * nz), np.int64(m)))
