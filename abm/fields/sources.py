"""What enters the fields besides diffusion.

Cells' point exchange (secretion toward a target, uptake, release), depots (a loaded
amount released first-order or at a constant rate), boluses, and amounts added at
voxels (a dying cell's contents).

:class:`FieldSources` is the part of :class:`~abm.fields.FieldSolver` that records these;
the solver turns them into the exchange update and the source density of each step.
Amounts are concentration × µm³; rates are per minute.
"""

from __future__ import annotations

import math

import numpy as np

from kernels.backend import to_numpy
from kernels.exchange import PointExchange
from kernels.lattice import scatter_add

from ..errors import ModelInputError
from .species import Depot, finite_nonneg

__all__ = ["FieldSources"]


class FieldSources:
    """Point exchange, depots, boluses and direct amounts of a field solver.

    A mixin of :class:`~abm.fields.FieldSolver`: it uses the solver's ``species``, ``u``, ``xp``, ``shape``, ``voxel_volume``,
    ``permeable`` and ``depots``).
    """

    def flat_voxels(self, region) -> np.ndarray:
        """Flat voxel indices of a region.

        Parameters
        ----------
        region : bool array of shape ``shape``, int array of shape (n, 3), or (i, j, k)
            A mask, a list of voxel coordinates, or one voxel.

        Returns
        -------
        ndarray of int64
            Flat (C-order) indices, unique and sorted for masks.
        """
        r = np.asarray(to_numpy(region))
        if r.dtype == bool:
            if r.shape != self.shape:
                raise ModelInputError(
                    f"region mask has shape {r.shape}, expected the lattice shape {self.shape}")
            return np.flatnonzero(r)
        r = np.atleast_2d(r)
        if r.ndim != 2 or r.shape[1] != 3 or not np.issubdtype(r.dtype, np.integer):
            raise ModelInputError(
                "a region must be a boolean mask of the lattice shape or integer voxel "
                f"coordinates of shape (n, 3); got an array of shape {r.shape} and dtype {r.dtype}")
        bad = (r < 0) | (r >= np.asarray(self.shape))
        if bad.any():
            row = r[np.argmax(bad.any(axis=1))]
            raise ModelInputError(
                f"voxel {tuple(int(v) for v in row)} lies outside the lattice "
                f"0..{self.shape[0] - 1} x 0..{self.shape[1] - 1} x 0..{self.shape[2] - 1}")
        return np.ravel_multi_index(r.T, self.shape).astype(np.int64)

    # ------------------------------------------------------------- exchange
    def set_point_exchange(self, name: str, voxels, secretion_rate=0.0, target=0.0,
                           uptake_rate=0.0, release=0.0) -> None:
        """Set the agents that exchange with field ``name`` from the next step on.

        Replaces any previous set for that field. Terms of agents that share a
        voxel add up.

        Parameters
        ----------
        name : str
            Field name.
        voxels : int array, shape (n, 3)
            Voxel of each agent.
        secretion_rate : float or array (n,)
            ``S``, 1/min: secretion toward ``target``.
        target : float or array (n,)
            ``T``, saturation concentration of the secretion, in the field's unit.
        uptake_rate : float or array (n,)
            ``U``, 1/min: first-order uptake.
        release : float or array (n,)
            ``q``, fixed release, amount/min (amount = concentration × µm³).
        """
        i = self.index(name)
        flat = self.flat_voxels(voxels) if np.size(voxels) else np.zeros(0, np.int64)
        n = flat.size
        cols = {}
        for label, v in (("secretion_rate", secretion_rate), ("target", target),
                         ("uptake_rate", uptake_rate), ("release", release)):
            a = np.asarray(to_numpy(v), dtype=np.float64)
            if a.ndim and a.shape != (n,):
                raise ModelInputError(
                    f"{label} for field {name!r} has shape {a.shape}; give one value or one per voxel ({n})")
            if not np.all(np.isfinite(a)) or np.any(a < 0):
                raise ModelInputError(f"{label} for field {name!r} must be finite and >= 0")
            cols[label] = a
        if n == 0:
            self._exchange.pop(i, None)
            return
        self._exchange[i] = PointExchange(
            self.backend, flat, cols["secretion_rate"], cols["target"],
            cols["uptake_rate"], cols["release"], self.dtype)

    def set_exchange_sums(self, name: str, voxels, st, su, q) -> None:
        """Set the exchange of field ``name`` from per-voxel sums (fast path for the cell layer).

        Parameters
        ----------
        voxels : int64 backend array (m,)
            Distinct flat voxel indices.
        st, su, q : float backend arrays (m,)
            ``Σ S·T`` (concentration/min), ``Σ (S + U)`` (1/min) and ``Σ q``
            (amount/min) of the agents in each voxel; all finite and >= 0
            (not checked here).
        """
        self._exchange[self.index(name)] = PointExchange.from_sums(
            self.backend, voxels, st, su, q, self.dtype)

    def clear_point_exchange(self, name: str | None = None) -> None:
        """Remove the point agents of one field (or of all fields)."""
        if name is None:
            self._exchange.clear()
        else:
            self._exchange.pop(self.index(name), None)

    def _release_voxels(self, region, what: str) -> np.ndarray:
        flat = np.unique(self.flat_voxels(region))
        if self._permeable_flat is not None:
            flat = flat[self._permeable_flat[flat]]
        if flat.size == 0:
            raise ModelInputError(f"the region of the {what} holds no permeable voxel")
        return flat

    def add_depot(self, name: str, region, amount: float, law: str = "first_order",
                  rate: float = 0.0) -> Depot:
        """Load a depot that releases into field ``name`` (e.g. an exosome-loaded hydrogel).

        Parameters
        ----------
        name : str
            Field name.
        region : mask or voxel coordinates
            Where the depot sits; release is spread evenly over its permeable voxels.
        amount : float
            Loaded amount, concentration × µm³ (``math.inf`` with ``law="constant"``
            for a source that never runs out).
        law : {"first_order", "constant"}
            Release law: ``rate × remaining`` per minute, or ``rate`` per minute until empty.
        rate : float
            1/min (first order) or amount/min (constant).

        Returns
        -------
        Depot
            The depot; its ``remaining`` and ``released`` track the mass balance.
        """
        self.index(name)
        if law not in ("first_order", "constant"):
            raise ModelInputError(f"depot release law must be 'first_order' or 'constant', got {law!r}")
        try:
            amount = float(amount)
        except (TypeError, ValueError):
            raise ModelInputError(f"depot amount must be a number, got {amount!r}") from None
        if math.isnan(amount) or amount < 0:
            raise ModelInputError(f"depot amount must be >= 0, got {amount!r}")
        if math.isinf(amount) and law != "constant":
            raise ModelInputError("an inexhaustible (infinite) depot needs law='constant'")
        rate = finite_nonneg(name, rate, "depot release rate")
        d = Depot(name, self.xp.asarray(self._release_voxels(region, "depot")), amount, law, rate)
        self.depots.append(d)
        return d

    def add_bolus(self, name: str, region, amount: float) -> None:
        """Add ``amount`` (concentration × µm³) to field ``name`` at once, evenly over ``region``."""
        i = self.index(name)
        amount = finite_nonneg(name, amount, "bolus amount")
        flat = self._release_voxels(region, "bolus")
        view = self.u[i].reshape(-1)
        view[self.xp.asarray(flat)] += amount / (flat.size * self.voxel_volume)

    def add_amounts(self, name: str, flat_voxels, amounts) -> None:
        """Add point amounts to field ``name`` at once (e.g. what dying cells release).

        Each amount raises its voxel's concentration by ``amount / voxel_volume``;
        repeated voxels accumulate. The total of the field grows by ``Σ amounts``.

        Parameters
        ----------
        name : str
            Field name.
        flat_voxels : int64 backend array (m,)
            Flat voxel index of each amount (C order over the lattice).
        amounts : float backend array (m,)
            Amounts, concentration × µm³; finite and >= 0 (not checked here: the
            fast path for the cell layer).
        """
        view = self.u[self.index(name)].reshape(-1)
        scatter_add(self.xp, view, flat_voxels, (amounts / self.voxel_volume).astype(view.dtype))


    def _source_density(self, i: int, dt: float):
        """Source density (concentration/min) of species ``i`` over the next step, or None."""
        xp = self.xp
        src = None

        def buf():
            nonlocal src
            if src is None:
                src = xp.zeros(self.shape, dtype=self.dtype)
            return src

        ex = self._exchange.get(i)
        if ex is not None and ex.has_release:
            buf().reshape(-1)[ex.voxels] += ex.q / self.voxel_volume
        name = self.species[i].name
        for d in self.depots:
            if d.species != name:
                continue
            amt = d.release_over(dt)
            if amt > 0:
                buf().reshape(-1)[d.voxels] += amt / (d.voxels.size * self.voxel_volume * dt)
        return src
