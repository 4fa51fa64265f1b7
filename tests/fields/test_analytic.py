"""The field engine against closed-form solutions of the diffusion equation."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import screened_point_source, shell_points
from scipy.special import erfc

from abm import FieldSolver, Species

DX = 20.0  # µm


@pytest.mark.parametrize("scheme", ["spectral", "explicit"])
def test_point_bolus_matches_3d_gaussian(scheme):
    """A bolus in one voxel spreads as M/(4πDt)^{3/2} exp(-r²/4Dt).

    Criterion (issue 2): relative L2 error <= 2% once the Gaussian spans 5
    voxels, read here as a standard deviation sqrt(2Dt) of at least 5 voxels.
    (Measured at sigma = 5 voxels: 1.3% spectral, 0.4% explicit; the error falls
    as 1/sigma².)  The box (64³) is large enough that the faces do not matter.
    """
    n, c, D, M = 64, 32, 1800.0, 1.0e6
    f = FieldSolver((n, n, n), DX, [Species("A", D)], scheme=scheme)
    f.add_bolus("A", (c, c, c), M)
    x = (np.arange(n) - c) * DX
    r2 = x[:, None, None] ** 2 + x[None, :, None] ** 2 + x[None, None, :] ** 2
    t, errors = 0.0, []
    for sigma_vox in (5.0, 7.0, 9.0):
        t_next = (sigma_vox * DX) ** 2 / (2 * D)
        f.step(t_next - t)
        t = t_next
        exact = M / (4 * np.pi * D * t) ** 1.5 * np.exp(-r2 / (4 * D * t))
        u = f.field_numpy("A")
        errors.append(np.linalg.norm(u - exact) / np.linalg.norm(exact))
    assert max(errors) <= 0.02, errors
    # the error must shrink as the Gaussian widens (second-order convergence in dx/sigma)
    assert errors[2] < errors[0]


def test_steady_point_source_with_decay_spectral_pointwise():
    """A constant source q with decay settles to q exp(-r/L)/(4πDr) (plus images).

    Every voxel from 3 to 20 voxels from the source, in every direction, must be
    within 3%. The spectral scheme reaches its steady state exactly in one long step.
    """
    n, c, D, lam, q = 64, 32, 4200.0, 0.018, 1.0
    f = FieldSolver((n, n, n), DX, [Species("A", D, lam)], scheme="spectral")
    f.set_point_exchange("A", [[c, c, c]], release=q)
    f.step(1.0e5)  # >> 1/λ: the exact integrator lands on the steady state
    pts, r = shell_points(3, 20, (c, c, c))
    exact = screened_point_source(pts, (c, c, c), (n, n, n), DX, D, lam, q)
    u = f.field_numpy("A")[pts[:, 0], pts[:, 1], pts[:, 2]]
    err = np.abs(u / exact - 1)
    assert err.max() <= 0.03, (err.max(), r[np.argmax(err)])
    # the isotropic stencil does much better than the criterion: pin that down
    assert err.max() <= 0.005


def test_steady_point_source_dt_independent():
    """The spectral steady state does not depend on the step used to reach it."""
    n, c, D, lam = 32, 16, 1800.0, 0.2
    out = []
    for dt in (0.5, 5.0):
        f = FieldSolver((n, n, n), DX, [Species("A", D, lam)], scheme="spectral")
        f.set_point_exchange("A", [[c, c, c]], release=10.0)
        for _ in range(int(200 / dt)):
            f.step(dt)
        out.append(f.field_numpy("A"))
    assert np.allclose(out[0], out[1], rtol=1e-9, atol=0)


def test_steady_point_source_explicit():
    """The explicit 7-point scheme settles on the same analytic profile, less isotropically.

    KNOWN LIMITATION: the 7-point lattice Green's function is anisotropic near
    the source: measured 5% high along the axes at 3-4 voxels (L = 9.5 voxels),
    so this scheme meets the 3% criterion pointwise only from 5 voxels out, and
    at 3-20 voxels for the profile averaged over each spherical shell. The
    spectral scheme (isotropic 19-point stencil) meets it pointwise; see above.
    """
    n, c, D, lam, q = 48, 24, 1800.0, 0.05, 1.0
    f = FieldSolver((n, n, n), DX, [Species("A", D, lam)], scheme="explicit")
    f.set_point_exchange("A", [[c, c, c]], release=q)
    for _ in range(125):
        f.step(2.0)  # 250 min = 12.5 decay times: steady to ~4e-6
    u = f.field_numpy("A")
    pts, r = shell_points(3, 20, (c, c, c))
    exact = screened_point_source(pts, (c, c, c), (n, n, n), DX, D, lam, q)
    num = u[pts[:, 0], pts[:, 1], pts[:, 2]]
    err = num / exact - 1
    assert np.abs(err[r >= 5]).max() <= 0.03
    for r0 in range(3, 21):
        shell = np.abs(r - r0) < 0.5
        assert abs(num[shell].mean() / exact[shell].mean() - 1) <= 0.03, r0


@pytest.mark.parametrize("scheme", ["spectral", "explicit"])
def test_constant_source_reaches_release_over_decay(scheme):
    """Mass balance at steady state: total amount = q / λ (conservation with decay)."""
    n, D, lam, q = 20, 600.0, 0.5, 40.0
    f = FieldSolver((n, n, n), DX, [Species("A", D, lam)], scheme=scheme)
    f.set_point_exchange("A", [[3, 4, 5]], release=q)
    for _ in range(60):
        tot = f.step(1.0)["A"]
    assert tot == pytest.approx(q / lam, rel=1e-6)


def test_erfc_profile_from_fixed_face():
    """A face held at c0 fills a semi-infinite medium as c0 erfc(x / 2sqrt(Dt)).

    x is the distance of a voxel centre from the face. The far face is 200
    voxels away, well beyond the diffusion length at the end (~30 voxels).
    """
    nx, D, c0 = 200, 1800.0, 5.0
    f = FieldSolver((nx, 1, 1), DX, [Species("A", D, fixed_faces={"x-": c0})])
    assert f.schemes == ["explicit"]
    x = (np.arange(nx) + 0.5) * DX
    for t_end in (20.0, 100.0):
        while f.time < t_end - 1e-9:
            f.step(1.0)
        exact = c0 * erfc(x / (2 * np.sqrt(D * f.time)))
        u = f.field_numpy("A")[:, 0, 0]
        assert np.abs(u - exact).max() <= 0.01 * c0
        assert np.linalg.norm(u - exact) / np.linalg.norm(exact) <= 0.01


def test_fixed_faces_give_linear_steady_profile():
    """Two fixed faces (c0 and 0) with no decay give a straight line through the face values."""
    nx, c0 = 20, 3.0
    f = FieldSolver((nx, 2, 2), DX, [Species("A", 3000.0, fixed_faces={"x-": c0, "x+": 0.0})])
    for _ in range(400):
        f.step(1.0)
    x = (np.arange(nx) + 0.5) / nx  # fraction of the way across
    assert np.allclose(f.field_numpy("A")[:, 0, 0], c0 * (1 - x), atol=1e-6 * c0)
