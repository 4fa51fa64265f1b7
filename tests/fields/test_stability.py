"""Stability at any step, sub-step reporting, and stopping on NaN/Inf."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm import FieldNotFiniteError, FieldSolver, Species, TissueClass

DX = 20.0


def test_substeps_follow_dt_D_over_dx2():
    """Explicit sub-steps: ceil(dt · (6 D/dx² + λ) / 0.9) for an interior voxel of uniform tissue."""
    f = FieldSolver((8, 8, 8), DX, [Species("A", 4200.0, 0.018), Species("B", 60.0, 0.001)],
                    scheme="explicit")
    for dt in (0.1, 1.0, 6.0):
        subs = f.substeps(dt)
        assert subs["A"] == math.ceil(dt * (6 * 4200.0 / DX**2 + 0.018) / 0.9)
        assert subs["B"] == max(1, math.ceil(dt * (6 * 60.0 / DX**2 + 0.001) / 0.9))
    assert "sub-steps per 1 min step" in f.describe(1.0)
    g = FieldSolver((8, 8, 8), DX, [Species("A", 4200.0)])
    assert g.substeps(1.0) == {"A": 1} and "spectral" in g.describe()


@pytest.mark.parametrize("scheme", ["spectral", "explicit"])
def test_huge_step_stays_bounded_and_positive(scheme, rng):
    """A step 1000x the explicit limit: no growth, no negative values (maximum principle)."""
    f = FieldSolver((10, 10, 10), DX, [Species("A", 4200.0)], scheme=scheme)
    init = rng.random((10, 10, 10))
    f.field("A")[...] = init
    for _ in range(3):
        f.step(1000.0 * DX**2 / (6 * 4200.0))
    u = f.field_numpy("A")
    assert u.min() >= init.min() - 1e-12 and u.max() <= init.max() + 1e-12
    assert np.isclose(u.std(), 0, atol=1e-6)  # it has relaxed to the mean


def test_explicit_substeps_respect_fast_tissue():
    """Sub-steps come from the fastest voxel, so a fast region stays stable."""
    lab = np.zeros((10, 10, 10), np.uint8)
    lab[3:6] = 1
    t = [TissueClass("slow", diffusion_scale=0.1), TissueClass("fast", diffusion_scale=3.0)]
    f = FieldSolver((10, 10, 10), DX, [Species("A", 1000.0)], labels=lab, tissue=t,
                    scheme="explicit")
    f.add_bolus("A", (4, 4, 4), 1e6)
    for _ in range(20):
        f.step(2.0)
    assert f.field_numpy("A").min() >= 0
    assert f.substeps(2.0)["A"] >= math.ceil(2.0 * 6 * 3000.0 / DX**2 / 0.9)


@pytest.mark.parametrize("scheme", ["spectral", "explicit"])
def test_nan_in_a_field_stops_with_field_and_step(scheme):
    f = FieldSolver((6, 6, 6), DX, [Species("SDF-1a", 100.0), Species("VEGF", 50.0)], scheme=scheme)
    f.step(1.0)
    f.field("VEGF")[2, 2, 2] = np.nan
    with pytest.raises(FieldNotFiniteError, match=r"field 'VEGF' became non-finite .* during step 2") as e:
        f.step(1.0)
    assert e.value.field == "VEGF" and e.value.step == 2


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
def test_overflowing_release_stops_with_field_and_step():
    """A release too large for float32 turns into Inf: caught at the step it happens."""
    f = FieldSolver((6, 6, 6), DX, [Species("A", 10.0), Species("BDNF", 10.0)], dtype="float32")
    f.step(1.0)
    f.set_point_exchange("BDNF", [[1, 1, 1]], release=1e300)
    with pytest.raises(FieldNotFiniteError, match="field 'BDNF' .* step 2"):
        f.step(1.0)
