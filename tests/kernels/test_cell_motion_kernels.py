"""The fused motion kernels of kernels/cell_motion.py on the CUDA shim, against their NumPy twins.

The kernels run through :mod:`kernels.cuda_shim` (the same CUDA source compiled as
C++); the references are the NumPy code the NumPy backend runs
(:func:`kernels.cell_motion.hop_probabilities`, :func:`~kernels.cell_motion.propose_round`,
:func:`abm.cells.placement.place_with_exclusion`, :mod:`kernels.rng`). Everything is
compared for equality, floats included: the kernel does the float64 operations of the
twin in the same order and the shim compiles without FMA contraction (on a GPU,
NVRTC is kept from contracting by ``__dmul_rn``/``__dadd_rn``). The whole-model runs
compare integer columns and positions for equality and the float columns (set by the
phases that are not fused) within 1e-9.

Host reads are counted with :class:`Device`, a NumPy array that records ``float``,
``int``, ``bool``, ``__index__``, ``item`` and ``tolist`` while the motion phases run
(what would copy a device value to the host on CuPy). It does not see boolean-mask
indexing or ``np.asarray`` (the motion path's GPU branch uses neither).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from kernels import cell_motion as CM
from kernels import cuda_shim as S
from kernels import rng as R
from kernels.backend import Backend

pytestmark = pytest.mark.skipif(S.compiler() is None,
                                reason="no C++ compiler (g++): the CUDA shim cannot build kernels")

ROOT = Path(__file__).resolve().parents[2]
SIZES = [1, 7, 255, 257, 1000]   # one agent, under a block, a block +- 1, several blocks


@pytest.fixture
def cp(monkeypatch):
    """The shim's stand-in cupy module (cupyx stand-ins installed, kernel cache isolated)."""
    for name, mod in S.numpy_cupyx().items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(CM, "_MODULES", {})
    return S.numpy_cupy()


# ------------------------------------------------------------------ the generator port
@pytest.mark.parametrize("n", SIZES)
def test_rng_port_is_bit_identical_to_kernels_rng(cp, n):
    rng = np.random.default_rng(n)
    ids = rng.integers(-2**63, 2**63 - 1, size=n, dtype=np.int64)
    for seed, step, purpose in [(0, 0, 1), (7, 3, 2), (-5, 2**40, 3), (2**64 - 1, 17, 100),
                                (12345, 999, R.PURPOSES["move"] + 16 * 3), (1, 2, -1)]:
        keys, bits, u = CM.rng_port(cp, seed, step, ids, purpose)
        k0 = R.agent_keys(np, seed, step, ids)
        np.testing.assert_array_equal(keys, k0)
        np.testing.assert_array_equal(bits, R.draw_bits(np, k0, purpose))
        np.testing.assert_array_equal(u, R.uniform_from_keys(np, k0, purpose))
        assert ((u >= 0) & (u < 1)).all()


# ------------------------------------------------------------------ propose
def _inputs(n, shape, fdtype, case, seed):
    """Random agents (a third of them on the lattice faces) and motion parameters."""
    rng = np.random.default_rng(seed)
    pos = np.stack([rng.integers(0, s, n) for s in shape], axis=1).astype(np.int32)
    face = rng.random(n) < 0.35
    ax = rng.integers(0, 3, n)
    side = rng.integers(0, 2, n)
    for i in np.flatnonzero(face):
        pos[i, ax[i]] = 0 if side[i] == 0 else shape[ax[i]] - 1
    keys = R.agent_keys(np, seed, 5, rng.integers(0, 10**9, n))
    field = (rng.uniform(0, 4, shape) + np.linspace(0, 30, shape[0])[:, None, None]).astype(fdtype)
    kw = dict(speed=rng.uniform(0, 6, n), persistence=2.5, field=field,
              chi=rng.uniform(0, 2000, n), K=1.5, receptor=rng.uniform(0, 1, n))
    if case == "scalars":
        kw.update(speed=3.0, chi=800.0, receptor=None)
    elif case == "zero_speed":
        kw.update(speed=np.zeros(n), chi=0.0)
    elif case == "zero_speed_scalar":
        kw.update(speed=0.0, chi=0.0)
    elif case == "saturated":          # c >> K: the receptors are full, the drift vanishes
        kw.update(field=(field + 1e7).astype(fdtype), chi=1e9)
    elif case == "capped":             # a strong gradient: the drift is capped at the speed
        kw.update(chi=rng.uniform(1e5, 1e6, n))
    elif case == "chi_all_zero_array":  # the device flag says no drift
        kw.update(chi=np.zeros(n))
    elif case == "no_field":
        kw.update(field=None, chi=None, receptor=None)
    cap = rng.integers(0, 4, int(np.prod(shape))).astype(np.int32)
    occ = np.minimum(rng.integers(0, 5, cap.shape), cap + 1).astype(np.int32)  # some over-full
    return pos, keys, kw, occ, cap


