"""Fused CPU loops for cell motion, compiled with numba (optional): the CPU fast path.

The NumPy twins of :mod:`kernels.cell_motion` (:func:`~kernels.cell_motion.hop_probabilities`,
:func:`~kernels.cell_motion.propose_round`),
:func:`abm.cells.placement.place_with_exclusion` and the per-voxel sums of the *exchange*
phase (:func:`abm.cells.phases.exchange.exchange_sums_numpy`) stay the reference; this module
computes the same results in one compiled loop per agent instead of a few dozen
whole-array NumPy calls. Every floating-point operation is done in float64 in the
order of the NumPy expressions (numba compiles without fast-math, so products are
not contracted into FMAs), the counter-based draws are the integer arithmetic of
:mod:`kernels.rng`, and ties of the placement sort are broken by proposal order as
in the stable sort of :func:`kernels.lattice.accept_by_priority`: positions,
occupancy and probabilities are identical to the twin's, bit for bit.

Selection
    numba is an optional extra (``pip install .[fast]``). Without it the NumPy
    twins run. With it, the path is chosen by :func:`enabled`: a model attribute
    ``cpu_jit`` (True/False) if set, else the environment variable
    ``ABM_CPU_JIT`` (``0``/``off`` for the twins, ``1``/``on`` to require the JIT,
    ``auto``, the default, to use it when numba imports), else :data:`MODE`.

Compilation
    The loops compile on first use (``cache=True``: once per machine, reused by
    later processes from numba's cache). :func:`warm_up` compiles them ahead of a
    timed run and returns how long that took.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from . import rng as R

try:  # optional extra
    import numba as _nb
    AVAILABLE = True
    REASON = ""
except ImportError as exc:  # pragma: no cover - exercised where numba is absent
    _nb = None
    AVAILABLE = False
    REASON = f"numba does not import ({exc.__class__.__name__}: {exc})"

__all__ = ["AVAILABLE", "MODE", "REASON", "enabled", "hop_probabilities", "propose_round",
           "place_with_exclusion", "exchange_sums", "warm_up"]

#: Default selection when neither the model nor ``ABM_CPU_JIT`` says: "auto", "on" or "off".
MODE = "auto"

_OFF = ("0", "off", "false", "no", "numpy")
_ON = ("1", "on", "true", "yes", "jit", "numba")


def enabled(model=None) -> bool:
    """Whether the CPU phases use the compiled loops (see the module docs, "Selection").

    Parameters
    ----------
    model : TissueModel, optional
        A model whose ``cpu_jit`` attribute (True/False), when set, decides.

    Returns
    -------
    bool
        False on the GPU backend, without numba, or when switched off.

    Raises
    ------
    RuntimeError
        When the JIT is required (``cpu_jit=True``, ``ABM_CPU_JIT=1``) but numba is absent.
    """
    if model is not None and model.backend.is_gpu:
        return False
    setting = getattr(model, "cpu_jit", None) if model is not None else None
    if setting is None:
        mode = os.environ.get("ABM_CPU_JIT", MODE).strip().lower()
        setting = False if mode in _OFF else (True if mode in _ON else None)
    if setting is None:
        return AVAILABLE
    if setting and not AVAILABLE:
        raise RuntimeError(f"the CPU JIT path was requested but {REASON}")
    return bool(setting)


def _jit(fn):
    return _nb.njit(cache=True, nogil=True)(fn) if AVAILABLE else fn


_G = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@_jit
def _mix64(x):
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@_jit
def _max0(x):
    return 0.0 if x < 0.0 else x   # NaN stays NaN, as np.maximum(x, 0.0)


@_jit
def _grad1(field, b, pa, size, stride, dx):
    """One component of :func:`kernels.lattice.gradient_at` at flat voxel ``b``."""
    lo = 1 if pa > 0 else 0
    hi = 1 if pa < size - 1 else 0
    span = (float(lo) + float(hi)) * dx
    diff = np.float64(field[b + stride * hi]) - np.float64(field[b - stride * lo])
    return diff / max(span, 1e-300) if span > 0 else 0.0


@_jit
def _hop_loop(pos, speed_a, speed_arr, chi_a, chi_arr, rec_a, use_rec, drift, field,
              nx, ny, nz, dx, dx2, dtdx, dt, persistence, K, hop, hop_total):
    """Hop probabilities of every agent (the fused :func:`hop_probabilities`); any D > 0."""
    n = pos.shape[0]
    anyD = False
    sxy = np.int64(ny) * nz
    for i in range(n):
        sp = speed_a[i * speed_arr]
        D = sp * sp * persistence / 3.0
        if D > 0:
            anyD = True
        base = D * dt / dx2
        if not drift:
            for k in range(6):
                hop[k, i] = base
            hop_total[i] = ((((base + base) + base) + base) + base) + base
            continue
        p0, p1, p2 = np.int64(pos[i, 0]), np.int64(pos[i, 1]), np.int64(pos[i, 2])
        b = (p0 * ny + p1) * nz + p2
        w0 = _grad1(field, b, p0, nx, sxy, dx)
        w1 = _grad1(field, b, p1, ny, np.int64(nz), dx)
        w2 = _grad1(field, b, p2, nz, np.int64(1), dx)
        den = K + _max0(np.float64(field[b]))
        scale = chi_a[i * chi_arr] * K / (den * den)
        if use_rec:
            scale = scale * rec_a[i]
        w0 = w0 * scale
        w1 = w1 * scale
        w2 = w2 * scale
        norm = math.sqrt((w0 * w0 + w1 * w1) + w2 * w2)
        if norm > sp:
            f = sp / max(norm, 1e-300)
            w0 = w0 * f
            w1 = w1 * f
            w2 = w2 * f
        h0 = base + _max0(-w0) * dtdx
        h1 = base + _max0(w0) * dtdx
        h2 = base + _max0(-w1) * dtdx
        h3 = base + _max0(w1) * dtdx
        h4 = base + _max0(-w2) * dtdx
        h5 = base + _max0(w2) * dtdx
        hop[0, i] = h0
        hop[1, i] = h1
        hop[2, i] = h2
        hop[3, i] = h3
        hop[4, i] = h4
        hop[5, i] = h5
        hop_total[i] = ((((h0 + h1) + h2) + h3) + h4) + h5
    return anyD


@_jit
def _propose_loop(hop, rounds, keys, pos, nx, ny, nz, mask_move, mask_prio,
                  rows, newpos, target, prio):
    """One round's proposals (the fused :func:`propose_round`); returns their number."""
    n = keys.shape[0]
    R_ = float(rounds)
    m = 0
    for i in range(n):
        key = keys[i]
        u = float(_mix64(key ^ mask_move) >> np.uint64(11)) * (2.0 ** -53)
        cum = 0.0
        d = 0
        for k in range(6):
            cum = hop[0, i] / R_ if k == 0 else cum + hop[k, i] / R_
            if u >= cum:
                d += 1
        if d == 6:
            continue
        q0, q1, q2 = pos[i, 0], pos[i, 1], pos[i, 2]
        step = 1 if (d & 1) else -1
        ax = d >> 1
        if ax == 0:
            q0 += step
        elif ax == 1:
            q1 += step
        else:
            q2 += step
        if q0 < 0 or q0 >= nx or q1 < 0 or q1 >= ny or q2 < 0 or q2 >= nz:
            continue
        rows[m] = i
        newpos[m, 0] = q0
        newpos[m, 1] = q1
        newpos[m, 2] = q2
        target[m] = (np.int64(q0) * ny + q1) * nz + q2
        prio[m] = _mix64(key ^ mask_prio)
        m += 1
    return m


