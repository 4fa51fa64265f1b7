"""Exact (spectral) time integration of diffusion + decay + constant sources.

For uniform tissue in a box with no-flux faces, the semi-discrete system
``du/dt = A u + s`` is diagonalised by the orthonormal DCT-II along each axis
(the cell-centred Neumann second difference has eigenvectors
``cos(π k (j + 1/2) / n)`` and eigenvalues ``-δ_k / dx²`` with
``δ_k = 4 sin²(π k / 2n)``).

The operator ``A`` is the isotropic 19-point Laplacian (weights 1/3 on the six
face neighbours and 1/6 on the twelve edge neighbours, -4 on the centre, over
dx²) with mirror images at the faces, plus decay:

    A = D/dx² [Σ_i (-δ_i) + (1/6) Σ_{i<j} δ_i δ_j] - λ   (in the DCT basis)

Like the 7-point stencil it is second order, conserves mass and has only
non-negative off-diagonal weights (an M-matrix: no new extrema, no negative
concentrations). Unlike it, its leading error term is isotropic, which makes
the lattice Green's function of a point source isotropic to high order: the
steady profile of a point source is within 0.3% of the analytic one from 3
voxels out, where the 7-point stencil is 4.3% off along the axes (measured
with D = 4200 µm²/min, λ = 0.018 /min, dx = 20 µm; see the tests).

With ``a_k = -(D μ_k + λ)`` each mode advances *exactly* over a step ``dt``
while the source density ``s`` is held constant:

    û_k <- exp(a_k dt) û_k + dt φ1(a_k dt) ŝ_k,   φ1(z) = (e^z - 1)/z.

The step is unconditionally stable, never needs sub-steps, and its steady
state is the exact steady state of the discrete operator at any ``dt``.
Fixed-value faces and heterogeneous tissue are left to the explicit scheme.

**Cell exchange inside the step** (:meth:`SpectralPropagator.step` with
``exchange``). Cells secrete toward a target and take up: per voxel with cells,
``du/dt = st - su u`` on top of the transport (``st = Σ S T``, ``su = Σ (S + U)``).
Applying that update once and then diffusing (first-order splitting) leaves, at a
1-min step, the cells' own voxels 27-54 % low and the secreted total ~10 % low
(issue 15), because the secreted amount sits in the voxel during the whole step in
reality but is spread for a whole step by the split scheme. Here the exchange
becomes a source density ``s`` held constant over the step, which the propagator then
integrates exactly with the transport; its value is the exchange rate at each
exchanging voxel's *time-averaged* concentration ``ū`` over the step:

    s = st - su ū,   ū = ā + R s,

where ``ā = φ1(A dt) u0 + R r`` is the step average of the field's evolution without
the cells (``r``: the other sources held over the step, fixed releases and depots) and
``R = dt φ2(A dt)``, ``φ2(z) = (e^z - 1 - z)/z²``, the *step-averaged response*: the
average over the step of the field made by a unit source density held over it (in the
DCT basis a per-mode weight ``W_k = dt φ2(a_k dt)``, min). ``R`` is symmetric and
positive definite (a function of the symmetric operator ``A``) and has no negative
entries (``e^{A t}`` has none: ``A`` is an M-matrix). The exchanging voxels are coupled
through ``R``'s off-diagonal entries: a voxel's average is raised by its neighbours'
secretion in the same step. With ``S = diag(su)`` the source solves

    (I + S R) s = st - su ā,   or, with s = S^½ x,   (I + S^½ R S^½) x = S^½ (T - ā)

(``T = st/su``, the voxel's target; a voxel with ``su = 0`` has ``st = 0`` and
``s = 0``). The second form is symmetric positive definite with eigenvalues in
``[1, 1 + max(su) dt/2]``, so it is solved by conjugate gradients over the exchanging
voxels (float64 vectors of their number), preconditioned by its interior diagonal
``1 + su g`` (``g = mean_k W_k = trace(R)/N``, :meth:`SpectralPropagator.self_response`)
and started from the *local* solve that neglects the coupling,
``s0 = (st - su (ā0 + g r))/(1 + su g)``, ``ā0 = φ1(A dt) u0``. Each iteration costs two
transforms of the lattice (``R`` applied to a direction); the transform of the
exchange source the final update needs is carried along the iterations, so a step
costs 5 transforms when the local solve already meets the tolerance (the residual
check: one more than the local solve alone) and 2 more per iteration. The solve stops
at a residual ``EXCHANGE_RTOL`` (float64; ``EXCHANGE_RTOL_F32`` for float32 transforms)
relative to the gross exchange ``|S^½ T| + |S^½ ā|``, or after
:attr:`SpectralPropagator.max_exchange_iterations` iterations, keeping the last
iterate (CG lowers the error in the energy norm at every iteration, so it is never
worse than the local solve it started from; :attr:`SpectralPropagator.last_exchange`
says how it ended). ``max_exchange_iterations = 0`` is the local solve alone (the
scheme before the coupled solve).

Why the coupling matters: at a step short against the transport ``R`` is nearly
diagonal (``R ≈ dt/2`` at the voxel) and the local solve is accurate (issue 15: within
5 % at the own voxels and 0.5 % in total at dt = 1-2 min). At steps long against the
field's relaxation ``R`` tends to the steady Green's function ``(-A)^-1``, whose
off-diagonal sum over a block of exchanging voxels far exceeds its diagonal; each
voxel's source computed as if it were alone then overshoots (an H+-like field,
D = 28000 µm²/min, half-life 5 min, 343 voxels secreting at 6 /min per cell toward
276 nM: 60 % high at the own voxels at dt = 60 min, 12 % at dt = 1 min). With the
coupled solve the step's fixed point is the exact steady state of the discrete
operator at any ``dt`` (``ū = u_ss`` solves the system when ``u0 = u_ss``).

The solve is the step average of a source held constant; the true exchange varies
within the step. Where the exchange is stiff against the transport and decay of the
slow modes (``su dt ≫ 1`` summed over a box, little decay) this behaves like the
trapezoidal rule, A- but not L-stable: a transient can overshoot the target or zero
within one step (measured: a bolus taken up by 60 cells at 6 /min in a 24x24x16 box
with no decay holds 0.999 of the fine-step total after 4 h at dt = 1 min, 0.86 at
15 min, far too little at 60 min; the local solve 0.91, 0.07 and 0). Steady states
are exact at any step. The caller (:class:`abm.fields.FieldSolver`) keeps
the guarantees: a voxel that started at or below its target ``st/su`` ends at or
below it, and no value is negative. ``s`` is also capped at ``st`` (a voxel's average
is never negative, so its net source never exceeds its gross secretion).

On the GPU the transforms are cuFFT calls (``cupyx.scipy.fft``) and the
per-mode update is one fused elementwise kernel; on the CPU the same
function is computed with ``scipy.fft`` (multi-threaded).
"""

