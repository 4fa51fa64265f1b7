"""The implicit scheme for heterogeneous tissue (kernels/implicit.py) against exact answers.

Series resistance (the exact steady state of a two-layer slab), a sealed wall, mass with
obstacles, positivity, long steps against a small-step reference, the steady point source
against its analytic profile, and cell exchange against a small-step reference.
"""

import math

import numpy as np
import pytest

from abm.fields import FieldSolver, Species, TissueClass

DX = 20.0


def _two_layers(n1, n2, d1, d2):
    lab = np.zeros((n1 + n2, 1, 1), np.uint8)
    lab[n1:] = 1
    return lab, [TissueClass("a", diffusion_scale=d1), TissueClass("b", diffusion_scale=d2)]


def test_series_resistance_steady_state_is_exact():
    """Faces held at c0 and 0 across two layers: flux J = c0 / (L1/D1 + L2/D2); linear in each.

    The voxel centres lie on the exact piecewise-linear profile of the continuous problem
    (harmonic face conductances make the finite-volume flux exact for layers that meet on a
    face); the implicit step's fixed point is that steady state, reached at long steps.
    """
    n1, n2, D, d1, d2, c0 = 30, 20, 600.0, 1.0, 0.2, 4.0
    lab, tissue = _two_layers(n1, n2, d1, d2)
    f = FieldSolver(lab.shape, DX, [Species("A", D, fixed_faces={"x-": c0, "x+": 0.0})],
                    labels=lab, tissue=tissue, scheme="implicit")
    for _ in range(400):
        f.step(500.0)
    L1, L2 = n1 * DX, n2 * DX
    J = c0 / (L1 / (D * d1) + L2 / (D * d2))
    x = (np.arange(n1 + n2) + 0.5) * DX
    exact = np.where(x < L1, c0 - J * x / (D * d1), J * (L1 + L2 - x) / (D * d2))
    np.testing.assert_allclose(f.field_numpy("A")[:, 0, 0], exact, rtol=1e-6, atol=1e-9)


def test_nothing_crosses_an_impermeable_wall():
    n = 24
    lab = np.zeros((n, 12, 12), np.uint8)
    lab[11:13] = 1
    tissue = [TissueClass("p"), TissueClass("wall", permeable=False)]
    f = FieldSolver(lab.shape, DX, [Species("A", 3000.0, 0.001)], labels=lab, tissue=tissue,
                    scheme="implicit")
    f.field("A")[:11] = 2.0
    for _ in range(50):
        f.step(10.0)
    u = f.field_numpy("A")
    assert u[11:].max() == 0.0
    # all of it stays on its side and decays as exp(-k t), to the scheme's second-order error
    np.testing.assert_allclose(u[:11].sum(), 2.0 * 11 * 144 * math.exp(-0.001 * 500), rtol=1e-5)


def test_mass_is_conserved_among_obstacles_and_nothing_goes_negative():
    rng = np.random.default_rng(3)
    shape = (20, 20, 12)
    lab = (rng.random(shape) < 0.25).astype(np.uint8)
    lab[rng.random(shape) < 0.2] = 2
    tissue = [TissueClass("p"), TissueClass("bone", permeable=False),
              TissueClass("slow", diffusion_scale=0.2)]
    f = FieldSolver(shape, DX, [Species("A", 2000.0)], labels=lab, tissue=tissue,
                    scheme="implicit")
    lab[10, 10, 6] = 0
    f.set_tissue(lab, tissue)
    f.field("A")[...] = rng.random(shape) * (lab != 1)
    f.add_bolus("A", (10, 10, 6), 5e5)     # a sharp peak: the test of positivity
    m0 = f.total_amount("A")
    for _ in range(100):
        f.step(5.0)
        assert f.field_numpy("A").min() >= 0.0
    assert f.total_amount("A") == pytest.approx(m0, rel=1e-6)


@pytest.mark.parametrize("factor", [10, 100])
def test_long_steps_stay_within_5_percent_of_a_small_step_reference(factor):
    """Long steps in two-label tissue stay within 5% of the peak of small explicit steps.

    A Gaussian (sigma 6 voxels) in the fast part (the slow label 12 voxels away), at 10x and
    100x the explicit stability limit, against explicit steps of the same finite-volume
    operator (the same spatial discretisation: only time differs).
    """
    shape, D = (48, 24, 24), 1200.0
    lab = np.zeros(shape, np.uint8)
    lab[36:] = 1
    tissue = [TissueClass("fast"), TissueClass("slow", diffusion_scale=0.3)]
    x = np.indices(shape).astype(float)
    c = np.array([18, 12, 12])[:, None, None, None]
    u0 = np.exp(-((x - c) ** 2).sum(0) / (2 * 6.0**2))
    limit = DX**2 / (6 * D)
    t_end = 60 * DX**2 / D            # the Gaussian's variance grows by 120 voxel^2
    out = {}
    for scheme, dt in (("explicit", limit), ("implicit", factor * limit)):
        f = FieldSolver(shape, DX, [Species("A", D)], labels=lab, tissue=tissue, scheme=scheme)
        f.field("A")[...] = u0
        for _ in range(int(round(t_end / dt))):
            f.step(dt)
        out[scheme] = f.field_numpy("A")
    err = np.abs(out["implicit"] - out["explicit"]).max() / out["explicit"].max()
    assert err <= 0.05, f"max error {err:.3%} of the peak at {factor}x the explicit limit"


