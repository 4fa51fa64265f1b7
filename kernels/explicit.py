"""Explicit, sub-stepped finite-volume diffusion with decay and sources.

One sub-step of length ``h`` advances every voxel ``i`` by

    u_i <- u_i + (D h / dx^2) * sum_j g_ij (u_j - u_i)
               + (D h / dx^2) * sum_fixed 2 d_i (c_face - u_i)
               - lambda h k_i u_i + h s_i

where ``j`` runs over the six face neighbours, ``d_i`` is the voxel's
diffusivity scale (0 for impermeable tissue), ``g_ij = 2 d_i d_j/(d_i + d_j)``
is the harmonic-mean face conductance (0 when either side is impermeable, so
no flux crosses), ``k_i`` is the voxel's decay scale, ``s_i`` a source density
(concentration per minute) and ``c_face`` the value held on a fixed-value face,
which sits half a voxel from the boundary voxel's centre (hence the factor 2).
A no-flux face contributes nothing. Because each face flux is added to one
voxel and subtracted from the other, the scheme conserves mass exactly up to
round-off.

The sub-step is positivity preserving and stable when
``h * max_i(D/dx^2 * sum_j g_ij + lambda k_i) <= 1``;
:meth:`ExplicitGeometry.max_rate` gives that rate and the caller chooses the
number of sub-steps from it.

On a GPU one sub-step is one fused CUDA kernel (:data:`CUDA_SOURCE`); on the
CPU :meth:`ExplicitGeometry.substep` is its NumPy twin.
"""

from __future__ import annotations

import numpy as np

from .backend import Backend

__all__ = ["ExplicitGeometry", "CUDA_SOURCE", "FACES"]

#: Face names in the order used everywhere: low/high x, y, z.
FACES = ("x-", "x+", "y-", "y+", "z-", "z+")

CUDA_SOURCE = r"""
#ifndef REAL
#define REAL float
#endif

// One explicit sub-step of diffusion + decay + source on an (nx, ny, nz)
// C-ordered lattice (z fastest). HETERO selects per-voxel tissue labels.
extern "C" __global__ void explicit_substep(
    const REAL* __restrict__ u, REAL* __restrict__ out,
    const REAL* __restrict__ src, const unsigned char* __restrict__ label,
    const REAL* __restrict__ dtab, const REAL* __restrict__ ktab,
    const int nx, const int ny, const int nz,
    const REAL r, const REAL kdt, const REAL h, const int fixed_mask,
    const REAL cxm, const REAL cxp, const REAL cym, const REAL cyp,
    const REAL czm, const REAL czp, const int has_src)
{
    const long long n = (long long)nx * ny * nz;
    const long long sx = (long long)ny * nz;
    const long long sy = nz;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const int z = (int)(i % nz);
        const long long t = i / nz;
        const int y = (int)(t % ny);
        const int x = (int)(t / ny);
        const REAL ui = u[i];
        REAL acc = 0;
#ifdef HETERO
        const REAL di = dtab[label[i]];
        const REAL ki = ktab[label[i]];
#define NB(off) { const REAL dj = dtab[label[i + (off)]]; const REAL s_ = di + dj; \
                  if (s_ > 0) acc += (2 * di * dj / s_) * (u[i + (off)] - ui); }
#else
        const REAL di = 1;
        const REAL ki = 1;
#define NB(off) { acc += u[i + (off)] - ui; }
#endif
        if (x > 0) NB(-sx) else if (fixed_mask & 1)  acc += 2 * di * (cxm - ui);
        if (x < nx - 1) NB(sx) else if (fixed_mask & 2)  acc += 2 * di * (cxp - ui);
        if (y > 0) NB(-sy) else if (fixed_mask & 4)  acc += 2 * di * (cym - ui);
        if (y < ny - 1) NB(sy) else if (fixed_mask & 8)  acc += 2 * di * (cyp - ui);
        if (z > 0) NB(-1) else if (fixed_mask & 16) acc += 2 * di * (czm - ui);
        if (z < nz - 1) NB(1) else if (fixed_mask & 32) acc += 2 * di * (czp - ui);
#undef NB
        REAL v = ui + r * acc - kdt * ki * ui;
        if (has_src) v += h * src[i];
        out[i] = v;
    }
}
"""


