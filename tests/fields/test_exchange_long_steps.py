"""Cells' exchange at cell steps long against the field's relaxation (issue 15, item 1).

Users run 15-min to 6-h cell steps. At such steps the exchanging voxels are coupled
within one step: a voxel's average concentration over the step is raised by its
neighbours' secretion (the step-averaged response ``R`` tends to the steady Green's
function). The spectral scheme solves the exchanging voxels together
(:mod:`kernels.spectral`); these tests check it against an independent reference, the
steady state of the same discrete operator solved with a sparse matrix assembled here
from its stencil: ``(-D∇²₁₉ + k + S) u = st + q`` with ``∇²₁₉`` the isotropic 19-point
Laplacian with mirror (no-flux) faces, written as Kronecker products of the 1D Neumann
second difference ``T``: ``Σ T_i - (1/6) Σ_{i<j} T_i T_j`` (over dx²).

The case is H+-like: D = 28000 µm²/min, half-life 5 min, 20 µm voxels, a 7³ block of
voxels holding 0.04-1 cell each, secreting at 6 /min per cell toward 276 nM. Its exact
steady state lies at ~42 % of the target at the cells' voxels. The local solve (each
voxel as if alone, ``max_exchange_iterations = 0``) is 60 % high there at dt = 60 min
(and 12 % at dt = 1 min), the coupled solve within round-off.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.fft
import scipy.sparse as sp
import scipy.sparse.linalg as spl

from abm.fields import FieldSolver, Species
from kernels.backend import get_backend
from kernels.spectral import SpectralPropagator

DX = 20.0                       # µm
D_H = 28000.0                   # µm²/min
K_H = math.log(2.0) / 5.0       # 1/min: half-life 5 min
TARGET = 276.0                  # nM
SHAPE = (24, 24, 24)


def _neumann_second_difference(n):
    """1D ``-d²`` on ``n`` cells with mirror faces (dimensionless), sparse."""
    t = sp.diags([-np.ones(n - 1), 2.0 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]).tolil()
    t[0, 0] = t[n - 1, n - 1] = 1.0
    return t.tocsr()


def _operator(shape, diffusion, decay, dx):
    """``-D∇²₁₉ + k`` (1/min) as a sparse matrix over the C-ordered lattice."""
    t = [_neumann_second_difference(n) for n in shape]
    eye = [sp.identity(n, format="csr") for n in shape]
    x = sp.kron(sp.kron(t[0], eye[1]), eye[2], format="csr")
    y = sp.kron(sp.kron(eye[0], t[1]), eye[2], format="csr")
    z = sp.kron(sp.kron(eye[0], eye[1]), t[2], format="csr")
    lap = x + y + z - (x @ y + y @ z + z @ x) / 6.0
    return (diffusion / dx**2) * lap + decay * sp.identity(lap.shape[0], format="csr")


def _steady(shape, diffusion, decay, flat, su, rhs):
    """Solve ``(-D∇²₁₉ + k + diag(su)) u = rhs`` to 1e-11 (sparse operator; CG).

    The preconditioner is ``(-D∇² + k + mean(su))⁻¹`` of the 7-point Laplacian via the
    DCT: it only speeds CG up; the answer is the sparse system's (its residual is checked).
    """
    n = int(np.prod(shape))
    m = _operator(shape, diffusion, decay, DX) + sp.csr_matrix((su, (flat, flat)), shape=(n, n))
    k = [4.0 * np.sin(np.pi * np.arange(s) / (2.0 * s)) ** 2 for s in shape]
    lam = (diffusion / DX**2) * (k[0][:, None, None] + k[1][None, :, None] + k[2][None, None, :]) \
        + decay + su.sum() / n

    def prec(r):
        rh = scipy.fft.dctn(r.reshape(shape), norm="ortho") / lam
        return scipy.fft.idctn(rh, norm="ortho").ravel()

    u, info = spl.cg(m, rhs, rtol=1e-12, maxiter=2000, M=spl.LinearOperator((n, n), prec))
    assert info == 0
    assert np.linalg.norm(m @ u - rhs) <= 1e-10 * np.linalg.norm(rhs)
    return u


def _block(lo=8, hi=15, seed=1):
    rng = np.random.default_rng(seed)
    vox = np.mgrid[lo:hi, lo:hi, lo:hi].reshape(3, -1).T          # 343 voxels
    cells = rng.uniform(0.04, 1.0, len(vox))
    return vox, cells, np.ravel_multi_index(vox.T, SHAPE)


@pytest.fixture(scope="module")
def secretion_case():
    vox, cells, flat = _block()
    su = 6.0 * cells
    st = su * TARGET
    rhs = np.zeros(int(np.prod(SHAPE)))
    rhs[flat] = st
    return vox, cells, flat, _steady(SHAPE, D_H, K_H, flat, su, rhs)


def _run_to_steady(dt, vox, iterations=None, t_end=120.0, **exchange):
    f = FieldSolver(SHAPE, DX, [Species("H", D_H, K_H)], scheme="spectral")
    if iterations is not None:
        f._spectral[0].max_exchange_iterations = iterations
    f.set_point_exchange("H", vox, **exchange)
    n = max(12, int(round(t_end / dt)))
    for _ in range(n):
        f.step(dt)
    return f, f.field_numpy("H").ravel()


@pytest.mark.parametrize("dt", [1.0, 15.0, 60.0, 360.0])
def test_secretion_toward_a_target_reaches_the_exact_steady_state_at_any_step(dt, secretion_case):
    vox, cells, flat, ref = secretion_case
    f, u = _run_to_steady(dt, vox, secretion_rate=6.0 * cells, target=TARGET)
    own = u[flat] / ref[flat]
    assert np.abs(own - 1).max() < 0.02, (dt, own.min(), own.max())
    assert abs(u.sum() / ref.sum() - 1) < 0.005, (dt, u.sum() / ref.sum())
    assert u.min() >= 0 and u.max() < 0.6 * TARGET      # the target limiter never acts
    assert f._spectral[0].last_exchange["converged"]


def test_the_local_solve_alone_misses_that_steady_state(secretion_case):
    """The reference problem is one where the coupling matters: without it, 60 % high."""
    vox, cells, flat, ref = secretion_case
    _, u = _run_to_steady(60.0, vox, iterations=0, secretion_rate=6.0 * cells, target=TARGET)
    assert np.median(u[flat] / ref[flat]) > 1.3
    assert u.sum() / ref.sum() > 1.3
    _, u = _run_to_steady(1.0, vox, iterations=0, secretion_rate=6.0 * cells, target=TARGET)
    assert np.median(u[flat] / ref[flat]) > 1.1         # 12 % high even at dt = 1 min


def test_uptake_with_fixed_releases_reaches_the_exact_steady_state_at_long_steps():
    """Uptake only (st = 0) at 6 /min per cell, fed by four releasing voxels, dt = 60 min."""
    vox, cells, flat = _block(seed=2)
    rel = np.array([[4, 4, 4], [19, 19, 19], [11, 11, 3], [11, 12, 11]])   # one inside the block
    q = 5e6                                                                # amount/min each
    inside = np.all(vox == rel[3], axis=1)
    uptake = np.where(inside, 0.0, 6.0 * cells)
    uptake_all = np.r_[uptake, np.zeros(3)]
    voxels = np.vstack([vox, rel[:3]])
    release = np.r_[np.where(inside, q, 0.0), np.full(3, q)]
    rflat = np.ravel_multi_index(rel.T, SHAPE)
    rhs = np.zeros(int(np.prod(SHAPE)))
    rhs[rflat] = q / DX**3
    ref = _steady(SHAPE, D_H, K_H, flat, uptake, rhs)
    mins = []
    f = FieldSolver(SHAPE, DX, [Species("H", D_H, K_H)], scheme="spectral")
    f.set_point_exchange("H", voxels, uptake_rate=uptake_all, release=release)
    for _ in range(12):
        f.step(60.0)
        mins.append(f.field_numpy("H").min())
    u = f.field_numpy("H").ravel()
    assert min(mins) >= 0.0
    sink = uptake > 0
    own = u[flat][sink] / ref[flat][sink]
    assert np.abs(own - 1).max() < 0.02, (own.min(), own.max())
    assert abs(u.sum() / ref.sum() - 1) < 0.005, u.sum() / ref.sum()


def test_strong_uptake_from_a_bolus_at_long_steps_never_goes_negative():
    """Stiff uptake in a field without decay at dt = 60 min: never negative, never gains.

    Only the bounds are checked: the constant-source step is trapezoidal-like in the slow
    modes, so stiff uptake in a field with no decay is not accurate at such steps
    (:mod:`kernels.spectral`).
    """
    shape = (20, 20, 12)
    rng = np.random.default_rng(9)
    cells = np.unique(np.column_stack([rng.integers(2, s - 2, size=60) for s in shape]), axis=0)
    f = FieldSolver(shape, DX, [Species("A", 4200.0, 0.0)], scheme="spectral")
    f.add_bolus("A", (10, 10, 6), 1e7)
    f.set_point_exchange("A", cells, uptake_rate=6.0)
    total = f.total_amount("A")
    for _ in range(6):
        f.step(60.0)
        assert f.field_numpy("A").min() >= 0.0
        assert f.total_amount("A") <= total
        total = f.total_amount("A")


def test_step_averaged_response_is_symmetric_non_negative_with_mean_diagonal_g():
    """``R = dt φ2(A dt)`` built column by column: symmetric, >= 0, ``trace(R)/N = g``."""
    shape = (5, 6, 4)
    n = int(np.prod(shape))
    for dt in (1.0, 60.0):
        prop = SpectralPropagator(get_backend("numpy"), shape, DX, D_H, K_H, ("noflux",) * 3,
                                  np.float64)
        _, w = prop.average_weights(dt)
        cols = []
        for j in range(n):
            e = np.zeros(n)
            e[j] = 1.0
            eh = prop._transform(e.reshape(shape), inverse=False)
            cols.append(prop._transform(w * eh, inverse=True).ravel())
        r = np.array(cols).T
        assert np.allclose(r, r.T, rtol=0, atol=1e-12 * np.abs(r).max())
        assert r.min() > -1e-12 * r.max()
        assert np.trace(r) / n == pytest.approx(prop.self_response(dt), rel=1e-12)
        # independently: with u(t) from a unit source held at voxel 0 (u(0) = 0),
        # u(dt) = A ∫u + dt e0, so R e0 = ∫u / dt = (-A)⁻¹ (dt e0 - u(dt)) / dt with the
        # sparse operator
        e0 = np.zeros(shape)
        e0.flat[0] = 1.0
        end = prop.step(np.zeros(shape), e0, dt).ravel()
        col = spl.spsolve(_operator(shape, D_H, K_H, DX).tocsc(), dt * e0.ravel() - end) / dt
        assert np.allclose(col, r[:, 0], rtol=1e-8, atol=1e-10 * r[0, 0])
