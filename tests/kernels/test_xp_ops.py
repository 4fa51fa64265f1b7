"""The NumPy twins of the CuPy-specific calls (kernels.xp_ops) against facts about their results."""

from __future__ import annotations

import numpy as np

from kernels import xp_ops


def test_scatter_add_accumulates_repeated_indices():
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 7, size=200)
    val = rng.uniform(size=200)
    out = np.zeros(7)
    xp_ops.scatter_add(np, out, idx, val)
    # a plain fancy-index += would keep only one value per repeated index
    for k in range(7):
        assert np.isclose(out[k], val[idx == k].sum(), rtol=1e-14, atol=0)


def test_unique_inverse_is_flat_and_rebuilds_the_input():
    a = np.array([[5, 3, 5], [9, 3, 3]])
    uniq, inv = xp_ops.unique_inverse(np, a)
    assert uniq.tolist() == [3, 5, 9]
    assert inv.shape == (6,)
    assert np.array_equal(uniq[inv], a.ravel())


def test_argsort_stable_keeps_ties_in_input_order():
    keys = np.array([2, 1, 2, 0, 1, 2] * 50, dtype=np.uint64)
    order = xp_ops.argsort_stable(np, keys)
    assert np.all(np.diff(keys[order].astype(np.int64)) >= 0)
    for v in (0, 1, 2):
        pos = order[keys[order] == v]
        assert np.all(np.diff(pos) > 0)  # equal keys: increasing original positions


def test_bincount_counts_and_weights_with_minlength():
    x = np.array([0, 2, 2, 4])
    assert xp_ops.bincount(np, x, minlength=7).tolist() == [1, 0, 2, 0, 1, 0, 0]
    w = xp_ops.bincount(np, x, weights=np.array([0.5, 1.0, 2.0, 4.0]), minlength=3)
    assert w.dtype == np.float64 and w.tolist() == [0.5, 0.0, 3.0, 0.0, 4.0]
