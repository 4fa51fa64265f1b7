"""Exchange between point agents and fields: implicit, non-negative per-voxel update.

Agents at voxel ``i`` secrete toward a target ``T`` at rate ``S`` (1/min),
take up at rate ``U`` (1/min) and release a fixed amount per minute ``q``.
Several agents in one voxel add their terms. Over a step ``dt`` the voxel's
concentration ``p`` is updated implicitly, as in BioFVM (Ghaffarizadeh et al.
2016, Bioinformatics 32:1256):

    p <- (p + dt Σ S_a T_a) / (1 + dt Σ (S_a + U_a))

which can never make ``p`` negative, and never pushes it past the largest
target of the agents in the voxel when it starts at or below it. The fixed
releases ``q`` become a source density ``Σ q_a / V`` that the diffusion stage
integrates (exactly, in the spectral scheme).
"""

from __future__ import annotations

import numpy as np

from . import xp_ops
from .backend import Backend

__all__ = ["PointExchange", "apply_implicit_exchange", "IMPLICIT_EXCHANGE_KERNEL"]

#: CuPy ElementwiseKernel source of the implicit update (keyword arguments of
#: ``cupy.ElementwiseKernel``); one thread per voxel with agents (the voxels are unique,
#: so no two threads write the same element of the raw field ``u``).
IMPLICIT_EXCHANGE_KERNEL = dict(
    in_params="int64 idx, T st, T su, T dt", out_params="raw T u",
    operation="u[idx] = (u[idx] + dt * st) / (1 + dt * su)", name="abm_implicit_exchange")

_GPU = {}


class PointExchange:
    """Per-voxel sums of the exchange terms of a set of point agents.

    Parameters
    ----------
    backend : Backend
        Array backend.
    flat_index : int array, shape (n,)
        Flat voxel index of each agent (C order of the lattice).
    secretion_rate, target, uptake_rate, release : float or array, shape (n,)
        ``S`` (1/min), ``T`` (concentration), ``U`` (1/min) and ``q``
        (amount/min, amount = concentration × µm³) per agent.
    dtype : numpy dtype
        Floating type of the fields.
    """

    def __init__(self, backend: Backend, flat_index, secretion_rate, target,
                 uptake_rate, release, dtype):
        xp = backend.xp
        self.backend = backend
        idx = xp.asarray(flat_index, dtype=xp.int64).ravel()
        n = idx.size

        def col(v):
            return xp.broadcast_to(xp.asarray(v, dtype=np.float64), (n,))

        S, T, U, q = col(secretion_rate), col(target), col(uptake_rate), col(release)
        uniq, inv = xp_ops.unique_inverse(xp, idx)
        m = uniq.size

        def summed(v):
            out = xp.zeros(m, dtype=np.float64)
            xp_ops.scatter_add(xp, out, inv, v)
            return out

        self._set(uniq, summed(S * T), summed(S + U), summed(q), dtype)

    def _set(self, voxels, st, su, q, dtype) -> None:
        self.voxels = voxels
        self.st = st.astype(dtype, copy=False)      # (no copy when already that dtype)
        self.su = su.astype(dtype, copy=False)
        self.q = q.astype(dtype, copy=False)
        n = int(voxels.shape[0])
        self.has_implicit = bool(n) and bool((self.su > 0).any())
        self.has_release = bool(n) and bool((self.q > 0).any())

    @classmethod
    def from_sums(cls, backend: Backend, voxels, st, su, q, dtype) -> "PointExchange":
        """Build from per-voxel sums already computed, with no checks.

        ``voxels`` are unique; the sums are ``Σ S T``, ``Σ (S + U)`` and ``Σ q`` per voxel.
        This is for the cell layer, which computes them for all fields at once.
        """
        ex = cls.__new__(cls)
        ex.backend = backend
        ex._set(voxels, st, su, q, dtype)
        return ex


def apply_implicit_exchange(u_flat, ex: PointExchange, dt: float) -> None:
    """Apply the implicit secretion/uptake update in place.

    Parameters
    ----------
    u_flat : backend array, 1D view of one species' field
        Concentration, modified in place.
    ex : PointExchange
        Summed agent terms.
    dt : float
        Step, min.
    """
    if not ex.has_implicit:
        return
    if ex.backend.is_gpu:
        cp = ex.backend.xp
        if "k" not in _GPU:
            _GPU["k"] = cp.ElementwiseKernel(**IMPLICIT_EXCHANGE_KERNEL)
        _GPU["k"](ex.voxels, ex.st, ex.su, u_flat.dtype.type(dt), u_flat)
    else:
        v = ex.voxels
        u_flat[v] = (u_flat[v] + dt * ex.st) / (1 + dt * ex.su)