from __future__ import annotations

import math
import os

import numpy as np

from .backend import Backend

__all__ = ["SpectralPropagator", "axis_eigenvalues", "UPDATE_KERNEL", "UPDATE_SRC_KERNEL",
           "EXCHANGE_RTOL", "EXCHANGE_RTOL_F32", "EXCHANGE_MAX_ITERATIONS"]

#: Relative residual at which the coupled exchange solve stops (float64 fields).
EXCHANGE_RTOL = 1e-6
#: The same for float32 fields, whose transforms carry ~1e-7 relative round-off.
EXCHANGE_RTOL_F32 = 2e-5
#: Default cap on the conjugate-gradient iterations of the coupled exchange solve.
EXCHANGE_MAX_ITERATIONS = 40


def axis_eigenvalues(n: int, dx: float, kind: str) -> np.ndarray:
    """Eigenvalue magnitudes of the 1D second difference on ``n`` cells.

    Parameters
    ----------
    n : int
        Number of voxels along the axis.
    dx : float
        Voxel edge, µm.
    kind : {"noflux", "fixed"}
        Type of both faces of the axis.

    Returns
    -------
    ndarray of float64, shape (n,)
        ``μ_k >= 0`` in 1/µm² such that the operator's eigenvalues are ``-μ_k``.
    """
    k = np.arange(n, dtype=np.float64)
    if kind == "fixed":
        k = k + 1.0
    elif kind != "noflux":
        raise ValueError(f"unknown axis kind {kind!r}")
    return 4.0 * np.sin(np.pi * k / (2.0 * n)) ** 2 / dx**2