@_jit
def _place_loop(occupancy, capacity, target, key, vacate, has_vacate, tb):
    """Accept by priority within the free room, update the occupancy (place_with_exclusion)."""
    m = target.shape[0]
    nvox = occupancy.shape[0]
    ok = np.zeros(m, dtype=np.bool_)
    cnt = np.zeros(nvox, dtype=np.int32)
    for i in range(m):
        cnt[target[i]] += 1
    contested = np.empty(m, dtype=np.int64)
    nc = 0
    for i in range(m):
        t = target[i]
        free = max(capacity[t] - occupancy[t], 0)
        if cnt[t] <= free:
            ok[i] = True
        else:
            contested[nc] = i
            nc += 1
    if nc:
        sh_hi = np.uint64(64 - tb)
        sh_lo = np.uint64(tb)
        comp = np.empty(nc, dtype=np.uint64)
        for j in range(nc):
            i = contested[j]
            comp[j] = (np.uint64(target[i]) << sh_hi) | (key[i] >> sh_lo)
        order = np.argsort(comp, kind="mergesort")   # stable: ties by proposal order
        rank = 0
        prev = -1
        for j in range(nc):
            i = contested[order[j]]
            t = target[i]
            rank = rank + 1 if t == prev else 0
            prev = t
            if rank < max(capacity[t] - occupancy[t], 0):
                ok[i] = True
    for i in range(m):
        if ok[i]:
            if has_vacate:
                occupancy[vacate[i]] -= 1
            occupancy[target[i]] += 1
    return ok


