"""The CPU fast path (:mod:`kernels.cpu_jit`, numba) against its NumPy twins, and whole runs.

The NumPy twins (:func:`kernels.cell_motion.hop_probabilities`,
:func:`kernels.cell_motion.propose_round`,
:func:`abm.cells.placement.place_with_exclusion`) are the reference: the fused loops
must give identical probabilities, proposals, winners and occupancy, and a whole
model run with the JIT path must equal the run with the twins.
"""

import numpy as np
import pytest

from abm import BMSC, TissueModel
from abm.cells.placement import place_with_exclusion
from kernels import cell_motion as CM
from kernels import cpu_jit as J
from kernels import lattice as L
from kernels import rng as R

pytestmark = pytest.mark.skipif(not J.AVAILABLE, reason=J.REASON or "numba absent")


def _case(n, shape, seed=0, fdt=np.float64):
    g = np.random.default_rng(seed)
    pos = np.stack([g.integers(0, s, n) for s in shape], 1).astype(np.int32)
    field = g.random(shape).astype(fdt)
    return g, pos, field


@pytest.mark.parametrize("n", [0, 1, 2, 500])
@pytest.mark.parametrize("shape", [(7, 5, 6), (1, 4, 3), (1, 1, 1)])
@pytest.mark.parametrize("fdt", [np.float64, np.float32])
def test_hop_probabilities_identical(n, shape, fdt):
    g, pos, field = _case(n, shape, fdt=fdt)
    flat = L.flat_index(np, pos, shape)
    conc = field.reshape(-1)[flat].astype(np.float64)
    for speed, chi, rec in ((g.random(n) * 3, g.random(n) * 50, g.random(n)),
                            (1.5, 20.0, None), (g.random(n), 0.0, None), (0.0, 1e6, None)):
        a = CM.hop_probabilities(np, pos, speed, 5.0, 1.0, 2.0, n, field=field, conc=conc,
                                 chi=chi, K=0.3, receptor=rec)
        b = J.hop_probabilities(pos, speed, 5.0, 1.0, 2.0, n, field=field, chi=chi, K=0.3,
                                receptor=rec)
        for x, y in zip(a, b):
            assert (x is None) == (y is None)
            if x is not None:
                np.testing.assert_array_equal(x, y)
    assert J.hop_probabilities(pos, 0.0, 5.0, 1.0, 2.0, n) == (None, None)


@pytest.mark.parametrize("n", [0, 1, 300])
@pytest.mark.parametrize("shape", [(6, 5, 4), (1, 1, 2)])
def test_propose_and_place_identical(n, shape):
    g, pos, field = _case(n, shape, seed=1)
    keys = R.agent_keys(np, 7, 3, np.arange(n) * 5 + 2)
    hop, tot = CM.hop_probabilities(np, pos, g.random(n) * 4, 5.0, 1.0, 2.0, n, field=field,
                                    conc=lambda: field.reshape(-1)[L.flat_index(np, pos, shape)],
                                    chi=30.0, K=0.2)
    rounds = CM.rounds_for(float(tot.max())) if n else 1
    assert n == 0 or rounds > 1   # a split step is exercised
    flat = L.flat_index(np, pos, shape)
    nvox = int(np.prod(shape))
    for r in range(rounds):
        x = CM.propose_round(np, hop, rounds, r, keys, pos, shape)
        y = J.propose_round(hop, rounds, r, keys, pos, shape)
        for p, q in zip(x, y):
            assert p.dtype == q.dtype
            np.testing.assert_array_equal(p, q)
        rows, _, target, prio = x
        for cap_v in (0, 1, 2, 50):     # full voxels, crowding, plenty of room
            occ = g.integers(0, 3, nvox).astype(np.int32)
            cap = np.full(nvox, cap_v, np.int32)
            o1, o2 = occ.copy(), occ.copy()
            ok1 = place_with_exclusion(np, o1, cap, target, prio, vacate=flat[rows])
            ok2 = J.place_with_exclusion(o2, cap, target, prio, vacate=flat[rows])
            np.testing.assert_array_equal(ok1, ok2)
            np.testing.assert_array_equal(o1, o2)
            o1, o2 = occ.copy(), occ.copy()   # no vacate (division)
            np.testing.assert_array_equal(place_with_exclusion(np, o1, cap, target, prio),
                                          J.place_with_exclusion(o2, cap, target, prio))
            np.testing.assert_array_equal(o1, o2)


def test_place_ties_by_proposal_order():
    # equal priorities (after truncation of the low bits) are resolved by input order
    occ = np.zeros(4, np.int32)
    cap = np.full(4, 2, np.int32)
    target = np.array([3, 3, 3, 3, 1], np.int64)
    key = np.array([5, 5, 1, 5, 0], np.uint64) << np.uint64(8)
    o1, o2 = occ.copy(), occ.copy()
    np.testing.assert_array_equal(place_with_exclusion(np, o1, cap, target, key),
                                  J.place_with_exclusion(o2, cap, target, key))
    np.testing.assert_array_equal(o1, o2)


