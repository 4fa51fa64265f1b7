"""What enters the fields besides diffusion.

Cells' point exchange (secretion toward a target, uptake, release), depots (a loaded
amount released first-order or at a constant rate, or first-order at a rate that another
field sets: :class:`TriggeredDepot`), boluses, and amounts added at voxels (a dying
cell's contents).

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

__all__ = ["FieldSources", "TriggeredDepot", "hill_rate", "depot_state", "depot_from_state"]


def hill_rate(level, rate: float, rate_max: float, half_max: float, hill: float):
    """A first-order rate that rises with a trigger level by a Hill function.

    ``k(c) = rate + (rate_max - rate) · c^n / (K^n + c^n)``.

    Parameters
    ----------
    level : float or ndarray
        Trigger concentration ``c`` (the trigger field's unit); negative values count as 0.
    rate : float
        ``k(0)``, 1/min.
    rate_max : float
        ``k(∞)``, 1/min.
    half_max : float
        ``K``, the level at which the rate is halfway between, trigger field's unit (> 0).
    hill : float
        ``n``, Hill power (> 0).

    Returns
    -------
    float or ndarray
        1/min, the shape of ``level``.
    """
    c = np.maximum(np.asarray(level, dtype=np.float64), 0.0)
    x = (c / half_max) ** hill
    return rate + (rate_max - rate) * x / (1.0 + x)


class TriggeredDepot(Depot):
    """A depot released first-order at a rate set by the local level of another field.

    Each of its voxels holds its own share of the load (``parts``; the load starts evenly
    spread) and releases it into that voxel at ``k(c)`` (:func:`hill_rate`) where ``c``
    is the trigger field's concentration there when the step's release is computed (the
    start of the step; the end of it if the trigger field comes earlier in the field list
    and has been advanced already), held over the step, so a step releases
    ``parts · (1 - exp(-k dt))`` exactly (no loss of mass at any step length).

    Attributes
    ----------
    trigger : str
        The field whose level sets the rate.
    rate : float
        Rate at trigger level 0, 1/min (the base class's ``rate``).
    rate_max, half_max, hill : float
        See :func:`hill_rate` (1/min, trigger field's unit, plain number).
    parts : ndarray of float64
        Amount still loaded at each of ``voxels``, concentration × µm³ (host memory).
    """

    def __init__(self, species: str, voxels, remaining: float, rate: float, trigger: str,
                 rate_max: float, half_max: float, hill: float, parts=None,
                 released: float = 0.0):
        super().__init__(species, voxels, float(remaining), "triggered", float(rate),
                         float(released))
        n = int(np.size(to_numpy(voxels)))
        self.trigger, self.rate_max = str(trigger), float(rate_max)
        self.half_max, self.hill = float(half_max), float(hill)
        self.parts = (np.full(n, float(remaining) / n) if parts is None
                      else np.array(parts, dtype=np.float64))
        self.level = np.zeros(n)
        self.last = np.zeros(n)

    def release_over(self, dt: float) -> float:
        """Amount released over the next ``dt`` min at the levels in ``self.level`` (updates the depot).

        The amounts per voxel are left in ``self.last`` (concentration × µm³).
        """
        k = hill_rate(self.level, self.rate, self.rate_max, self.half_max, self.hill)
        amt = self.parts * -np.expm1(-k * dt)
        self.parts = self.parts - amt
        self.last = amt
        total = float(amt.sum())
        self.remaining = float(self.parts.sum())
        self.released += total
        return total


def depot_state(d: Depot) -> dict:
    """A depot as plain numbers and NumPy arrays (for a checkpoint); see :func:`depot_from_state`."""
    out = {"species": d.species, "voxels": np.asarray(to_numpy(d.voxels)),
           "remaining": float(d.remaining), "law": d.law, "rate": float(d.rate),
           "released": float(d.released)}
    if isinstance(d, TriggeredDepot):
        out.update(trigger=d.trigger, rate_max=d.rate_max, half_max=d.half_max, hill=d.hill,
                   parts=np.asarray(d.parts, dtype=np.float64))
    return out


def depot_from_state(state: dict, xp) -> Depot:
    """The depot that :func:`depot_state` wrote, its voxels on the array module ``xp``."""
    vox = xp.asarray(np.asarray(state["voxels"], np.int64))
    if state["law"] == "triggered":
        return TriggeredDepot(state["species"], vox, float(state["remaining"]),
                              float(state["rate"]), str(state["trigger"]),
                              float(state["rate_max"]), float(state["half_max"]),
                              float(state["hill"]), np.asarray(state["parts"], np.float64),
                              float(state["released"]))
    return Depot(state["species"], vox, float(state["remaining"]), state["law"],
                 float(state["rate"]), float(state["released"]))


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

    def add_triggered_depot(self, name: str, region, amount: float, rate: float,
                            trigger: str, rate_max: float, half_max: float,
                            hill: float = 1.0) -> TriggeredDepot:
        """Load a depot released first-order at a rate another field's local level sets.

        Parameters
        ----------
        name : str
            Field released into.
        region : mask or voxel coordinates
            Where the depot sits; the load is spread evenly over its permeable voxels, and
            each voxel's share releases into that voxel.
        amount : float
            Loaded amount, concentration × µm³ (finite, >= 0).
        rate : float
            Release rate at trigger level 0, 1/min.
        trigger : str
            Field whose concentration ``c`` sets the rate (:func:`hill_rate`).
        rate_max : float
            Release rate as ``c`` grows without bound, 1/min.
        half_max : float
            Level of half the rise, the trigger field's unit (> 0).
        hill : float
            Hill power (> 0).

        Returns
        -------
        TriggeredDepot
        """
        self.index(name)
        self.index(trigger)
        amount = finite_nonneg(name, amount, "depot amount")
        rate = finite_nonneg(name, rate, "depot release rate")
        rate_max = finite_nonneg(name, rate_max, "depot release rate at full trigger")
        for what, v in (("half-max trigger level", half_max), ("Hill power", hill)):
            if not finite_nonneg(name, v, what) > 0:
                raise ModelInputError(f"the {what} of a triggered depot of {name!r} must be > 0, "
                                      f"got {v!r}")
        flat = self._release_voxels(region, "depot")
        d = TriggeredDepot(name, self.xp.asarray(flat), amount, rate, trigger, rate_max,
                           half_max, hill)
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
            if isinstance(d, TriggeredDepot):
                level = self.u[self.index(d.trigger)].reshape(-1)[d.voxels]
                d.level = np.asarray(to_numpy(level), dtype=np.float64)
                if d.release_over(dt) > 0:
                    buf().reshape(-1)[d.voxels] += xp.asarray(
                        d.last / (self.voxel_volume * dt), dtype=self.dtype)
                continue
            amt = d.release_over(dt)
            if amt > 0:
                buf().reshape(-1)[d.voxels] += amt / (d.voxels.size * self.voxel_volume * dt)
        return src