@_jit
def _exchange_loop(inv, start, n, s, s_a, has_s, t, t_a, has_t, u, u_a, has_u, q, q_a, has_q,
                   st, su, qs):
    """Add one population's ``S·T``, ``S + U`` and ``Q`` to the per-voxel sums, in cell order.

    The order of the additions is that of ``np.bincount`` over the populations'
    concatenated weights; a term a population lacks adds nothing (the twin adds 0.0).
    """
    for k in range(n):
        j = inv[start + k]
        if has_s:
            sv = s[k * s_a]
            if has_t:
                st[j] += sv * t[k * t_a]
            if has_u:
                su[j] += sv + u[k * u_a]
            else:
                su[j] += sv
        elif has_u:
            su[j] += u[k * u_a]
        if has_q:
            qs[j] += q[k * q_a]


def _as_f8(v, n):
    """(float64 array, is-array flag) of a float or a float64 array (n,)."""
    if np.ndim(v) == 0:
        return np.full(1, float(v)), 0
    return np.ascontiguousarray(np.broadcast_to(np.asarray(v, dtype=np.float64), (n,))), 1


def hop_probabilities(pos, speed, persistence: float, dt: float, dx: float, n: int, field=None,
                      chi=None, K: float = 1.0, receptor=None):
    """Hop probabilities of one step, the fused :func:`kernels.cell_motion.hop_probabilities`.

    Parameters are those of the twin (NumPy arrays; the concentration at each agent
    is read from ``field`` at its voxel, as the twin's ``conc`` signal does).

    Returns
    -------
    hop : float64 array (6, n) or None
    hop_total : float64 array (n,) or None
        Identical to the twin's.
    """
    pos = np.ascontiguousarray(pos)
    sp, sp_arr = _as_f8(speed, n)
    drift = field is not None and bool(np.any(np.asarray(chi) > 0))
    ch, ch_arr = _as_f8(chi if drift else 0.0, n)
    rec = np.ascontiguousarray(receptor, dtype=np.float64) if (drift and receptor is not None) \
        else np.zeros(1)
    fld = np.ascontiguousarray(field).reshape(-1) if drift else np.zeros(1)
    nx, ny, nz = field.shape if drift else (1, 1, 1)
    hop = np.empty((6, n), dtype=np.float64)
    tot = np.empty(n, dtype=np.float64)
    anyD = _hop_loop(pos, sp, sp_arr, ch, ch_arr, rec, drift and receptor is not None, drift, fld,
                     nx, ny, nz, float(dx), float(dx) ** 2, dt / dx, float(dt), float(persistence),
                     float(K), hop, tot)
    if not drift and not anyD:
        return None, None
    return hop, tot


def _mask(purpose: int) -> np.uint64:
    return np.uint64(R._mix_scalar(int(purpose) * 0x9E3779B97F4A7C15 + 1))