def _run(flag, steps=4):
    m = TissueModel(shape=(12, 10, 8), dx=20.0, fields=["SDF-1a", "VEGF"], cell_types=[BMSC],
                    rules=[("BMSC", "SDF-1a", "increases", "speed", 3.0, 0.5, 2.0)],
                    parameters={"BMSC": {"chemotaxis": 200.0, "speed": 1.0}}, capacity=2,
                    seed=11)
    m.cpu_jit = flag
    ramp = np.linspace(0.0, 2.0, 12)
    m.fields.u[m.fields.index("SDF-1a")][...] = ramp[:, None, None]
    m.seed_cells(BMSC, 1500)      # 1500 of 1920 slots: crowded
    for _ in range(steps):
        m.step()
    pop = m.populations["BMSC"]
    return m, {k: np.array(v) for k, v in pop.columns.items()}


def test_whole_model_identical():
    m1, a = _run(False)
    m2, b = _run(True)
    assert a.keys() == b.keys()
    for k in a:
        if np.issubdtype(a[k].dtype, np.floating):
            np.testing.assert_allclose(a[k], b[k], rtol=0, atol=1e-9)
        else:
            np.testing.assert_array_equal(a[k], b[k])
    np.testing.assert_array_equal(m1.occupancy, m2.occupancy)
    for u1, u2 in zip(m1.fields.u, m2.fields.u):
        np.testing.assert_allclose(u1, u2, rtol=0, atol=1e-9)
    start = _run(False, steps=0)[1]
    at0 = start["pos"][np.searchsorted(start["id"], a["id"])]
    assert (a["pos"] != at0).any(axis=1).mean() > 0.1   # the cells did move


def test_selection(monkeypatch):
    m, _ = _run(None, steps=0)
    monkeypatch.setenv("ABM_CPU_JIT", "off")
    assert not J.enabled(m)
    monkeypatch.setenv("ABM_CPU_JIT", "auto")
    assert J.enabled(m)
    m.cpu_jit = False
    assert not J.enabled(m)


def test_warm_up_reports_time():
    assert J.warm_up() >= 0.0


def _exchange_terms(g, sizes, kinds):
    """Per population (n, S, T, U, Q), each term an array, a float or None by ``kinds``."""
    terms = []
    for n, kind in zip(sizes, kinds):
        row = [n]
        for j, k in enumerate(kind):
            row.append(None if k == "-" else (float(g.random() * 3) if k == "s"
                                              else g.random(n) * (j + 1)))
        terms.append(tuple(row))
    return terms


@pytest.mark.parametrize("sizes, kinds", [
    ((0,), ("aaaa",)),
    ((1,), ("aaaa",)),
    ((500, 3, 200), ("aaaa", "s-s-", "-as-")),
    ((300, 300), ("as--", "---a")),
    ((40, 60), ("----", "----")),
    ((7, 1000), ("ssss", "a-a-")),
])
def test_exchange_sums_identical(sizes, kinds):
    """The fused exchange sums equal the NumPy twin's bit for bit (arrays, floats, absent terms)."""
    from abm.cells.phases.exchange import exchange_sums_numpy

    g = np.random.default_rng(sum(sizes) + len(kinds))
    terms = _exchange_terms(g, sizes, kinds)
    n = sum(sizes)
    m = max(1, n // 3)
    inv = g.integers(0, m, n)                   # several cells share a slot, in any order
    a = exchange_sums_numpy(np, inv, m, terms)
    b = J.exchange_sums(inv, m, terms)
    assert a[3] == b[3]
    for x, y in zip(a[:3], b[:3]):
        assert x.dtype == y.dtype == np.float64 and x.shape == y.shape == (m,)
        np.testing.assert_array_equal(x, y)
    if n and any(k[0] != "-" for k in kinds):
        assert a[1].sum() > 0                   # something was summed at all


def _exchange_run(flag, steps=3):
    from abm import Microglia

    m = TissueModel(shape=(10, 8, 6), dx=20.0, fields=["SDF-1a", "VEGF", "TNF-a"],
                    cell_types=[BMSC, Microglia], capacity=3, seed=5)
    m.cpu_jit = flag
    m.seed_cells(BMSC, 300)
    m.seed_cells(Microglia, 200)
    for s in range(steps):
        m.release("VEGF", (s, 2, 3), 5.0)         # an ordinary Mesa agent's release too
        m.step()
    return m


def test_whole_model_with_two_populations_has_identical_fields():
    """Exchange of two cell types and a custom release: the fields equal the twin's bit for bit."""
    m1, m2 = _exchange_run(False), _exchange_run(True)
    for sp, u1, u2 in zip(m1.fields.species, m1.fields.u, m2.fields.u):
        np.testing.assert_array_equal(u1, u2, err_msg=sp.name)
    assert any(float(u.max()) > 0 for u in m1.fields.u)
