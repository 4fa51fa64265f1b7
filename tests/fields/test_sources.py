"""Depots with release laws, boluses, and how bad input is refused."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm import FieldSolver, ModelInputError, Species, TissueClass

DX = 20.0


@pytest.mark.parametrize("scheme", ["spectral", "explicit"])
def test_first_order_depot_releases_exponentially(scheme):
    """A first-order depot keeps M e^{-kt}; the field holds M(1 - e^{-kt}) without decay."""
    f = FieldSolver((12, 12, 12), DX, [Species("EV", 60.0)], scheme=scheme)
    mask = np.zeros((12, 12, 12), bool)
    mask[4:8, 4:8, 4:8] = True
    M, k = 1.0e6, 0.02
    d = f.add_depot("EV", mask, M, "first_order", k)
    for _ in range(50):
        f.step(1.0)
    assert d.remaining == pytest.approx(M * math.exp(-k * 50), rel=1e-12)
    assert f.total_amount("EV") == pytest.approx(M * (1 - math.exp(-k * 50)), rel=1e-9)
    assert f.total_amount("EV") + d.remaining == pytest.approx(M, rel=1e-9)


def test_constant_depot_runs_out():
    """A constant-rate depot releases rate·t until it is empty, then nothing."""
    f = FieldSolver((8, 8, 8), DX, [Species("EV", 60.0)])
    d = f.add_depot("EV", [[2, 2, 2], [3, 3, 3]], 100.0, "constant", 15.0)
    amounts = []
    for _ in range(10):
        f.step(1.0)
        amounts.append(f.total_amount("EV"))
    assert amounts[0] == pytest.approx(15.0, rel=1e-10)
    assert amounts[5] == pytest.approx(90.0, rel=1e-10)
    assert amounts[-1] == pytest.approx(100.0, rel=1e-10) and d.remaining == 0.0


@pytest.mark.parametrize("dt, tol", [(1.0, 2e-3), (0.1, 2e-4)])
def test_depot_with_decay_matches_ode(dt, tol):
    """First-order release k into a field that decays at λ follows the ODE solution.

    Well mixed by fast diffusion, amount(t) = M k/(λ - k) (e^{-kt} - e^{-λt}).

    The amount released per step is exact; within a step it enters at an even
    rate, so under decay the field is off by O(dt): 0.08% at dt = 1 min here.
    """
    M, k, lam = 1.0e5, 0.05, 0.2
    f = FieldSolver((6, 6, 6), DX, [Species("EV", 1e4, lam)])
    f.add_depot("EV", np.ones((6, 6, 6), bool), M, "first_order", k)
    for _ in range(round(30 / dt)):
        f.step(dt)
    t = 30.0
    expect = M * k / (lam - k) * (math.exp(-k * t) - math.exp(-lam * t))
    assert f.total_amount("EV") == pytest.approx(expect, rel=tol)


def test_bolus_adds_amount_evenly_and_skips_impermeable_voxels():
    lab = np.zeros((6, 6, 6), np.uint8)
    lab[0] = 1
    f = FieldSolver((6, 6, 6), DX, [Species("A", 100.0)], labels=lab,
                    tissue=[TissueClass("t"), TissueClass("bone", permeable=False)])
    f.add_bolus("A", np.ones((6, 6, 6), bool), 1800.0)
    u = f.field_numpy("A")
    assert u[0].max() == 0.0
    assert np.allclose(u[1:], 1800.0 / (180 * DX**3))


@pytest.mark.parametrize("make, message", [
    (lambda: Species("VEGF", -5.0), "diffusion coefficient"),
    (lambda: Species("VEGF", 5.0, decay=float("nan")), "decay rate"),
    (lambda: Species("VEGF", 5.0, fixed_faces={"top": 1.0}), "unknown face 'top'"),
    (lambda: FieldSolver((4, 4, 4), DX, [Species("A", 1.0), Species("A", 2.0)]), "unique"),
    (lambda: FieldSolver((4, 4), DX, [Species("A", 1.0)]), "three positive integers"),
    (lambda: FieldSolver((4, 4, 4), DX, [Species("A", 1.0)], scheme="magic"), "scheme"),
    (lambda: FieldSolver((4, 4, 4), DX, [Species("A", 1.0)], labels=np.ones((4, 4, 4), np.uint8) * 3,
                         tissue=[TissueClass("t")]), "tissue labels must lie in 0..0"),
    (lambda: FieldSolver((4, 4, 4), DX, [Species("A", 1.0, fixed_faces={"x-": 1})], scheme="spectral"),
     "cannot use the spectral scheme"),
])
def test_bad_input_is_refused_with_a_clear_message(make, message):
    with pytest.raises(ModelInputError, match=message):
        make()


def test_bad_regions_and_fields_are_refused():
    f = FieldSolver((4, 4, 4), DX, [Species("A", 1.0)])
    with pytest.raises(ModelInputError, match=r"voxel \(4, 0, 0\) lies outside"):
        f.add_bolus("A", [[4, 0, 0]], 1.0)
    with pytest.raises(ModelInputError, match="unknown field 'SDF1'; declared fields: A"):
        f.add_bolus("SDF1", [[0, 0, 0]], 1.0)
    with pytest.raises(ModelInputError, match="mask has shape"):
        f.add_depot("A", np.ones((3, 3, 3), bool), 1.0, "first_order", 0.1)
    with pytest.raises(ModelInputError, match="release law"):
        f.add_depot("A", [[0, 0, 0]], 1.0, "zero_order", 0.1)
    with pytest.raises(ModelInputError, match="uptake_rate .* finite and >= 0"):
        f.set_point_exchange("A", [[0, 0, 0]], uptake_rate=-1.0)
    with pytest.raises(ModelInputError, match="time step must be > 0"):
        f.step(0.0)