def _twin_hop(pos, kw, dt, dx, shape):
    n = pos.shape[0]
    f = kw["field"]
    conc = None if f is None else f.reshape(-1)[
        ((pos[:, 0].astype(np.int64) * shape[1] + pos[:, 1]) * shape[2] + pos[:, 2])
    ].astype(np.float64)
    return CM.hop_probabilities(np, pos, kw["speed"], kw["persistence"], dt, dx, n, field=f,
                                conc=conc, chi=kw["chi"], K=kw["K"], receptor=kw["receptor"])


def _check_round(cp_prop, twin, occ, cap, shape):
    rows, newpos, target, prio = twin
    nvox = int(np.prod(shape))
    tb = max(1, nvox.bit_length())
    got_rows = np.flatnonzero(cp_prop.target < nvox)
    np.testing.assert_array_equal(got_rows, rows)
    np.testing.assert_array_equal(cp_prop.target[rows], target)
    np.testing.assert_array_equal(
        cp_prop.comp[rows], (target.astype(np.uint64) << np.uint64(64 - tb)) | (prio >> np.uint64(tb)))
    np.testing.assert_array_equal(cp_prop.room[rows], np.maximum(cap - occ, 0)[target])
    assert (cp_prop.comp[cp_prop.target >= nvox] > (np.uint64(nvox - 1) << np.uint64(64 - tb))).all()
    assert np.array_equal(np.stack(np.unravel_index(target, shape), axis=1), newpos)


CASES = ["arrays", "scalars", "zero_speed", "zero_speed_scalar", "saturated", "capped",
         "chi_all_zero_array", "no_field"]


