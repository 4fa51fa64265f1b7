"""The field engine: diffusing, decaying cytokine and growth-factor fields.

A :class:`FieldSolver` holds any number of named species (SDF-1α, VEGF, BDNF,
exosome density, ...) on an ``(nx, ny, nz)`` voxel lattice with edge ``dx``.
Each step of length ``dt`` does, per species:

1. **exchange**: point agents secrete toward a target and take up. In the
   spectral scheme the exchange is a source density held constant over the
   step, evaluated at each voxel's time-averaged concentration, with the
   exchanging voxels coupled to each other through the step-averaged
   response of the transport (a small symmetric positive definite system over
   those voxels, solved by conjugate gradients started from the voxel-by-voxel
   solution), and integrated exactly with the transport (:mod:`kernels.spectral`,
   "Cell exchange inside the step"): at a 1-min step the cells' own voxels and
   the totals match the small-step limit, and at any step the steady state is
   the exact discrete one. In the implicit scheme the exchange sits in the
   solve's matrix. In the explicit scheme the implicit per-voxel update of
   the exchange is part of every sub-step, implicit in the voxel's own value
   and explicit in the transport: ``u' (1 + h Σ(S+U)) = u + h (transport +
   sources + Σ S T)``. Its fixed point is the exact discrete steady state (no
   splitting error), it never goes negative and never passes the target from
   below at any rate, and it needs no extra sub-steps;
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
from kernels.exchange import PointExchange
from kernels.explicit import FACES, ExplicitGeometry
from kernels.implicit import ImplicitPropagator, NotConvergedError
from kernels.spectral import SpectralPropagator

from ..errors import FieldNotFiniteError, ModelInputError
from .sources import FieldSources, depot_from_state, depot_state
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

SCHEMES = ("auto", "spectral", "explicit", "implicit")

#: ``auto`` takes the implicit scheme for non-uniform tissue once the explicit one would need
#: more sub-steps than this per step: about where the two cost the same on the CPU. Measured
#: by benchmarks/heterogeneous_fields.py (64x64x32, 4 species, 2-core CPU): a step takes
#: about 24 CG iterations (two stages), each costing about 5 explicit sub-steps.
IMPLICIT_FROM_SUBSTEPS = 120


class FieldSolver(FieldSources):
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
    reuse_preconditioners : bool
        When the tissue changes (:meth:`set_tissue`), hand each implicit species' solve
        preconditioners to the propagator of the new tissue (default; see
        :mod:`kernels.implicit`, "Tissue that changes every step"). ``False`` builds them
        anew at every change (for measuring what reuse saves).

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
                 backend: str | Backend | None = None, dtype=None, scheme: str = "auto",
                 reuse_preconditioners: bool = True):
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
        # refuse a lattice that cannot fit before allocating (NumPy's MemoryError names
        # nothing); the same estimate as abm run's check
        from ..run.memory import check_fits  # noqa: PLC0415 - abm.run imports this module

        check_fits(shape, len(self.species), self.dtype.itemsize, 0, 1, self.backend.name)

        self.u = xp.empty((len(self.species),) + shape, dtype=self.dtype)
        for i, s in enumerate(self.species):
            self.u[i].fill(s.initial)
        self._scratch = None
        self._exchange: dict[int, PointExchange] = {}
        self.depots: list[Depot] = []
        self.time = 0.0
        self.step_count = 0
        self._substeps: dict[str, int] = {}
        self.reuse_preconditioners = bool(reuse_preconditioners)
        # per species: the preconditioners of the last implicit propagator, for the next
        self._donors: dict = {}
        self._spectral: dict[int, SpectralPropagator] = {}
        self._implicit: dict[int, ImplicitPropagator] = {}
        self.set_tissue(labels, tissue)

    # ---------------------------------------------------------------- tissue
    def set_tissue(self, labels=None, tissue: Sequence[TissueClass] | None = None) -> None:
        """Set or change the tissue labels (e.g. when an injury turns tissue into lesion).

        Takes effect at the next step. What does not depend on the labels is kept: the
        spectral propagators of uniform tissue whose D and decay stay the same, and each
        implicit species' solve preconditioners, which the propagator of the new tissue
        takes over (masked to the voxels permeable now, rebuilt when the solves slow down
        or a wall seals a cavity; :mod:`kernels.implicit`). So tissue that changes every
        step (mineral deposited or resorbed, a growing lesion) costs about one step's
        solves, not a new factorisation, and the fields agree with a fresh solver's to the
        solve tolerance.

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
        # the AMG coarsening the implicit species of this tissue share (kernels.implicit)
        self._coarsening: dict = {}
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
        old_spectral = self._spectral
        if self.reuse_preconditioners:
            for i, prop in self._implicit.items():
                self._donors[i] = prop.preconditioners
        else:
            self._donors = {}
        self._spectral: dict[int, SpectralPropagator] = {}
        self._implicit: dict[int, ImplicitPropagator] = {}
        self._why: dict[int, str] = {}
        # the explicit operator's largest loss rate per species (1/min): fixed until the
        # tissue changes, and read at every step to count sub-steps
        self._max_rate: dict[int, float] = {}
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
                    "use scheme='implicit', 'explicit' or 'auto'")
            if want == "implicit":
                self.schemes.append("implicit")
            elif want == "explicit" or why:
                # under auto, the implicit scheme takes over at long steps (see path())
                self.schemes.append("explicit")
                if want == "auto":
                    self._why[i] = why
            else:
                d, k = self._effective(i)
                old = old_spectral.get(i)
                if old is not None and (old.diffusion, old.decay) == (float(d), float(k)):
                    self._spectral[i] = old      # labels only changed: same operator
                else:
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

    # ------------------------------------------------------------------ step
    def substeps(self, dt: float) -> dict[str, int]:
        """Sub-steps each field takes per step of ``dt`` min (1 for the spectral scheme)."""
        return {s.name: (self._explicit_substeps(i, dt) if self.path(i, dt) == "explicit" else 1)
                for i, s in enumerate(self.species)}

    def _explicit_substeps(self, i: int, dt: float) -> int:
        rate = self._max_rate.get(i)
        if rate is None:
            d, k = self._effective(i)
            rate = self._max_rate[i] = self.geometry.max_rate(d, k, self.dx,
                                                              self.species[i].fixed_mask)
        return max(1, math.ceil(dt * rate / EXPLICIT_SAFETY - 1e-12))

    def path(self, i: int, dt: float) -> str:
        """The scheme field ``i`` takes for a step of ``dt`` min: spectral, explicit or implicit.

        ``auto`` on non-uniform tissue (or fixed-value faces) takes the explicit scheme (the
        scheme listed in :attr:`schemes`) while it needs at most
        :data:`IMPLICIT_FROM_SUBSTEPS` sub-steps, the implicit one beyond.
        """
        sch = self.schemes[i]
        if sch == "explicit" and i in self._why and \
                self._explicit_substeps(i, dt) > IMPLICIT_FROM_SUBSTEPS:
            return "implicit"
        return sch

    def _implicit_for(self, i: int) -> ImplicitPropagator:
        prop = self._implicit.get(i)
        if prop is None:
            s = self.species[i]
            d, k = self._effective(i)
            prop = self._implicit[i] = ImplicitPropagator(
                self.backend, self.geometry, self.dx, d, k, s.fixed_mask,
                [float(s.fixed_faces.get(f, 0.0)) for f in FACES],
                donor=self._donors.pop(i, None) if self.reuse_preconditioners else None,
                coarsening=self._coarsening)
        return prop

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
            if ex is not None and not ex.has_implicit:
                ex = None
            src = self._source_density(i, dt)
            path = self.path(i, dt)
            if path == "implicit":
                try:
                    out = self._implicit_for(i).step(u, src, dt, exchange=ex)
                except NotConvergedError as exc:
                    raise ModelInputError(f"field {s.name!r}: {exc}; use a shorter step or "
                                          f"scheme='explicit'") from None
                if ex is not None:
                    self._limit_to_targets(out, u, ex)
                u[...] = out
            elif path == "spectral":
                prop = self._spectral[i]
                start = u.reshape(-1)[ex.voxels].copy() if ex is not None else None
                out = prop.step(u, src, dt, exchange=ex)
                if self.dtype == np.float32:
                    # float32 transforms lose ~1e-7 of the total per step; the zero
                    # mode evolves exactly as M' = E0 M + P0 ΣS, so pin the total
                    # to that float64 bookkeeping (a mass fixer; off in float64).
                    e0, p0 = prop.zero_mode_factors(dt)
                    m_new = e0 * float(u.sum(dtype=np.float64))
                    if src is not None:
                        m_new += p0 * float(src.sum(dtype=np.float64))
                    if ex is not None:
                        m_new += p0 * float(prop.last_exchange_source.sum())
                    m_out = float(out.sum(dtype=np.float64))
                    if m_out > 0 and math.isfinite(m_out):
                        out *= m_new / m_out
                if ex is not None:
                    self._keep_exchange_bounds(out.reshape(-1), ex, start,
                                               prop.last_exchange_source,
                                               prop.self_end_response(dt))
                    self._limit_to_targets(out, u, ex)
                u[...] = out
            else:
                self._explicit(i, src, dt, nsub[s.name], ex)
            # transforms leave round-off below zero after sharp fronts (float32:
            # ~-5e-7); no cell, readout or file sees a negative concentration
            self.xp.maximum(u, 0, out=u)
        self._substeps = nsub
        self.step_count += 1
        self.time += dt
        totals = to_numpy(self.u.sum(axis=(1, 2, 3), dtype=np.float64))
        bad = ~np.isfinite(totals)
        if bad.any():
            raise FieldNotFiniteError(self.species[int(np.argmax(bad))].name,
                                      self.step_count, self.time)
        return {s.name: float(t) * self.voxel_volume for s, t in zip(self.species, totals)}

    def _keep_exchange_bounds(self, flat, ex, start, s_ex, h: float) -> None:
        """Keep the exchange's guarantees at the exchanging voxels.

        None ends below zero, and net secretion (``s_ex > 0``) never lifts a voxel that
        started at or below its target ``st/su`` past it. The cells' own share of the
        end value is ``≈ h s_ex`` (``h``: the interior end response to a unit own
        source); what diffusion brought from elsewhere (neighbouring cells' secretion
        included) may still lie above the target, as it would without the cells. Like
        :meth:`_limit_to_targets` this only acts where the constant-source step has
        overshot in time (stiff exchange against weak transport); with the coupled solve
        it leaves steady states, which are exact, alone.
        """
        xp = self.xp
        v = ex.voxels
        eq = xp.where(ex.su > 0, ex.st / xp.maximum(ex.su, 1e-300), xp.inf)
        val = flat[v].astype(np.float64)
        own = h * xp.maximum(s_ex, 0.0)
        limit = xp.maximum(eq, val - own)
        capped = xp.where((start <= eq) & (s_ex > 0), xp.minimum(val, limit), val)
        flat[v] = xp.maximum(capped, 0).astype(flat.dtype)

    def _limit_to_targets(self, out, u0, ex) -> None:
        """No voxel above both the highest secretion target and the field's start maximum.

        The exact dynamics never make such a value: transport averages, secretion stops at
        its target, decay and uptake only lower. A step that does has overshot in time: the
        exchange is a source held constant over the step at the step's average
        concentration, which for exchange stiff against the transport (``Σ S dt`` ≫ 1 in a
        voxel or a small box, with little decay) acts like the trapezoidal rule and can pass
        the target within one step. This limiter then clips the excess. It is a safety
        bound, not the solution: with decay or uptake the exact field lies below the
        targets (in the tests an H+-like field with half-life 5 min settles at 42 % of its
        cells' target), so a clipped voxel is still too high, and the clip removes mass. Since the
        exchanging voxels are solved coupled (:mod:`kernels.spectral`), the steady state at
        any step is the exact one and the bound is not reached there; the tests check it
        does not act at ordinary rates and at steady states of long steps.
        """
        xp = self.xp
        secreting = ex.st > 0
        if not bool(secreting.any()):
            return
        bound = max(float((ex.st[secreting] / ex.su[secreting]).max()), float(u0.max()))
        if float(out.max()) > bound:
            xp.minimum(out, out.dtype.type(bound), out=out)

    def _explicit(self, i: int, src, dt: float, n: int, ex=None) -> None:
        s = self.species[i]
        d, k = self._effective(i)
        h = dt / n
        r, kdt = d * h / self.dx**2, k * h
        fv = [float(s.fixed_faces.get(f, 0.0)) for f in FACES]
        if self._scratch is None:
            self._scratch = self.xp.empty(self.shape, dtype=self.dtype)
        a, b = self.u[i], self._scratch
        if ex is not None:   # exchange in every sub-step: Σ S T as a source, ...
            src = self.xp.zeros(self.shape, self.dtype) if src is None else src.copy()
            src.reshape(-1)[ex.voxels] += ex.st
            damp = 1 + h * ex.su
        for _ in range(n):
            self.geometry.substep(a, b, src, r, kdt, h, s.fixed_mask, fv)
            if ex is not None:   # ... and Σ(S + U) implicit in the voxel's own new value
                b.reshape(-1)[ex.voxels] /= damp
            a, b = b, a
        if n % 2 == 1:  # after an odd number of swaps the result sits in the scratch buffer
            self.u[i][...] = a

    # ---------------------------------------------------------------- report
    # ------------------------------------------------------------------ checkpoints
    def get_state(self) -> dict:
        """The fields, depots and clock as plain NumPy arrays and numbers (for checkpoints).

        Returns
        -------
        dict
            ``fields`` (name to lattice array, field units; may share memory with the
            solver on NumPy), ``depots`` (numbered dicts of species, voxels, remaining,
            law, rate, released; amounts in field unit × µm³), ``time`` (min) and
            ``step_count``.
        """
        depots = {f"{k:04d}": depot_state(d) for k, d in enumerate(self.depots)}
        self._forget_preconditioners()
        return {"fields": {sp.name: np.asarray(to_numpy(self.u[i]))
                           for i, sp in enumerate(self.species)},
                "depots": depots, "time": float(self.time), "step_count": int(self.step_count)}

    def set_state(self, fields: dict, depots: dict, time: float, step_count: int) -> None:
        """Restore what :meth:`get_state` returned (same species and lattice).

        Point exchange is cleared; it is set anew by the cells each step.

        Raises
        ------
        ModelInputError
            The fields named differ from the solver's, or an array has the wrong shape.
        """
        if set(fields) != {sp.name for sp in self.species}:
            raise ModelInputError(f"checkpoint fields {sorted(fields)} do not match the "
                                  f"model's {[sp.name for sp in self.species]}")
        for i, sp in enumerate(self.species):
            a = np.asarray(fields[sp.name], self.dtype)
            if a.shape != self.shape:
                raise ModelInputError(f"checkpoint field {sp.name!r} has shape {a.shape}, the "
                                      f"lattice is {self.shape}")
            self.u[i][...] = self.xp.asarray(a)
        self.depots = [depot_from_state(d, self.xp) for _, d in sorted(depots.items())]
        self._forget_preconditioners()
        self.clear_point_exchange()
        self.time = float(time)
        self.step_count = int(step_count)

    def _forget_preconditioners(self) -> None:
        """Start the implicit solves afresh: no propagator, no preconditioner handed on.

        Called by :meth:`get_state` and :meth:`set_state`. A preconditioner handed on
        across tissue changes depends on the tissue it was first built for, which a
        checkpoint does not hold; starting afresh at every checkpoint, in the run that
        writes it as in the run that resumes from it, keeps a resumed run equal to an
        uninterrupted one bit for bit (for checkpoints at simulated-time intervals; one
        written after a wall-clock interval is a point the uninterrupted run may not share,
        and there the two agree to the solve tolerance).
        """
        if self._donors or any(p.preconditioners.changing for p in self._implicit.values()):
            self._implicit = {}     # (tissue that never changed has no history to drop)
            self._donors = {}
            self._coarsening = {}

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
            path = self.path(i, dt)
            why = f" because {self._why[i]}" if i in self._why else ""
            if path == "spectral":
                last = self._spectral[i].last_exchange
                it = (f"; {last['iterations']} iterations last step"
                      + ("" if last.get("converged", True) is not False else ", not converged")
                      if last.get("residual") is not None else "")
                how = ("spectral (exact, unconditionally stable; cell exchange coupled into the "
                       "step, exchanging voxels solved together by conjugate gradients"
                       + it + ")")
            elif path == "implicit":
                it = self._implicit[i].last_iterations if i in self._implicit else None
                how = (f"implicit (TR-BDF2, backward Euler where it would undershoot; spectrally "
                       f"preconditioned CG), solved once per "
                       f"{dt:g} min step{why} (cell exchange inside the solve"
                       + (f"; {it} iterations last step" if it else "") + ")")
            else:
                how = (f"explicit, {subs[s.name]} sub-steps per {dt:g} min step{why} (cell "
                       f"exchange in each sub-step"
                       + (f"; the implicit scheme takes over above {IMPLICIT_FROM_SUBSTEPS}"
                          if i in self._why else "") + ")")
            lines.append(f"  {s.name:<12} D = {d:g} µm²/min, decay = {k:g} /min, "
                         f"L = {math.sqrt(d / k) if k > 0 else math.inf:.4g} µm: {how}")
        return "\n".join(lines)