def _harmonic(a, b, xp):
    """Face conductance 2ab/(a+b), 0 where a+b == 0."""
    s = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        g = xp.where(s > 0, 2 * a * b / xp.where(s > 0, s, 1), 0)
    return g


class ExplicitGeometry:
    """Tissue geometry for the explicit scheme, shared by all species.

    Parameters
    ----------
    backend : Backend
        Array backend.
    shape : tuple of int
        Lattice shape ``(nx, ny, nz)``.
    dtype : numpy dtype
        Floating type of the fields.
    labels : array of uint8, shape ``shape``, optional
        Tissue label per voxel; ``None`` means uniform tissue.
    diffusion_scale, decay_scale : sequence of float, optional
        Per-label multipliers of diffusivity and decay; an impermeable label
        has diffusion scale 0. Required when ``labels`` is given.
    """

    def __init__(self, backend: Backend, shape, dtype, labels=None,
                 diffusion_scale=None, decay_scale=None):
        xp = backend.xp
        self.backend = backend
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.hetero = labels is not None
        self._buf = None
        if self.hetero:
            self.labels = xp.asarray(labels, dtype=xp.uint8)
            self.dtab = xp.asarray(np.asarray(diffusion_scale, dtype=self.dtype))
            self.ktab = xp.asarray(np.asarray(decay_scale, dtype=self.dtype))
            d = self.dtab[self.labels]
            self.dvox = d
            self.kvox = self.ktab[self.labels]
            # face conductances between neighbours along each axis
            self.g = [
                _harmonic(d[1:, :, :], d[:-1, :, :], xp).astype(self.dtype),
                _harmonic(d[:, 1:, :], d[:, :-1, :], xp).astype(self.dtype),
                _harmonic(d[:, :, 1:], d[:, :, :-1], xp).astype(self.dtype),
            ]
        else:
            self.labels = None
            self.dvox = None
            self.kvox = None
            self.g = [None, None, None]
        self._kernel = None

    # ------------------------------------------------------------------ rates
    def conductance_sum(self, fixed_mask: int):
        """Sum of face conductances per voxel (dimensionless), fixed faces included.

        Returns a backend array of shape ``shape`` (heterogeneous tissue) or a
        float (uniform tissue: the largest sum over voxels).
        """
        nx, ny, nz = self.shape
        if not self.hetero:
            # The sum separates by axis, so its maximum over voxels is the sum
            # of per-axis maxima: an interior voxel has 2 neighbours on an axis,
            # an end voxel 1 neighbour plus 2 for a fixed face it touches.
            best = 0.0
            for ax, n in enumerate(self.shape):
                f_lo = 1.0 if fixed_mask & (1 << (2 * ax)) else 0.0
                f_hi = 1.0 if fixed_mask & (1 << (2 * ax + 1)) else 0.0
                if n == 1:
                    best += 2 * (f_lo + f_hi)
                else:
                    ends = max(1 + 2 * f_lo, 1 + 2 * f_hi)
                    best += max(ends, 2.0) if n > 2 else ends
            return best
        xp = self.backend.xp
        tot = xp.zeros(self.shape, dtype=self.dtype)
        for ax, g in enumerate(self.g):
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[ax] = slice(0, -1)
            hi[ax] = slice(1, None)
            tot[tuple(lo)] += g
            tot[tuple(hi)] += g
            for side in (0, 1):
                if fixed_mask & (1 << (2 * ax + side)):
                    sl = [slice(None)] * 3
                    sl[ax] = 0 if side == 0 else -1
                    tot[tuple(sl)] += 2 * self.dvox[tuple(sl)]
        return tot

    def max_rate(self, diffusion: float, decay: float, dx: float, fixed_mask: int) -> float:
        """Largest per-voxel loss rate (1/min) of the explicit operator.

        Parameters
        ----------
        diffusion : float
            Diffusion coefficient, µm²/min.
        decay : float
            Decay rate, 1/min.
        dx : float
            Voxel edge, µm.
        fixed_mask : int
            Bit ``2*axis + side`` set for each fixed-value face.

        Returns
        -------
        float
            ``max_i (D/dx² Σ_j g_ij + λ k_i)`` in 1/min; a sub-step ``h`` is
            stable and positivity preserving when ``h * rate <= 1``.
        """
        cs = self.conductance_sum(fixed_mask)
        if not self.hetero:
            return diffusion / dx**2 * cs + decay
        rate = diffusion / dx**2 * cs + decay * self.kvox
        return float(rate.max())

    # ------------------------------------------------------------------- step
    def substep(self, u, out, src, r: float, kdt: float, h: float,
                fixed_mask: int, face_values) -> None:
        """Advance one species by one explicit sub-step, writing into ``out``.

        Parameters
        ----------
        u, out : backend arrays, shape ``shape``
            Concentration before (read) and after (written); must differ.
        src : backend array or None
            Source density, concentration/min; ``None`` for none.
        r : float
            ``D h / dx²`` (dimensionless).
        kdt : float
            ``λ h`` (dimensionless).
        h : float
            Sub-step length, min.
        fixed_mask : int
            Bit ``2*axis + side`` set for each fixed-value face.
        face_values : sequence of 6 float
            Values held on the faces in :data:`FACES` order (ignored where no-flux).
        """
        if self.backend.is_gpu:
            self._substep_gpu(u, out, src, r, kdt, h, fixed_mask, face_values)
        else:
            self._substep_numpy(u, out, src, r, kdt, h, fixed_mask, face_values)

    def _substep_numpy(self, u, out, src, r, kdt, h, fixed_mask, face_values):
        if self._buf is None or self._buf[0].shape != u.shape:
            self._buf = (np.empty_like(u), [
                np.empty((u.shape[0] - 1, u.shape[1], u.shape[2]), u.dtype),
                np.empty((u.shape[0], u.shape[1] - 1, u.shape[2]), u.dtype),
                np.empty((u.shape[0], u.shape[1], u.shape[2] - 1), u.dtype),
            ])
        acc, tmp = self._buf
        acc.fill(0)
        for ax in range(3):
            if u.shape[ax] < 2:
                continue
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[ax] = slice(0, -1)
            hi[ax] = slice(1, None)
            lo, hi = tuple(lo), tuple(hi)
            f = tmp[ax]
            np.subtract(u[hi], u[lo], out=f)
            if self.hetero:
                np.multiply(f, self.g[ax], out=f)
            acc[lo] += f
            acc[hi] -= f
        for ax in range(3):
            for side in (0, 1):
                if not fixed_mask & (1 << (2 * ax + side)):
                    continue
                sl = [slice(None)] * 3
                sl[ax] = slice(0, 1) if side == 0 else slice(-1, None)
                sl = tuple(sl)
                d = 1.0 if not self.hetero else self.dvox[sl]
                acc[sl] += 2 * d * (face_values[2 * ax + side] - u[sl])
        # out = u + r*acc - kdt*k*u + h*src
        np.multiply(acc, r, out=out)
        out += u
        if kdt:
            if self.hetero:
                np.multiply(self.kvox, u, out=acc)
                acc *= kdt
                out -= acc
            else:
                out -= kdt * u
        if src is not None:
            out += h * src

    def _substep_gpu(self, u, out, src, r, kdt, h, fixed_mask, face_values):
        cp = self.backend.xp
        if self._kernel is None:
            real = "double" if self.dtype == np.float64 else "float"
            opts = (f"-DREAL={real}",) + (("-DHETERO",) if self.hetero else ())
            mod = cp.RawModule(code=CUDA_SOURCE, options=opts)
            self._kernel = mod.get_function("explicit_substep")
            self._dummy_u8 = cp.zeros(1, dtype=cp.uint8)
            self._dummy_f = cp.zeros(1, dtype=self.dtype)
        nx, ny, nz = self.shape
        n = nx * ny * nz
        threads = 256
        blocks = min((n + threads - 1) // threads, 65535 * 8)
        T = self.dtype.type
        lab = self.labels if self.hetero else self._dummy_u8
        dtab = self.dtab if self.hetero else self._dummy_f
        ktab = self.ktab if self.hetero else self._dummy_f
        s = src if src is not None else self._dummy_f
        fv = [T(v) for v in face_values]
        self._kernel(
            (blocks,), (threads,),
            (u, out, s, lab, dtab, ktab, np.int32(nx), np.int32(ny), np.int32(nz),
             T(r), T(kdt), T(h), np.int32(fixed_mask), *fv,
             np.int32(1 if src is not None else 0)),
        )