@pytest.mark.parametrize("shape", [(6, 5, 7), (1, 4, 9)])  # a 1-wide axis: no gradient along it
@pytest.mark.parametrize("fdtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("n", SIZES)
def test_propose_kernel_matches_numpy_twin(cp, n, case, fdtype, shape):
    dt, dx = 1.0, 10.0
    pos, keys, kw, occ, cap = _inputs(n, shape, fdtype, case, seed=hash((n, case)) % 2**31)
    hop, tot = _twin_hop(pos, kw, dt, dx, shape)
    prop = CM.propose(cp, pos, keys, kw["speed"], kw["persistence"], dt, dx, shape, occ, cap,
                      field=kw["field"], chi=0.0 if kw["chi"] is None else kw["chi"], K=kw["K"],
                      receptor=kw["receptor"])
    if hop is None:   # nobody moves: the kernel has zero probabilities and stays put
        assert case.startswith("zero_speed") or case == "no_field"
        assert not prop.hop.any() and not prop.hop_total.any()
        assert (prop.target == np.prod(shape)).all()
        return
    np.testing.assert_array_equal(prop.hop, hop)
    np.testing.assert_array_equal(prop.hop_total, tot)
    _check_round(prop, CM.propose_round(np, hop, 1, 0, keys, pos, shape), occ, cap, shape)
    if case == "saturated":
        assert np.abs(hop[1] - hop[0]).max() < 1e-5  # hardly any drift left
    # rounds > 1: every round, from the stored probabilities and the kernel computing them
    rounds = 3
    for r in range(rounds):
        moved = pos.copy()
        moved[:, 2] = (moved[:, 2] + r) % shape[2]
        twin = CM.propose_round(np, hop, rounds, r, keys, moved, shape)
        again = CM.propose(cp, moved, keys, kw["speed"], kw["persistence"], dt, dx, shape, occ,
                           cap, rounds=rounds, r=r, hop=prop.hop, hop_total=prop.hop_total)
        _check_round(again, twin, occ, cap, shape)
    fresh = CM.propose(cp, pos, keys, kw["speed"], kw["persistence"], dt, dx, shape, occ, cap,
                       field=kw["field"], chi=0.0 if kw["chi"] is None else kw["chi"],
                       K=kw["K"], receptor=kw["receptor"], rounds=rounds, r=2)
    _check_round(fresh, CM.propose_round(np, hop, rounds, 2, keys, pos, shape), occ, cap, shape)


@pytest.mark.parametrize("rounds", [1, 2, 3])
def test_propose_draw_at_the_exact_thresholds(cp, rounds):
    # cumulative probabilities equal to the draw itself: ``u >= cum`` decides, as in NumPy
    shape, n = (5, 5, 5), 600
    rng = np.random.default_rng(rounds)
    pos = np.stack([rng.integers(0, 5, n) for _ in range(3)], axis=1).astype(np.int32)
    keys = R.agent_keys(np, 9, 4, np.arange(n))
    r = rounds - 1
    u = R.uniform_from_keys(np, keys, R.PURPOSES["move"] + 16 * r)
    k = rng.integers(0, 5, n)
    hop = np.zeros((6, n))
    hop[k, np.arange(n)] = u * rounds   # cum[k] == u exactly for 1 and 2 rounds, within an ulp for 3
    hop[k + 1, np.arange(n)] = 0.25
    occ = np.zeros(125, np.int32)
    cap = np.ones(125, np.int32)
    twin = CM.propose_round(np, hop, rounds, r, keys, pos, shape)
    got = CM.propose(cp, pos, keys, 1.0, 1.0, 1.0, 10.0, shape, occ, cap, rounds=rounds, r=r,
                     hop=hop, hop_total=hop.sum(axis=0))
    _check_round(got, twin, occ, cap, shape)


def test_grid_stride_loops_cover_every_agent(cp, monkeypatch):
    # one block of 256 threads for 1000 agents: each thread takes several (the GPU caps
    # the grid at 65535 * 8 blocks), with the results of one thread per agent
    shape = (6, 5, 7)
    pos, keys, kw, occ, cap = _inputs(1000, shape, np.float64, "arrays", seed=5)
    args = (cp, pos, keys, kw["speed"], kw["persistence"], 1.0, 10.0, shape, occ, cap)
    kw2 = dict(field=kw["field"], chi=kw["chi"], K=kw["K"], receptor=kw["receptor"])
    full = CM.propose(*args, **kw2)
    grid = CM._grid
    monkeypatch.setattr(CM, "_grid", lambda n: (1,))
    one = CM.propose(*args, **kw2)
    for name in ("hop", "hop_total", "target", "comp", "room"):
        np.testing.assert_array_equal(getattr(one, name), getattr(full, name), err_msg=name)
    flat = np.ravel_multi_index(pos.T, shape).astype(np.int64)
    o1, p1, f1 = np.bincount(flat, minlength=210).astype(np.int32), pos.copy(), flat.copy()
    o2, p2, f2 = o1.copy(), pos.copy(), flat.copy()
    CM.commit(cp, full.comp, full.target, full.room, o1, p1, f1, shape)
    monkeypatch.setattr(CM, "_grid", grid)
    CM.commit(cp, full.comp, full.target, full.room, o2, p2, f2, shape)
    assert np.array_equal(o1, o2) and np.array_equal(p1, p2) and np.array_equal(f1, f2)
    assert not np.array_equal(p1, pos)


def test_propose_sees_the_drift_and_its_direction(cp):
    # a ramp along x+: chemotaxis makes x+ more likely than x-, and the comparison
    # above would fail if the kernel dropped the drift
    shape = (9, 4, 4)
    n = 50
    pos = np.tile(np.array([[4, 2, 2]], np.int32), (n, 1))
    keys = R.agent_keys(np, 1, 1, np.arange(n))
    field = np.broadcast_to(np.linspace(0, 8, 9)[:, None, None], shape).copy()
    occ = np.zeros(np.prod(shape), np.int32)
    cap = np.full(np.prod(shape), 4, np.int32)
    p = CM.propose(cp, pos, keys, 1.0, 1.0, 1.0, 10.0, shape, occ, cap, field=field, chi=50.0)
    assert (p.hop[1] > p.hop[0]).all() and np.allclose(p.hop[2:], p.hop[2])


# ------------------------------------------------------------------ commit
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("ties", [False, True])
def test_commit_equals_place_with_exclusion_under_crowding(cp, n, ties):
    from abm.cells.placement import place_with_exclusion

    shape = (3, 4, 5)
    nvox = int(np.prod(shape))
    rng = np.random.default_rng(n + 1000 * ties)
    won = lost = 0
    for trial in range(5):
        flat = rng.integers(0, nvox, n).astype(np.int64)
        occ = np.bincount(flat, minlength=nvox).astype(np.int32)
        cap = (occ + rng.integers(-1, 3, nvox)).clip(0).astype(np.int32)  # some over-full
        pos = np.stack(np.unravel_index(flat, shape), axis=1).astype(np.int32)
        moving = rng.random(n) < 0.7
        target = np.where(moving, rng.integers(0, max(2, nvox // 6), n), nvox).astype(np.int64)
        key = rng.integers(0, 2**64, n, dtype=np.uint64)
        if ties:
            key = (key % np.uint64(3)) << np.uint64(62)   # many equal keys: input order decides
        rows = np.flatnonzero(moving)
        # the NumPy path
        occ_np, pos_np = occ.copy(), pos.copy()
        ok = place_with_exclusion(np, occ_np, cap, target[rows], key[rows], vacate=flat[rows])
        pos_np[rows[ok]] = np.stack(np.unravel_index(target[rows][ok], shape), axis=1)
        # the kernel
        tb = max(1, nvox.bit_length())
        comp = np.where(moving, (target.astype(np.uint64) << np.uint64(64 - tb))
                        | (key >> np.uint64(tb)), np.uint64(nvox) << np.uint64(64 - tb))
        room = np.where(moving, np.maximum(cap - occ, 0)[np.minimum(target, nvox - 1)], 0)
        occ_k, pos_k, flat_k = occ.copy(), pos.copy(), flat.copy()
        CM.commit(cp, comp.astype(np.uint64), target, room.astype(np.int32), occ_k, pos_k,
                  flat_k, shape)
        np.testing.assert_array_equal(occ_k, occ_np)
        np.testing.assert_array_equal(pos_k, pos_np)
        np.testing.assert_array_equal(flat_k, np.ravel_multi_index(pos_np.T, shape))
        assert (occ_k <= np.maximum(cap, occ)).all() and occ_k.sum() == n
        won += int(ok.sum())
        lost += int(rows.size - ok.sum())
    if n > 50:
        assert won > 0 and lost > 0   # crowded: some win, some lose


# ------------------------------------------------------------------ whole model runs
class Device(np.ndarray):
    """A NumPy array that counts the reads that would copy a device value to the host."""

    counting = False
    reads: list = []

    def _read(self, how):
        if Device.counting:
            Device.reads.append(how)
        return self.view(np.ndarray)

    def __float__(self):
        return float(self._read("float"))

    def __int__(self):
        return int(self._read("int"))

    def __index__(self):
        return self._read("index").__index__()

    def __bool__(self):
        return bool(self._read("bool"))

    def item(self, *a):
        return self._read("item").item(*a)

    def tolist(self):
        return self._read("tolist").tolist()


def _wrap(r):
    if isinstance(r, np.ndarray) and not isinstance(r, Device):
        return r.view(Device)
    if isinstance(r, np.generic):
        return np.asarray(r).view(Device)
    if isinstance(r, tuple):
        return tuple(_wrap(v) for v in r)
    return r


class _DeviceCupy(types.ModuleType):
    """The shim's cupy stand-in whose functions return :class:`Device` arrays."""

    def __init__(self, base):
        super().__init__("cupy_cpu_shim_counted")
        self._base = base

    def __getattr__(self, name):
        v = getattr(self._base, name)
        if callable(v) and not isinstance(v, type) and name not in ("RawModule", "ElementwiseKernel"):
            return lambda *a, **k: _wrap(v(*a, **k))
        return v


def _scenario(backend, fdtype, steps, seed=3):
    """Two motile populations, rule-driven chemotaxis on a ramp, crowding, 4 rounds a step."""
    from abm import BMSC, Microglia, TissueModel

    m = TissueModel((12, 10, 9), 20.0, fields=("SDF-1a", "VEGF", "exosome"),
                    cell_types=[BMSC, Microglia], capacity=1, seed=seed, backend=backend,
                    field_dtype=fdtype,
                    parameters={"BMSC": {"speed": 12.0, "persistence": 5.0, "chemotaxis": 200.0,
                                         "chemotaxis_half_saturation": 2.0, "division": 0.01},
                                "Microglia": {"speed": 3.0, "persistence": 2.0,
                                              "transition:M0->M1": 0.02}},
                    rules=[("BMSC", "SDF-1a", "increases", "chemotaxis", 2000.0, 3.0, 2),
                           ("BMSC", "SDF-1a", "increases", "speed", 16.0, 4.0, 1)])
    m.fields.u[0][...] = m.xp.asarray(np.linspace(0, 12, 12))[:, None, None]
    m.seed_cells(BMSC, 350)
    m.seed_cells(Microglia, 300)
    out = []
    for _ in range(steps):
        m.step()
        out.append({f"{name}.{k}": np.array(np.asarray(v), copy=True)
                    for name, pop in m.populations.items() for k, v in pop.columns.items()})
    return m, out


# float32 fields: the field engine's GPU branch (abm/fields/solver.py, _keep_exchange_bounds)
# divides by ``maximum(su, 1e-300)``, which is 0 in float32, in the branch ``where`` drops;
# NumPy warns about that 0/0 on the shim. Not a motion matter, so that one warning is let be.
@pytest.mark.parametrize("fdtype", [
    "float64", pytest.param("float32", marks=pytest.mark.filterwarnings(
        "ignore:invalid value encountered in divide:RuntimeWarning"))])
def test_model_on_the_shim_moves_exactly_as_numpy_with_one_host_sync_per_step(
        cp, monkeypatch, fdtype):
    import importlib

    from abm.cells import phases
    D = importlib.import_module("abm.cells.phases.decide")  # the module, not the function

    steps = 6
    _, ref = _scenario("numpy", fdtype, steps)
    dev = _DeviceCupy(cp)
    per_step, in_motion = [], []

    def counted(fn):
        def run(*a, **k):
            Device.counting = True
            try:
                return fn(*a, **k)
            finally:
                Device.counting = False
        return run

    monkeypatch.setattr(Device, "reads", [])
    monkeypatch.setattr(D, "_motion", counted(D._motion))
    monkeypatch.setattr(phases, "move", counted(phases.move))
    fused = {"propose": 0, "commit": 0}
    for k in fused:
        fn = getattr(CM, k)

        def spy(*a, _fn=fn, _k=k, **kw):
            fused[_k] += 1
            return _fn(*a, **kw)
        monkeypatch.setattr(CM, k, spy)
    syncs0 = CM.HOST_SYNCS["max_hop_total"]
    model, got = _scenario(Backend("cupy", dev, "CPU shim, counted"), fdtype, 0)
    for s in range(steps):
        before = len(Device.reads)
        model.step()
        in_motion.append(Device.reads[before:])
        got.append({f"{name}.{k}": np.array(np.asarray(v), copy=True)
                    for name, pop in model.populations.items() for k, v in pop.columns.items()})
        per_step.append(CM.HOST_SYNCS["max_hop_total"])
    assert fused["commit"] >= 4 * steps   # the GPU branch ran, 4 rounds
    assert fused["propose"] > 0
    # the one host read of motion per step: the largest hop total, for the number of rounds
    assert [len(r) for r in in_motion] == [1] * steps, in_motion
    assert all(r == ["float"] for r in in_motion)
    assert np.diff([syncs0] + per_step).tolist() == [1] * steps
    for s, (a, b) in enumerate(zip(ref, got)):
        assert a.keys() == b.keys()
        for k in a:
            if a[k].dtype.kind in "iub":
                np.testing.assert_array_equal(a[k], b[k], err_msg=f"step {s + 1} {k}")
            else:
                np.testing.assert_allclose(a[k], b[k], rtol=1e-9, atol=1e-12,
                                           err_msg=f"step {s + 1} {k}")
    assert not np.array_equal(ref[0]["BMSC.pos"][:50], ref[-1]["BMSC.pos"][:50])  # they moved


def test_life_cycle_scenario_on_the_shim_matches_numpy(cp, monkeypatch):
    # the cell layer's own life-cycle scenario (division, death, differentiation, states)
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "cells"))
    from test_cell_life import _run

    a = _run(7, steps=12, backend="numpy")
    b = _run(7, steps=12, backend=Backend("cupy", cp, "CPU shim"))
    assert a.keys() == b.keys()
    for k in a:
        if a[k].dtype.kind in "iub":
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        else:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-9, atol=1e-12, err_msg=k)