def propose_round(hop, rounds: int, r: int, keys, pos, shape):
    """One round of hop proposals, the fused :func:`kernels.cell_motion.propose_round`.

    Returns
    -------
    rows, newpos, target, prio
        Identical to the twin's (rows int64, newpos int32 (m, 3), target int64, prio uint64).
    """
    n = int(keys.shape[0])
    pos = np.ascontiguousarray(pos)
    rows = np.empty(n, np.int64)
    newpos = np.empty((n, 3), pos.dtype)
    target = np.empty(n, np.int64)
    prio = np.empty(n, np.uint64)
    nx, ny, nz = (int(s) for s in shape)
    m = _propose_loop(np.ascontiguousarray(hop), int(rounds), np.ascontiguousarray(keys), pos,
                      nx, ny, nz, _mask(R.PURPOSES["move"] + 16 * r),
                      _mask(R.PURPOSES["priority"] + 16 * r), rows, newpos, target, prio)
    return rows[:m], newpos[:m], target[:m], prio[:m]


def place_with_exclusion(occupancy, capacity, target, key, vacate=None):
    """The fused :func:`abm.cells.placement.place_with_exclusion` (NumPy arrays, in place).

    Returns
    -------
    bool array (m,)
        Identical to the twin's; ``occupancy`` is updated the same way.
    """
    m = int(target.shape[0])
    if m == 0:
        return np.zeros(0, dtype=bool)
    tb = max(1, int(occupancy.shape[0]).bit_length())
    vac = np.ascontiguousarray(vacate, dtype=np.int64) if vacate is not None else np.zeros(1, np.int64)
    return _place_loop(occupancy, capacity, np.ascontiguousarray(target, dtype=np.int64),
                       np.ascontiguousarray(key, dtype=np.uint64), vac, vacate is not None, tb)


def exchange_sums(inv, m: int, terms):
    """Per-voxel exchange sums of one field, the fused :func:`abm.cells.phases.exchange.exchange_sums_numpy`.

    Parameters and returns are those of the twin (NumPy arrays); the sums are identical to
    the twin's, bit for bit.
    """
    inv = np.ascontiguousarray(inv, dtype=np.int64)
    st, su, qs = np.zeros(m), np.zeros(m), np.zeros(m)
    any_st = any_su = any_q = False
    start = 0
    one = np.zeros(1)
    for n, S, T, U, Q in terms:
        n = int(n)
        arr = [(one, 0, False) if v is None else (*_as_f8(v, n), True) for v in (S, T, U, Q)]
        (s, sa, hs), (t, ta, ht), (u, ua, hu), (q, qa, hq) = arr
        if n and (hs or hu or hq):
            _exchange_loop(inv, start, n, s, sa, hs, t, ta, ht, u, ua, hu, q, qa, hq, st, su, qs)
        any_st |= hs and ht
        any_su |= hs or hu
        any_q |= hq
        start += n
    return st, su, qs, (any_st, any_su, any_q)


def warm_up() -> float:
    """Compile (or load from numba's cache) every loop for the common argument types.

    Returns
    -------
    float
        Seconds it took (0.0 without numba).
    """
    if not AVAILABLE:
        return 0.0
    t0 = time.perf_counter()
    pos = np.array([[0, 1, 1], [1, 1, 1]], dtype=np.int32)
    keys = R.agent_keys(np, 1, 1, np.arange(2))
    occ = np.zeros(27, np.int32)
    cap = np.full(27, 2, np.int32)
    for fdt in (np.float64, np.float32):
        field = np.arange(27, dtype=fdt).reshape(3, 3, 3)
        for sp, chi, rec in ((1.0, 1.0, None), (np.ones(2), np.ones(2), np.ones(2))):
            hop_probabilities(pos, sp, 1.0, 1.0, 1.0, 2, field=field, chi=chi, receptor=rec)
    hop, _ = hop_probabilities(pos, 1.0, 1.0, 1.0, 1.0, 2)
    _, _, target, prio = propose_round(hop, 1, 0, keys, pos, (3, 3, 3))
    place_with_exclusion(occ, cap, np.array([4, 4, 4]), np.arange(3, dtype=np.uint64),
                         vacate=np.array([1, 2, 3]))
    place_with_exclusion(occ, cap, np.array([5]), np.arange(1, dtype=np.uint64))
    exchange_sums(np.array([0, 1, 0]), 2, [(2, np.ones(2), 1.0, None, np.ones(2)),
                                           (1, 1.0, np.ones(1), np.ones(1), None)])
    return time.perf_counter() - t0
