"""The field engine: diffusing, decaying cytokine and growth-factor fields.

A :class:`FieldSolver` holds any number of named species (SDF-1α, VEGF, BDNF,
exosome density, ...) on an ``(nx, ny, nz)`` voxel lattice with edge ``dx``.
Each step of length ``dt`` does, per species:

1. **exchange**: point agents secrete toward a target and take up, with the
   implicit per-voxel update of :mod:`kernels.exchange` (never negative);
2. **sources**: fixed point releases and depots (first-order or constant-rate
   release of a loaded amount) become a source density held constant over
   the step;
3. **diffuse**: diffusion, decay and that source advance by ``dt`` with one of
   two schemes, chosen per species:

   * ``"spectral"`` — exact integration of the isotropic 19-point operator in
     its eigenbasis (:mod:`kernels.spectral`); needs uniform tissue and no-flux
     faces. Unconditionally stable, no sub-steps, exact steady states.
   * ``"explicit"`` — 7-point finite-volume sub-steps (:mod:`kernels.explicit`)
     for any tissue (impermeable voxels, per-label diffusivity and decay) and
     fixed-value faces, with the number of sub-steps derived from
     ``dt·D/dx²`` and reported by :meth:`FieldSolver.substeps`.

   The two schemes discretise space slightly differently (19- vs 7-point
   stencil, both second order); they agree to O(dx²).

   ``"auto"`` (default) takes the spectral scheme where it applies.
4. **check**: every field's total is computed; NaN or Inf stops the run with
   :class:`~abm.errors.FieldNotFiniteError` naming the field and the step.

Units (internal, fixed): length µm, time min, concentration in each field's
declared unit (``Species.unit``), amount = concentration × µm³.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from kernels.backend import Backend, get_backend, to_numpy
from kernels.exchange import PointExchange, apply_implicit_exchange
from kernels.explicit import FACES, ExplicitGeometry
from kernels.lattice import scatter_add
from kernels.spectral import SpectralPropagator

from ..errors import FieldNotFiniteError, ModelInputError
from .species import Depot, Species, TissueClass, finite_nonneg

__all__ = [
    "DEFAULT_CELL_STEP_MIN",
    "Species",
    "TissueClass",
    "Depot",
    "FieldSolver",
]

#: Default cell (model) time step, min. Cells move about one 20 µm voxel per
#: tens of minutes, so 1 min resolves their motion; the spectral field scheme
#: is exact at any step and the explicit one sub-steps as needed.
DEFAULT_CELL_STEP_MIN = 1.0

#: Fraction of the explicit stability limit used per sub-step.
EXPLICIT_SAFETY = 0.9

SCHEMES = ("auto", "spectral", "explicit")


class FieldSolver:
    """Diffusion–decay–exchange of named fields on a 3D voxel lattice.

    Parameters
    ----------
    shape : tuple of 3 int
        Lattice size ``(nx, ny, nz)`` in voxels.
    dx : float
        Voxel edge, µm.
    species : sequence of Species
        The fields.
    labels : int array of shape ``shape``, optional
        Tissue label of each voxel (indices into ``tissue``). ``None``: one
        uniform, permeable tissue.
    tissue : sequence of TissueClass, optional
        Properties per label; required with ``labels``.
    backend : {"numpy", "cupy"}, Backend or None
        Array backend; see :func:`kernels.backend.get_backend`.
    dtype : {"float32", "float64"} or None
        Field precision. Default float64 on the CPU (round-off far below any
        biological threshold) and float32 on a GPU (half the memory traffic).
    scheme : {"auto", "spectral", "explicit"}
        Time integration; ``auto`` picks ``spectral`` per species where it applies.

    Attributes
    ----------
    u : backend array, shape ``(n_species, nx, ny, nz)``
        Concentrations, each species in its own unit.
    time : float
        Simulated time, min.
    step_count : int
        Number of steps taken.
    """

    def __init__(self, shape: Sequence[int], dx: float, species: Sequence[Species],
                 labels=None, tissue: Sequence[TissueClass] | None = None,
                 backend: str | Backend | None = None, dtype=None, scheme: str = "auto"):
        self.backend = get_backend(backend)
        xp = self.xp = self.backend.xp
        shape = tuple(int(n) for n in shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ModelInputError(f"lattice shape must be three positive integers, got {shape}")
        self.shape = shape
        self.dx = finite_nonneg("lattice", dx, "voxel size dx (µm)")
        if self.dx == 0:
            raise ModelInputError("voxel size dx must be > 0 µm")
        self.voxel_volume = self.dx**3
        if dtype is None:
            dtype = "float32" if self.backend.is_gpu else "float64"
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ModelInputError(f"dtype must be float32 or float64, got {dtype!r}")
        if scheme not in SCHEMES:
            raise ModelInputError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        self.scheme_request = scheme
        self.species = list(species)
        if not self.species:
            raise ModelInputError("a field solver needs at least one species")
        names = [s.name for s in self.species]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ModelInputError(f"field names must be unique; repeated: {sorted(dup)}")
        self._index = {n: i for i, n in enumerate(names)}

        self.u = xp.empty((len(self.species),) + shape, dtype=self.dtype)
        for i, s in enumerate(self.species):
            self.u[i].fill(s.initial)
        self._scratch = None
        self._exchange: dict[int, PointExchange] = {}
        self.depots: list[Depot] = []
        self.time = 0.0
        self.step_count = 0
        self._substeps: dict[str, int] = {}
        self.set_tissue(labels, tissue)

    # ---------------------------------------------------------------- tissue
    def set_tissue(self, labels=None, tissue: Sequence[TissueClass] | None = None) -> None:
        """Set or change the tissue labels (e.g. when an injury turns tissue into lesion).

        Parameters
        ----------
        labels : int array of shape ``shape`` or None
            Label per voxel; ``None`` for uniform permeable tissue.
        tissue : sequence of TissueClass
            Properties per label (required with ``labels``).
        """
        self.tissue = list(tissue) if tissue is not None else [TissueClass("tissue")]
        if labels is None:
            self.labels = None
        else:
            lab = np.asarray(to_numpy(labels))
            if lab.shape != self.shape:
                raise ModelInputError(
                    f"tissue labels have shape {lab.shape}, expected the lattice shape {self.shape}")
            if tissue is None:
                raise ModelInputError("tissue labels were given without their TissueClass table")
            if lab.size and (lab.min() < 0 or lab.max() >= len(self.tissue)):
                raise ModelInputError(
                    f"tissue labels must lie in 0..{len(self.tissue) - 1} (one per TissueClass); "
                    f"found {int(lab.min())}..{int(lab.max())}")
            if len(self.tissue) > 255:
                raise ModelInputError("at most 255 tissue classes are supported")
            self.labels = lab.astype(np.uint8)
        dscale = [t.diffusion_scale if t.permeable else 0.0 for t in self.tissue]
        kscale = [t.decay_scale for t in self.tissue]
        used = np.unique(self.labels) if self.labels is not None else np.array([0])
        # transport is uniform when every label present moves and removes each field
        # alike (labels may still differ in name or cell capacity)
        self._uniform = len({(dscale[int(u)], kscale[int(u)]) for u in used}) == 1
        self._uniform_label = int(used[0])
        if self._uniform:
            self.geometry = ExplicitGeometry(self.backend, self.shape, self.dtype)
        else:
            self.geometry = ExplicitGeometry(self.backend, self.shape, self.dtype,
                                             labels=self.labels, diffusion_scale=dscale,
                                             decay_scale=kscale)
        self._permeable_flat = None
        if self.labels is not None:
            perm = np.array([t.permeable for t in self.tissue])[self.labels]
            self._permeable_flat = perm.ravel()
        self._choose_schemes(dscale, kscale)

    def _effective(self, i: int) -> tuple[float, float]:
        """Diffusion (µm²/min) and decay (1/min) of species ``i`` after uniform-tissue scaling."""
        s = self.species[i]
        if self._uniform:
            t = self.tissue[self._uniform_label]
            d = s.diffusion * (t.diffusion_scale if t.permeable else 0.0)
            return d, s.decay * t.decay_scale
        return s.diffusion, s.decay

    def _choose_schemes(self, dscale, kscale) -> None:
        self.schemes: list[str] = []
        self._spectral: dict[int, SpectralPropagator] = {}
        for i, s in enumerate(self.species):
            why = None
            if s.fixed_faces:
                why = "it has fixed-value faces (the spectral scheme supports no-flux faces only)"
            if not self._uniform:
                why = "the tissue is not uniform (labels with different diffusion or decay)"
            want = self.scheme_request
            if want == "spectral" and why:
                raise ModelInputError(
                    f"field {s.name!r} cannot use the spectral scheme: {why}; "
                    "use scheme='explicit' or scheme='auto'")
            if want == "explicit" or why:
                self.schemes.append("explicit")
            else:
                d, k = self._effective(i)
                self._spectral[i] = SpectralPropagator(
                    self.backend, self.shape, self.dx, d, k, ("noflux",) * 3, self.dtype)
                self.schemes.append("spectral")

    # --------------------------------------------------------------- regions
    def index(self, name: str) -> int:
        """Position of field ``name`` in :attr:`u`."""
        try:
            return self._index[name]
        except KeyError:
            raise ModelInputError(
                f"unknown field {name!r}; declared fields: {', '.join(self._index)}") from None

    def field(self, name: str):
        """The concentration array of field ``name`` (a view on the backend), in its unit."""
        return self.u[self.index(name)]

    def field_numpy(self, name: str) -> np.ndarray:
        """A NumPy copy of field ``name``."""
        return np.array(to_numpy(self.field(name)))

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

    # ------------------------------------------------------------------ step
    def substeps(self, dt: float) -> dict[str, int]:
        """Sub-steps each field takes per step of ``dt`` min (1 for the spectral scheme)."""
        out = {}
        for i, s in enumerate(self.species):
            if self.schemes[i] == "spectral":
                out[s.name] = 1
            else:
                d, k = self._effective(i)
                rate = self.geometry.max_rate(d, k, self.dx, s.fixed_mask)
                out[s.name] = max(1, math.ceil(dt * rate / EXPLICIT_SAFETY - 1e-12))
        return out

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

    def step(self, dt: float = DEFAULT_CELL_STEP_MIN) -> dict[str, float]:
        """Advance all fields by ``dt`` minutes.

        Parameters
        ----------
        dt : float
            Step, min (> 0).

        Returns
        -------
        dict
            Total amount per field after the step, concentration × µm³.

        Raises
        ------
        FieldNotFiniteError
            A field became NaN or Inf; names the field and the step.
        """
        try:
            dt = float(dt)
        except (TypeError, ValueError):
            raise ModelInputError(f"time step must be a number of minutes, got {dt!r}") from None
        if not (dt > 0 and math.isfinite(dt)):
            raise ModelInputError(f"time step must be > 0 min and finite, got {dt!r}")
        nsub = self.substeps(dt)
        for i, s in enumerate(self.species):
            u = self.u[i]
            ex = self._exchange.get(i)
            if ex is not None:
                apply_implicit_exchange(u.reshape(-1), ex, dt)
            src = self._source_density(i, dt)
            if self.schemes[i] == "spectral":
                prop = self._spectral[i]
                if self.dtype == np.float32:
                    # float32 transforms lose ~1e-7 of the total per step; the zero
                    # mode evolves exactly as M' = E0 M + P0 ΣS, so pin the total
                    # to that float64 bookkeeping (a mass fixer; off in float64).
                    e0, p0 = prop.zero_mode_factors(dt)
                    m_new = e0 * float(u.sum(dtype=np.float64))
                    if src is not None:
                        m_new += p0 * float(src.sum(dtype=np.float64))
                    out = prop.step(u, src, dt)
                    m_out = float(out.sum(dtype=np.float64))
                    if m_out > 0 and math.isfinite(m_out):
                        out *= m_new / m_out
                    u[...] = out
                else:
                    u[...] = prop.step(u, src, dt)
            else:
                self._explicit(i, src, dt, nsub[s.name])
        self._substeps = nsub
        self.step_count += 1
        self.time += dt
        totals = to_numpy(self.u.sum(axis=(1, 2, 3), dtype=np.float64))
        bad = ~np.isfinite(totals)
        if bad.any():
            raise FieldNotFiniteError(self.species[int(np.argmax(bad))].name,
                                      self.step_count, self.time)
        return {s.name: float(t) * self.voxel_volume for s, t in zip(self.species, totals)}

    def _explicit(self, i: int, src, dt: float, n: int) -> None:
        s = self.species[i]
        d, k = self._effective(i)
        h = dt / n
        r, kdt = d * h / self.dx**2, k * h
        fv = [float(s.fixed_faces.get(f, 0.0)) for f in FACES]
        if self._scratch is None:
            self._scratch = self.xp.empty(self.shape, dtype=self.dtype)
        a, b = self.u[i], self._scratch
        for _ in range(n):
            self.geometry.substep(a, b, src, r, kdt, h, s.fixed_mask, fv)
            a, b = b, a
        if n % 2 == 1:  # after an odd number of swaps the result sits in the scratch buffer
            self.u[i][...] = a

    # ---------------------------------------------------------------- report
    def total_amount(self, name: str) -> float:
        """Amount of field ``name`` in the lattice, concentration × µm³."""
        return float(to_numpy(self.field(name).sum(dtype=np.float64))) * self.voxel_volume

    def describe(self, dt: float = DEFAULT_CELL_STEP_MIN) -> str:
        """A few lines on the lattice, backend, and each field's scheme at step ``dt``."""
        nx, ny, nz = self.shape
        lines = [
            f"lattice {nx} x {ny} x {nz} voxels of {self.dx:g} µm "
            f"({nx * self.dx:g} x {ny * self.dx:g} x {nz * self.dx:g} µm), "
            f"{self.dtype.name} on {self.backend.name} [{self.backend.device}]",
        ]
        subs = self.substeps(dt)
        for i, s in enumerate(self.species):
            d, k = self._effective(i)
            how = ("spectral (exact, unconditionally stable)" if self.schemes[i] == "spectral"
                   else f"explicit, {subs[s.name]} sub-steps per {dt:g} min step")
            lines.append(f"  {s.name:<12} D = {d:g} µm²/min, decay = {k:g} /min, "
                         f"L = {math.sqrt(d / k) if k > 0 else math.inf:.4g} µm: {how}")
        return "\n".join(lines)