def test_steady_point_source_profile_in_heterogeneous_tissue():
    """A steady point source with decay in two-label tissue matches its analytic profile.

    c(r) = q exp(-r/L) / (4 pi D r): shell means within 3% from 3 voxels out, with a slow
    label filling the far quarter of the lattice.
    """
    n, D, lam, q = 40, 3000.0, 0.3, 50.0
    lab = np.zeros((n, n, n), np.uint8)
    lab[30:] = 1
    tissue = [TissueClass("p"), TissueClass("slow", diffusion_scale=0.3)]
    f = FieldSolver((n, n, n), DX, [Species("A", D, lam)], labels=lab, tissue=tissue,
                    scheme="implicit")
    src = (14, 20, 20)
    f.set_point_exchange("A", [list(src)], release=q)
    for _ in range(60):
        f.step(2.0)
    u = f.field_numpy("A")
    L = math.sqrt(D / lam)
    r = np.sqrt((((np.indices(u.shape).T - np.array(src)).T) ** 2).sum(0)) * DX
    for r0 in (3, 4, 6, 8):
        shell = np.abs(r / DX - r0) < 0.5
        exact = q * np.exp(-r[shell] / L) / (4 * math.pi * D * r[shell])
        assert abs(u[shell].mean() / exact.mean() - 1) <= 0.03, r0


def test_cell_exchange_matches_a_small_step_reference():
    """Cell exchange at 2-min steps matches 0.02-min steps.

    Cells secreting toward a target with uptake: the own-voxel concentrations within 5%
    (median) and the total within 0.5%.
    """
    rng = np.random.default_rng(7)
    shape = (24, 24, 12)
    lab = np.zeros(shape, np.uint8)
    lab[:, :8] = 1
    tissue = [TissueClass("p"), TissueClass("slow", diffusion_scale=0.3)]
    vox = (rng.random((60, 3)) * np.array(shape)).astype(int)
    out = {}
    for dt in (2.0, 0.02):
        f = FieldSolver(shape, DX, [Species("A", 4200.0, 0.01)], labels=lab, tissue=tissue,
                        scheme="implicit")
        for _ in range(int(round(10.0 / dt))):
            f.set_point_exchange("A", vox, secretion_rate=0.01, target=5.0, uptake_rate=0.01)
            f.step(dt)
        out[dt] = f.field_numpy("A")
    own = [out[d][vox[:, 0], vox[:, 1], vox[:, 2]] for d in (2.0, 0.02)]
    assert np.median(np.abs(own[0] / own[1] - 1)) <= 0.05
    assert abs(out[2.0].sum() / out[0.02].sum() - 1) <= 0.005


def test_auto_takes_the_implicit_scheme_at_long_steps_and_says_so():
    lab = np.zeros((16, 16, 8), np.uint8)
    lab[:5] = 1
    tissue = [TissueClass("p"), TissueClass("slow", diffusion_scale=0.3)]
    f = FieldSolver(lab.shape, DX, [Species("A", 3000.0)], labels=lab, tissue=tissue)
    assert f.path(0, 0.05) == "explicit" and f.path(0, 10.0) == "implicit"
    assert f.substeps(10.0) == {"A": 1}
    f.step(10.0)
    assert "implicit" in f.describe(10.0) and "not uniform" in f.describe(10.0)


def _two_layer_decay_exact(x, L1, L, D1, D2, k, c0):
    """Steady c'' = (k/D) c in two layers, c(0) = c0, no flux at L, c and D c' continuous."""
    m1, m2, L2 = math.sqrt(k / D1), math.sqrt(k / D2), L - L1
    # c1 = c0 cosh(m1 x) + B sinh(m1 x);  c2 = C cosh(m2 (L - x))
    a = np.array([[math.sinh(m1 * L1), -math.cosh(m2 * L2)],
                  [D1 * m1 * math.cosh(m1 * L1), D2 * m2 * math.sinh(m2 * L2)]])
    rhs = np.array([-c0 * math.cosh(m1 * L1), -D1 * c0 * m1 * math.sinh(m1 * L1)])
    B, C = np.linalg.solve(a, rhs)
    return np.where(x < L1, c0 * np.cosh(m1 * x) + B * np.sinh(m1 * x),
                    C * np.cosh(m2 * (L - x)))


def test_second_order_convergence_in_space_across_an_interface():
    """Second order in space across an interface: the error falls about 4x per halving of dx.

    Two layers (D ratio 4) with decay, held at c0 on one face: the steady state's largest
    error against the exact piecewise-exponential solution (0.016, 0.0043, 0.0011 at 20, 40
    and 80 voxels when written).
    """
    L, L1, D, k, c0 = 1000.0, 400.0, 1000.0, 0.02, 3.0
    errs = []
    for n in (20, 40, 80):
        dx = L / n
        lab = np.zeros((n, 1, 1), np.uint8)
        lab[int(round(L1 / dx)):] = 1
        tissue = [TissueClass("a"), TissueClass("b", diffusion_scale=0.25)]
        f = FieldSolver(lab.shape, dx, [Species("A", D, k, fixed_faces={"x-": c0})],
                        labels=lab, tissue=tissue, scheme="implicit")
        for _ in range(60):
            f.step(1e4)
        x = (np.arange(n) + 0.5) * dx
        exact = _two_layer_decay_exact(x, L1, L, D, D * 0.25, k, c0)
        errs.append(np.abs(f.field_numpy("A")[:, 0, 0] - exact).max())
    ratios = [errs[i] / errs[i + 1] for i in range(2)]
    assert all(3.5 < r < 4.5 for r in ratios), (errs, ratios)