#: CuPy ElementwiseKernel sources of the per-mode update (keyword arguments of
#: ``cupy.ElementwiseKernel``): with a source, ``û <- E û + P ŝ``; without, ``û <- E û``.
UPDATE_SRC_KERNEL = dict(in_params="T E, T P, T sh", out_params="T uh",
                         operation="uh = E * uh + P * sh", name="abm_spectral_update_src")
UPDATE_KERNEL = dict(in_params="T E", out_params="T uh", operation="uh = E * uh",
                     name="abm_spectral_update")

_ELEMENTWISE = {}


def _gpu_update_kernels(cp):
    if "src" not in _ELEMENTWISE:
        _ELEMENTWISE["src"] = cp.ElementwiseKernel(**UPDATE_SRC_KERNEL)
        _ELEMENTWISE["nosrc"] = cp.ElementwiseKernel(**UPDATE_KERNEL)
    return _ELEMENTWISE["src"], _ELEMENTWISE["nosrc"]


class SpectralPropagator:
    """Exact propagator for one species on uniform tissue.

    Parameters
    ----------
    backend : Backend
        Array backend.
    shape : tuple of int
        Lattice shape ``(nx, ny, nz)``.
    dx : float
        Voxel edge, µm.
    diffusion : float
        Diffusion coefficient, µm²/min (already scaled by the tissue).
    decay : float
        Decay rate, 1/min (already scaled by the tissue).
    axis_kinds : tuple of 3 str
        ``"noflux"`` per axis (the only kind supported).
    dtype : numpy dtype
        Floating type of the fields.
    """

    def __init__(self, backend: Backend, shape, dx, diffusion, decay, axis_kinds, dtype):
        self.backend = backend
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.axis_kinds = tuple(axis_kinds)
        self.diffusion, self.decay = float(diffusion), float(decay)   # µm²/min, 1/min
        if any(k != "noflux" for k in self.axis_kinds):
            raise ValueError("the spectral scheme supports no-flux faces only")
        d = [axis_eigenvalues(n, 1.0, k) for n, k in zip(self.shape, self.axis_kinds)]
        dX, dY, dZ = d[0][:, None, None], d[1][None, :, None], d[2][None, None, :]
        # isotropic 19-point symbol (dimensionless), then a = -(D/dx² symbol + λ)
        sym = dX + dY + dZ - (dX * dY + dY * dZ + dZ * dX) / 6.0
        self._a = -(diffusion / dx**2 * sym + decay)
        self._cache_dt = None
        self._E = self._P = None
        #: Cap on the conjugate-gradient iterations of the coupled exchange solve; 0 takes
        #: the local solve alone (no coupling between exchanging voxels within a step).
        self.max_exchange_iterations = EXCHANGE_MAX_ITERATIONS
        self.last_exchange: dict = {}
        self.last_exchange_source = None
        if backend.is_gpu:
            import cupyx.scipy.fft as gfft  # noqa: PLC0415

            self._fft = gfft
            self._workers = {}
        else:
            import scipy.fft as cfft  # noqa: PLC0415

            self._fft = cfft
            self._workers = {"workers": os.cpu_count() or 1}

    def coefficients(self, dt: float):
        """Per-mode factors ``E = exp(a dt)`` and ``P = dt φ1(a dt)`` (cached by dt)."""
        if self._cache_dt != dt:
            z = self._a * dt
            E = np.exp(z)
            with np.errstate(divide="ignore", invalid="ignore"):
                P = np.where(z != 0, np.expm1(z) / np.where(z != 0, self._a, 1.0), dt)
            xp = self.backend.xp
            self._E = xp.asarray(E.astype(self.dtype))
            self._P = xp.asarray(P.astype(self.dtype))
            self._cache_dt = dt
        return self._E, self._P

    def average_weights(self, dt: float):
        """Per-mode factors of the step average: ``φ1(a dt)`` and ``W = dt φ2(a dt)`` (cached by dt).

        The step average of the field is ``φ1(A dt) u0 + W(A) s`` for a source density ``s``
        held over the step; ``W`` (min) is the step-averaged response ``R`` in the DCT basis.

        Returns
        -------
        (backend array, backend array)
            ``φ1`` (dimensionless) and ``W`` (min), shape ``shape``, in the field dtype.
        """
        if getattr(self, "_w_dt", None) != dt:
            z = self._a * dt
            with np.errstate(divide="ignore", invalid="ignore"):
                small = np.abs(z) < 1e-4
                zs = np.where(small, 1.0, z)
                phi1 = np.where(small, 1.0 + z / 2.0 + z * z / 6.0, np.expm1(zs) / zs)
                phi2 = np.where(small, 0.5 + z / 6.0 + z * z / 24.0, (np.expm1(zs) - zs) / (zs * zs))
            xp = self.backend.xp
            self._phi1 = xp.asarray(phi1.astype(self.dtype))
            self._W = xp.asarray((dt * phi2).astype(self.dtype))
            self._g = float((dt * phi2).mean())
            self._w_dt = dt
        return self._phi1, self._W

    def self_response(self, dt: float) -> float:
        """``g``: mean over modes of ``W = dt φ2(a dt)``, min.

        The mean of the diagonal of the step-averaged response ``R`` (``trace(R)/N``: the
        DCT basis is orthonormal), about a voxel's average response to its own unit
        source at interior voxels (near the faces the diagonal is larger).
        """
        self.average_weights(dt)
        return self._g

    def self_end_response(self, dt: float) -> float:
        """``h``: mean over modes of ``P = dt φ1(a dt)``, min (a voxel's end value per unit own source)."""
        E, P = self.coefficients(dt)
        if getattr(self, "_h_dt", None) != dt:
            z = self._a * dt
            with np.errstate(divide="ignore", invalid="ignore"):
                p = np.where(z != 0, np.expm1(z) / np.where(z != 0, self._a, 1.0), dt)
            self._h = float(p.mean())
            self._h_dt = dt
        return self._h

    def zero_mode_factors(self, dt: float) -> tuple[float, float]:
        """``(E, P)`` of the uniform mode in float64: the total evolves as ``M' = E M + P ΣS``."""
        a0 = float(self._a[0, 0, 0])
        z = a0 * dt
        return math.exp(z), (math.expm1(z) / a0 if z != 0 else dt)

    def _transform(self, a, inverse: bool):
        typ = 3 if inverse else 2
        for ax, kind in enumerate(self.axis_kinds):
            a = self._fft.dct(a, type=typ, axis=ax, norm="ortho", overwrite_x=True, **self._workers)
        return a

    def _scatter(self, base, voxels, values):
        """A new lattice array: ``base`` (or zeros) with ``values`` added at ``voxels``."""
        out = self.backend.xp.zeros(self.shape, dtype=self.dtype) if base is None else base.copy()
        out.reshape(-1)[voxels] += values.astype(self.dtype)   # voxels are unique
        return out

    def _average_at(self, uh, sh, voxels):
        """Step average ``φ1 u0 + W s`` at ``voxels`` (float64) from transformed ``u0``, ``s``."""
        phi1, W = self._phi1, self._W
        avg = uh * phi1
        if sh is not None:
            avg += W * sh
        return self._transform(avg, inverse=True).reshape(-1)[voxels].astype(np.float64)

    def exchange_source(self, uh, exchange, dt: float, src=None):
        """Exchange source density ``s`` over the step from the coupled solve (module docs).

        Parameters
        ----------
        uh : backend array
            The transformed field at the start of the step (not modified).
        exchange : PointExchange
            Per-voxel sums ``st`` (concentration/min) and ``su`` (1/min) at ``voxels``.
        dt : float
            Step, min.
        src : backend array, shape ``shape``, optional
            The other sources held over the step (fixed releases, depots),
            concentration/min (not modified).

        Returns
        -------
        s : backend array (m,)
            ``s`` at ``exchange.voxels``, concentration/min, in float64.
        sh : backend array, shape ``shape``
            The transform of ``src`` plus ``s`` scattered to its voxels (field dtype): the
            step's whole source, ready for the update.

        Notes
        -----
        How the solve ended is kept in :attr:`last_exchange` (``iterations``,
        ``residual`` relative to the gross exchange, ``converged``, ``capped``: voxels
        whose ``s`` was capped at ``st``).
        """
        xp = self.backend.xp
        v = exchange.voxels
        phi1, W = self.average_weights(dt)
        g = self._g
        st = exchange.st.astype(np.float64)
        su = exchange.su.astype(np.float64)
        sig = xp.sqrt(su)
        T = xp.where(su > 0, st / xp.where(su > 0, su, 1.0), 0.0)
        diag = 1.0 + su * g
        # local solve (warm start): the voxel alone, other sources at its own voxel
        a0 = self._average_at(uh, None, v)
        if src is not None:
            a0 = a0 + g * src.reshape(-1)[v].astype(np.float64)
        x = sig * (T - a0) / diag
        sh = self._transform(self._scatter(src, v, sig * x), inverse=False)
        info = {"iterations": 0, "residual": None, "converged": None, "capped": 0}
        self.last_exchange = info
        nmax = int(self.max_exchange_iterations)
        if nmax > 0:
            tol = EXCHANGE_RTOL_F32 if self.dtype == np.float32 else EXCHANGE_RTOL
            ubar = self._average_at(uh, sh, v)
            r = sig * (T - ubar) - x                      # residual of the symmetric system
            scale = float(xp.linalg.norm(sig * T)) + float(xp.linalg.norm(sig * ubar))
            rnorm = float(xp.linalg.norm(r))
            z = r / diag
            p = z
            rz = float(xp.dot(r, z))
            it = 0
            while rnorm > tol * scale and it < nmax:
                ph = self._transform(self._scatter(None, v, sig * p), inverse=False)
                Rp = self._transform(W * ph, inverse=True).reshape(-1)[v].astype(np.float64)
                Kp = p + sig * Rp
                pKp = float(xp.dot(p, Kp))
                if not pKp > 0:   # breakdown (round-off at a residual already tiny)
                    break
                alpha = rz / pKp
                x = x + alpha * p
                r = r - alpha * Kp
                ph *= self.dtype.type(alpha)
                sh += ph                                 # the source's transform follows x
                z = r / diag
                rz_new = float(xp.dot(r, z))
                p = z + (rz_new / rz) * p if rz > 0 else z
                rz = rz_new
                rnorm = float(xp.linalg.norm(r))
                it += 1
            info.update(iterations=it, residual=rnorm / scale if scale > 0 else 0.0,
                        converged=bool(rnorm <= tol * scale))
        s = sig * x
        # a voxel's average is never negative: its net source never exceeds st
        excess = xp.maximum(s - st, 0.0)
        if nmax > 0 and bool((excess > 0).any()):
            info["capped"] = int((excess > 0).sum())
            s = s - excess
            sh += self._transform(self._scatter(None, v, -excess), inverse=False)
        return s, sh

    def step(self, u, src, dt: float, exchange=None):
        """Advance ``u`` exactly by ``dt`` minutes with constant source ``src``.

        Parameters
        ----------
        u : backend array, shape ``shape``
            Concentration; not modified.
        src : backend array or None
            Source density held constant over the step, concentration/min.
        dt : float
            Step, min.
        exchange : PointExchange, optional
            Cells' secretion toward targets and uptake, coupled into the step as a
            source density (module docs); its value at the voxels is kept in
            ``self.last_exchange_source`` (float64, concentration/min), how its solve
            ended in ``self.last_exchange``.

        Returns
        -------
        backend array
            The new concentration (a new array).
        """
        E, P = self.coefficients(dt)
        uh = self._transform(u.copy(), inverse=False)
        self.last_exchange_source = None
        sh = None
        if exchange is not None and exchange.has_implicit:
            s_ex, sh = self.exchange_source(uh, exchange, dt, src)
            self.last_exchange_source = s_ex
        elif src is not None:
            sh = self._transform(src.copy(), inverse=False)
        if self.backend.is_gpu:
            k_src, k_nosrc = _gpu_update_kernels(self.backend.xp)
            if sh is None:
                k_nosrc(E, uh)
            else:
                k_src(E, P, sh, uh)
        else:
            np.multiply(uh, E, out=uh)
            if sh is not None:
                np.multiply(sh, P, out=sh)
                uh += sh
        return self._transform(uh, inverse=True)
