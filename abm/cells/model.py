"""TissueModel: a Mesa Model whose cells live as arrays on the field lattice.

One step of ``dt`` minutes (``DESIGN.md``, "One step, as data flows through it"):

1. **sense**: every population gathers the signals its rules and its
   chemotaxis need, at its agents' voxels;
2. **decide**: rules turn signals into behaviour values (:mod:`abm.rules`);
   rates become probabilities over the step, ``1 - exp(-rate dt)``, and
   counter-based draws (:mod:`kernels.rng`) become events: death, division,
   differentiation, phenotype-state transitions;
3. **move**: each agent hops to a face neighbour or stays; conflicts at full
   voxels are resolved by a random priority key (lowest wins);
4. **divide**: dividing cells place a daughter in a random face-neighbour
   voxel if it has room (otherwise the division waits);
5. **custom agents**: ordinary Mesa agents (slow path) run their ``step()``;
6. **exchange**: secretion, uptake and release of every cell go to the field
   engine; dying cells release their contents;
7. deaths and differentiations take effect, phenotype variables relax;
8. **diffuse**: the fields advance by ``dt``;
9. **record**: the DataCollector, if any, collects.

Movement is a lattice walk with drift (an upwind discretisation of
``∂n/∂t = D ∇²n − ∇·(n w)``): the probability of a hop along ``±e_i`` is
``D dt/dx² + max(0, ±w_i) dt/dx``, so the mean displacement per step is
exactly ``w dt`` and, without drift, the mean squared displacement grows as
``6 D t``. ``D = speed² × persistence / 3`` is the random-motility coefficient
of a persistent random walk in 3D. If the hop probabilities of a step add up
to more than 1 the step is split into equal movement rounds.

Chemotaxis follows the receptor law: the drift is
``w = χ r K/(K + c)² ∇c = χ r ∇(c/(K + c))``, the gradient of the fraction of
occupied receptors, scaled by the receptor level ``r`` (0–1), and capped at the
cell's speed. It saturates: at ``c ≫ K`` the receptors are full and the cell
no longer reads the gradient.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import mesa
import numpy as np

from kernels import lattice as L
from kernels import rng as R
from kernels.backend import Backend, get_backend, to_numpy

from .agentset import CellAgentSet
from ..registry import CELL_TYPES
from .types import LatticeCell
from ..errors import ModelInputError
from ..fields import DEFAULT_CELL_STEP_MIN, Depot, FieldSolver, Species, TissueClass
from .population import Population
from .. import rules as R_
from ..rules import RuleSet, load_rules

__all__ = ["TissueModel"]

#: Free slots examined at once when placing cells (see TissueModel._pick_slots).
PLACE_CHUNK = 1 << 22


class TissueModel(mesa.Model):
    """Cells and diffusing fields on one 3D lattice, as a Mesa Model.

    Parameters
    ----------
    shape : tuple of 3 int
        Lattice size in voxels.
    dx : float
        Voxel edge, µm.
    fields : sequence of Species or str
        Fields (a name picks the defaults in ``seeds/fields.csv``).
    cell_types : sequence of LatticeCell subclasses, optional
        Array-backed cell types (default: the package's built-in types,
        ``abm.registry.CELL_TYPES.builtin_names()``).
    rules : RuleSet, path of a rules CSV, or sequence of 7-tuples, optional
        Signal → behaviour rules (:mod:`abm.rules`).
    parameters : dict, optional
        ``{cell type: {parameter: value}}`` overriding the defaults.
    capacity : int or int array of ``shape``
        Cells a voxel can hold (0 excludes cells, e.g. bone mineral).
    labels, tissue : optional
        Tissue labels and classes (see :class:`abm.fields.FieldSolver`); labels are
        also the ``tissue:<name>`` signal.
    dt : float
        Cell time step, min.
    seed : int, optional
        Seed of every random draw (counter-based; the same on both backends).
        None draws one from the operating system and records it in ``self.seed``.
    backend : {"numpy", "cupy"} or None
        Array backend for cells and fields.
    field_dtype : optional
        Field precision (default float64 on CPU, float32 on GPU).
    scheme : str
        Field time integration (see FieldSolver).
    model_reporters, agent_reporters, agenttype_reporters : dict, optional
        If given, a ``mesa.DataCollector`` is built; it records the initial
        state (as step 0) when the first step starts, so cells placed after
        construction are included, and then collects after every step.
    """

    def __init__(self, shape: Sequence[int] = (32, 32, 32), dx: float = 20.0,
                 fields: Sequence[Species | str] = ("SDF-1a", "VEGF", "BDNF", "exosome"),
                 cell_types: Sequence[type] | None = None, rules=None,
                 parameters: dict | None = None, capacity=1, labels=None,
                 tissue: Sequence[TissueClass] | None = None, dt: float = DEFAULT_CELL_STEP_MIN,
                 seed: int | None = None, backend: str | Backend | None = None,
                 field_dtype=None, scheme: str = "auto", model_reporters=None,
                 agent_reporters=None, agenttype_reporters=None):
        if seed is None:
            seed = int.from_bytes(os.urandom(8), "little") >> 1
        try:
            seed = int(seed)
        except (TypeError, ValueError):
            raise ModelInputError(f"seed must be an integer, got {seed!r}") from None
        if not 0 <= seed < 2**63:
            raise ModelInputError(f"seed must be an integer from 0 to 2**63 - 1, got {seed}")
        super().__init__(seed=seed)
        # ids shared with ordinary Mesa agents: one counter for the whole model
        self._next_id = 1
        mesa.Agent._ids[self] = _IdCounter(self)
        self.seed = seed
        self.backend = get_backend(backend)
        xp = self.xp = self.backend.xp
        try:
            self.dt = float(dt)
        except (TypeError, ValueError):
            raise ModelInputError(f"dt must be a number of minutes, got {dt!r}") from None
        if not (self.dt > 0 and math.isfinite(self.dt)):
            raise ModelInputError(f"dt must be > 0 min, got {dt!r}")
        from ..seeds import load_field_defaults  # noqa: PLC0415

        defaults = None
        species = []
        for f in fields:
            if isinstance(f, str):
                defaults = defaults or load_field_defaults()
                if f not in defaults:
                    raise ModelInputError(f"unknown field {f!r}; seeds/fields.csv has "
                                          f"{sorted(defaults)}, or pass a Species")
                f = defaults[f]
            species.append(f)
        self.fields = FieldSolver(shape, dx, species, labels=labels, tissue=tissue,
                                  backend=self.backend, dtype=field_dtype, scheme=scheme)
        self.shape = self.fields.shape
        self.dx = self.fields.dx
        self.n_voxels = int(np.prod(self.shape))
        self.time = 0.0
        self.tissue_names = [t.name for t in (tissue or [])]
        self._labels_flat = None if labels is None else xp.asarray(labels).reshape(-1)

        cap = np.asarray(to_numpy(capacity))
        if cap.ndim == 0:
            cap = np.full(self.shape, int(cap))
        if cap.shape != self.shape or not np.issubdtype(cap.dtype, np.number) or (cap < 0).any():
            raise ModelInputError(
                f"capacity must be a non-negative integer or an integer array of shape "
                f"{self.shape}, got {cap.dtype} of shape {cap.shape}")
        self.capacity = xp.asarray(cap.reshape(-1).astype(np.int32))
        self.occupancy = xp.zeros(self.n_voxels, dtype=np.int32)

        # cell types
        if cell_types is None:
            cell_types = [CELL_TYPES.get(n) for n in CELL_TYPES.builtin_names()]
        self.cell_classes: dict[str, type] = {}
        for cls in cell_types:
            if not (isinstance(cls, type) and issubclass(cls, LatticeCell)):
                raise ModelInputError(f"cell types must be LatticeCell subclasses, got {cls!r}")
            if cls.cell_type in self.cell_classes:
                raise ModelInputError(f"cell type {cls.cell_type!r} given twice")
            self.cell_classes[cls.cell_type] = cls
        self.populations = {n: Population(n, xp, c.states, c.variables)
                            for n, c in self.cell_classes.items()}
        # chemotaxis needs its field; without it the cell type simply does not chemotax
        self.chemotaxis_field = {n: (c.chemotaxis_field if c.chemotaxis_field in self.fields._index
                                     else None) for n, c in self.cell_classes.items()}
        self.params: dict[str, dict[str, float]] = {}
        parameters = parameters or {}
        for name in parameters:
            if name not in self.cell_classes:
                raise ModelInputError(f"parameters given for unknown cell type {name!r}; "
                                      f"the model has {sorted(self.cell_classes)}")
        for name, cls in self.cell_classes.items():
            known = self._known_parameters(cls)
            # seed defaults for fields this model does not have are dropped; the
            # user's own overrides are checked strictly
            p = {k: v for k, v in cls.default_parameters().items() if k in known
                 and not (k == "chemotaxis" and not self.chemotaxis_field[name])}
            p.update(parameters.get(name, {}))
            self._check_parameters(cls, p)
            self.params[name] = p

        if rules is None:
            rules = RuleSet()
        elif isinstance(rules, (str, os.PathLike)):
            rules = load_rules(rules)
        elif not isinstance(rules, RuleSet):
            rules = RuleSet(rules)
        rules.validate({n: (self.signal_names(n), self.behaviour_names(n))
                        for n in self.cell_classes})
        self.rules = rules
        self._rules_by_type = {n: rules.for_type(n) for n in self.cell_classes}

        self._custom_release: list[tuple[int, int, float]] = []
        self.last_step_events: dict[str, dict[str, int]] = {}
        self.datacollector = None
        self._collected_initial = False
        if model_reporters or agent_reporters or agenttype_reporters:
            self.datacollector = mesa.DataCollector(
                model_reporters=model_reporters, agent_reporters=agent_reporters,
                agenttype_reporters=agenttype_reporters)

    # ------------------------------------------------------------ catalogue
    def signal_names(self, cell_type: str) -> set[str]:
        """Signals a cell type can sense (names used in rules)."""
        return R_.signal_names(self.cell_classes[cell_type], self.cell_classes,
                               [sp.name for sp in self.fields.species], self.tissue_names)

    def behaviour_names(self, cell_type: str) -> set[str]:
        """Behaviours of a cell type that rules may change."""
        return R_.behaviour_names(self.cell_classes[cell_type], self.cell_classes,
                                  [sp.name for sp in self.fields.species])

    def _known_parameters(self, cls) -> set[str]:
        return R_.known_parameters(cls, self.cell_classes, [sp.name for sp in self.fields.species])

    def _check_parameters(self, cls, p: dict) -> None:
        known = self._known_parameters(cls)
        for k, v in p.items():
            if k not in known:
                raise ModelInputError(
                    f"{cls.cell_type}: unknown parameter {k!r}; known: {', '.join(sorted(known))}")
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ModelInputError(f"{cls.cell_type}: parameter {k} must be a finite number "
                                      f">= 0, got {v!r}")
        for sp in self.fields.species:
            if p.get(f"secretion:{sp.name}", 0) > 0 and f"target:{sp.name}" not in p:
                raise ModelInputError(f"{cls.cell_type}: secretion:{sp.name} needs a "
                                      f"target:{sp.name} (saturation concentration, {sp.unit})")
        if cls.chemotaxis_field and not self.chemotaxis_field[cls.cell_type] \
                and p.get("chemotaxis", 0) > 0:
            raise ModelInputError(
                f"{cls.cell_type} chemotaxes on {cls.chemotaxis_field!r}, which is not a field of "
                f"this model; add the field or set its chemotaxis to 0")
        if self.chemotaxis_field[cls.cell_type]:
            p.setdefault("chemotaxis", 0.0)
            p.setdefault("chemotaxis_half_saturation", 1.0)
            if p["chemotaxis_half_saturation"] <= 0:
                raise ModelInputError(f"{cls.cell_type}: chemotaxis_half_saturation must be > 0")
        p.setdefault("speed", 0.0)
        p.setdefault("persistence", 0.0)

    # ------------------------------------------------------------ Mesa views
    @property
    def agents(self) -> CellAgentSet:
        """All agents: every array-backed cell (as views) and every ordinary Mesa agent."""
        return CellAgentSet(self, tuple(self.cell_classes.values()), None, list(self._agents))

    @agents.setter
    def agents(self, value):  # pragma: no cover - Mesa forbids it too
        raise AttributeError("model.agents is managed by Mesa")

    @property
    def agent_types(self) -> list[type]:
        """Cell type classes and the classes of ordinary agents present."""
        return list(self.cell_classes.values()) + [t for t in self._agents_by_type
                                                   if t not in self.cell_classes.values()]

    @property
    def agents_by_type(self) -> dict[type, CellAgentSet]:
        """An agent set per type (array-backed and ordinary)."""
        out = {cls: CellAgentSet(self, (cls,)) for cls in self.cell_classes.values()}
        for t, s in self._agents_by_type.items():
            out[t] = CellAgentSet(self, (), None, list(s))
        return out

    def count(self, cell_type) -> int:
        """Number of living cells of a type (class or name)."""
        name = cell_type if isinstance(cell_type, str) else cell_type.cell_type
        return len(self.populations[name])

    # ------------------------------------------------------------ ids
    def _take_ids(self, n: int) -> np.ndarray:
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        return ids

    # ------------------------------------------------------------ placing
    def _type_of(self, cell_type) -> type:
        name = cell_type if isinstance(cell_type, str) else getattr(cell_type, "cell_type", None)
        if name not in self.cell_classes:
            raise ModelInputError(f"unknown cell type {cell_type!r}; the model has "
                                  f"{sorted(self.cell_classes)}")
        return self.cell_classes[name]

    def add_cells(self, cell_type, positions, **values) -> np.ndarray:
        """Add cells at given voxels.

        Parameters
        ----------
        cell_type : LatticeCell subclass or str
        positions : int array (n, 3)
            Voxels; each must have room (capacity minus occupancy).
        **values
            Initial phenotype variables (arrays or scalars) or ``state`` (name or names).

        Returns
        -------
        numpy int64 array
            Unique ids of the new cells.
        """
        return self._add_cells(cell_type, positions, values)

    def _add_cells(self, cell_type, positions, values) -> np.ndarray:
        cls = self._type_of(cell_type)
        xp = self.xp
        pos = np.asarray(to_numpy(positions), dtype=np.int64).reshape(-1, 3)
        n = pos.shape[0]
        if n == 0:
            return np.zeros(0, np.int64)
        if ((pos < 0) | (pos >= np.asarray(self.shape))).any():
            raise ModelInputError(f"cell positions must lie inside the lattice {self.shape}")
        flat = np.ravel_multi_index(pos.T, self.shape)
        room = to_numpy(self.capacity - self.occupancy)
        need = np.bincount(flat, minlength=self.n_voxels)
        if (need > room).any():
            v = int(np.argmax(need > room))
            raise ModelInputError(
                f"voxel {tuple(int(i) for i in np.unravel_index(v, self.shape))} has room for {max(int(room[v]), 0)} "
                f"more cells, {int(need[v])} were placed there; spread the cells out or raise "
                f"the capacity")
        ids = self._take_ids(n)
        pop = self.populations[cls.cell_type]
        row = self._new_rows(cls, ids, pos, ids, -np.ones(n, np.int64), np.zeros(n, np.int32))
        for k, v in values.items():
            if k == "state":
                v = np.broadcast_to(np.asarray(v), (n,))
                bad = set(v.tolist()) - set(cls.states)
                if bad:
                    raise ModelInputError(f"{cls.cell_type} state must be one of {cls.states}, "
                                          f"got {sorted(bad)}")
                row["state"] = np.asarray([cls.states.index(s) for s in v.tolist()], np.int8)
            elif k in cls.variables:
                row[k] = np.broadcast_to(np.asarray(v, np.float64), (n,)).copy()
            else:
                raise ModelInputError(f"{cls.cell_type} has no variable {k!r}; it has "
                                      f"{list(cls.variables) + (['state'] if cls.states else [])}")
        pop.append({k: xp.asarray(v) for k, v in row.items()})
        L.scatter_add(xp, self.occupancy, xp.asarray(flat), xp.ones(n, np.int32))
        return ids

    def _new_rows(self, cls, ids, pos, lineage, parent, generation) -> dict:
        n = len(ids)
        t = np.full(n, self.time)
        row = {"id": ids, "pos": pos, "lineage": lineage, "parent": parent,
               "generation": generation, "born": t, "last_division": t.copy(),
               "last_differentiation": t.copy(), "last_transition": t.copy()}
        if cls.states:
            row["state"] = np.zeros(n, np.int8)
        for v in cls.variables:
            row[v] = np.full(n, self.params[cls.cell_type].get(f"initial:{v}", 0.0))
        return row

    def seed_cells(self, cell_type, n: int, region=None, **values) -> np.ndarray:
        """Place ``n`` cells uniformly at random over the free room of ``region``.

        Parameters
        ----------
        cell_type : LatticeCell subclass or str
        n : int
            Number of cells.
        region : bool array of ``shape``, optional
            Where they may go (default: everywhere with capacity).

        Returns
        -------
        numpy int64 array
            Unique ids of the new cells.
        """
        room = to_numpy(self.capacity - self.occupancy).astype(np.int64)
        room = np.maximum(room, 0)
        if region is not None:
            region = np.asarray(to_numpy(region), bool)
            if region.shape != self.shape:
                raise ModelInputError(f"region must be a boolean array of shape {self.shape}")
            room = room * region.reshape(-1)
        total = int(room.sum())
        n = int(n)
        if n > total:
            raise ModelInputError(f"cannot place {n} {getattr(cell_type, 'cell_type', cell_type)} "
                                  f"cells: the region has room for {total}")
        voxels = self._pick_slots(room, n)
        pos = np.stack(np.unravel_index(voxels, self.shape), axis=1)
        return self._add_cells(cell_type, pos, values)

    def _pick_slots(self, room: np.ndarray, n: int) -> np.ndarray:
        """Voxels (flat) of ``n`` free slots drawn uniformly without replacement.

        Every unit of room is a "slot", numbered voxel by voxel; the ``n`` slots with the
        lowest counter-based keys win. Slots are visited in chunks of ``PLACE_CHUNK``,
        keeping only the best ``n`` so far, so memory is O(n + chunk), not O(room): a
        256³ lattice of capacity 4 no longer needs two 0.5 GB temporaries. The result
        does not depend on the chunk size.
        """
        if n == 0:
            return np.zeros(0, np.int64)
        total = int(room.sum())
        step_key = -1 - self._next_id
        best_k = np.zeros(0, np.uint64)
        best_s = np.zeros(0, np.int64)
        for a in range(0, total, PLACE_CHUNK):
            s = np.arange(a, min(a + PLACE_CHUNK, total), dtype=np.int64)
            k = R.draw_bits(np, R.agent_keys(np, self.seed, step_key, s), "place")
            k = np.concatenate([best_k, k])
            s = np.concatenate([best_s, s])
            if k.size > n:
                keep = np.argpartition(k, n - 1)[:n]
                k, s = k[keep], s[keep]
            best_k, best_s = k, s
        # slot j lies in the first voxel whose cumulative room exceeds j
        return np.searchsorted(np.cumsum(room), np.sort(best_s), side="right")

    def remove_cells(self, cell_type, ids) -> None:
        """Remove cells by unique id (no death release)."""
        cls = self._type_of(cell_type)
        pop = self.populations[cls.cell_type]
        ids = self.xp.asarray(np.asarray(ids, np.int64))
        gone = self.xp.isin(pop.ids, ids)
        flat = L.flat_index(self.xp, pop.pos[gone], self.shape)
        L.scatter_add(self.xp, self.occupancy, flat, -self.xp.ones(flat.shape[0], np.int32))
        pop.take(~gone)

    # ------------------------------------------------------------ slow path
    def field_at(self, name: str, pos) -> float:
        """Concentration of field ``name`` at voxel ``pos`` (for ordinary Mesa agents)."""
        return float(self.fields.field(name)[tuple(int(c) for c in pos)])

    def release(self, name: str, pos, rate: float) -> None:
        """Release ``rate`` (amount/min) of field ``name`` at voxel ``pos`` during this step
        (for ordinary Mesa agents; amount = concentration × µm³)."""
        i = self.fields.index(name)
        flat = int(np.ravel_multi_index(tuple(int(c) for c in pos), self.shape))
        if not (rate >= 0 and math.isfinite(rate)):
            raise ModelInputError(f"release rate must be finite and >= 0, got {rate!r}")
        self._custom_release.append((i, flat, float(rate)))

    # ------------------------------------------------------------ step
    def step(self) -> None:
        """Advance cells and fields by ``dt`` minutes (see the module docs for the order)."""
        dt, t = self.dt, self.time
        step = self.steps  # Mesa has already counted this step; draws are keyed by it
        if self.datacollector is not None and not self._collected_initial:
            # the initial state (step 0), recorded once the cells have been placed
            self.steps -= 1
            self.datacollector.collect(self)
            self.steps += 1
            self._collected_initial = True
        ctx = {}
        for name, pop in self.populations.items():
            if len(pop):
                ctx[name] = self._decide(name, pop, step)
        self._move(ctx, step)
        self._divide(ctx, step)
        if self._agents:  # ordinary Mesa agents: the slow path, in a random order
            mesa.agent.AgentSet(list(self._agents), random=self.random).shuffle_do("step")
        self._exchange(ctx)
        self._finish(ctx)
        self.fields.step(dt)
        self.time = t + dt
        if self.datacollector is not None:
            self.datacollector.collect(self)

    # -- decide
    def _decide(self, name, pop, step):
        xp = self.xp
        cls = self.cell_classes[name]
        p = self.params[name]
        rules = self._rules_by_type[name]
        n = len(pop)
        dt = self.dt
        c = {"n": n, "cls": cls, "pop": pop}
        c["flat"] = L.flat_index(xp, pop.pos, self.shape)
        c["keys"] = R.agent_keys(xp, self.seed, step, pop.ids)
        sig = _Signals(self, name, pop, c["flat"])
        c["sig"] = sig

        def beh(b):
            base = p.get(b, 0.0)
            r = rules.get(b)
            return RuleSet.apply(xp, base, r, sig) if r else base

        c["beh"] = beh
        speed = beh("speed")
        D = speed * speed * p["persistence"] / 3.0
        w = None
        if self.chemotaxis_field[name]:
            chi = beh("chemotaxis")
            if bool(xp.any(xp.asarray(chi) > 0)):  # one flag, not the array, crosses to the host
                field = self.fields.field(self.chemotaxis_field[name])
                conc = sig[self.chemotaxis_field[name]]
                K = p["chemotaxis_half_saturation"]
                grad = L.gradient_at(xp, field, pop.pos, self.dx)
                scale = chi * K / (K + xp.maximum(conc, 0.0)) ** 2
                if cls.chemotaxis_receptor:
                    scale = scale * pop.columns[cls.chemotaxis_receptor]
                w = grad * scale.reshape(-1, 1)
                norm = xp.sqrt((w * w).sum(axis=1))
                cap = xp.broadcast_to(xp.asarray(speed, dtype=np.float64), (n,))
                over = norm > cap
                w = xp.where(over[:, None], w * (cap / xp.maximum(norm, 1e-300))[:, None], w)
        base = xp.broadcast_to(xp.asarray(D * dt / self.dx**2, dtype=np.float64), (n,))
        probs = xp.empty((6, n), dtype=np.float64)
        for a in range(3):
            if w is None:
                probs[2 * a] = base
                probs[2 * a + 1] = base
            else:
                probs[2 * a] = base + xp.maximum(-w[:, a], 0.0) * (dt / self.dx)
                probs[2 * a + 1] = base + xp.maximum(w[:, a], 0.0) * (dt / self.dx)
        if w is None and not bool(xp.any(xp.asarray(D) > 0)):
            c["hop"] = None  # nobody in this population moves this step
        else:
            c["hop"] = probs
            c["hop_total"] = probs.sum(axis=0)

        def chance(rate):
            return 1.0 - xp.exp(-xp.asarray(rate, dtype=np.float64) * dt)

        def draw(purpose):
            return R.uniform_from_keys(xp, c["keys"], purpose)

        never = xp.zeros(n, dtype=bool)

        def event(behaviour, purpose):
            if p.get(behaviour, 0.0) == 0 and behaviour not in rules:
                return never  # no rate, no draw
            return draw(purpose) < chance(beh(behaviour))

        c["dies"] = event("death", "death")
        # differentiation: one draw picks whether and into which type
        targets = [o for o in self.cell_classes if o != name
                   and (p.get(f"differentiation:{o}", 0) > 0 or f"differentiation:{o}" in rules)]
        diff_to = xp.full(n, -1, dtype=np.int32)
        if targets:
            rates = [xp.broadcast_to(xp.asarray(beh(f"differentiation:{o}"), dtype=np.float64), (n,))
                     for o in targets]
            total = sum(rates)
            u = draw("differentiation")
            pleave = chance(total)
            go = (u < pleave) & ~c["dies"]
            pick = u / xp.maximum(pleave, 1e-300) * total
            chosen = xp.full(n, len(targets) - 1, dtype=np.int32)  # round-off at the top: last
            acc = xp.zeros(n)
            taken = xp.zeros(n, dtype=bool)
            for k, r in enumerate(rates):
                hit = ~taken & (pick < acc + r)
                chosen = xp.where(hit, k, chosen)
                taken |= hit
                acc = acc + r
            diff_to = xp.where(go, chosen, -1)
        c["diff_targets"] = targets
        c["diff_to"] = diff_to
        c["divides"] = event("division", "division") & ~c["dies"] & (diff_to < 0)
        # phenotype-state transitions (applied in _finish)
        if cls.states:
            st = pop.columns["state"]
            new_state = st.copy()
            u = draw("transition")
            for a_i, a in enumerate(cls.states):
                outs = [(b_i, xp.broadcast_to(xp.asarray(beh(f"transition:{a}->{b}"),
                                                         dtype=np.float64), (n,)))
                        for b_i, b in enumerate(cls.states) if b != a]
                total = sum(r for _, r in outs)
                pleave = chance(total)
                pick = u / xp.maximum(pleave, 1e-300) * total
                here = (st == a_i) & (u < pleave)
                acc = xp.zeros(n)
                taken = xp.zeros(n, dtype=bool)
                for b_i, r in outs:
                    hit = here & ~taken & (pick < acc + r)
                    new_state = xp.where(hit, b_i, new_state)
                    taken |= hit
                    acc = acc + r
                # float round-off at the top end: assign the last target
                new_state = xp.where(here & ~taken, outs[-1][0], new_state)
            c["new_state"] = new_state.astype(np.int8)
        if cls.variables:
            c["var_rates"] = {v: (beh(f"gain:{v}"), beh(f"loss:{v}")) for v in cls.variables}
        return c

    # -- move
    def _move(self, ctx, step):
        xp = self.xp
        names = [n for n, c in ctx.items() if c["hop"] is not None]
        if not names:
            return
        tot = max(float(xp.max(ctx[n]["hop_total"])) for n in names)
        rounds = max(1, math.ceil(tot - 1e-12))
        for r in range(rounds):
            movers_pos, movers_target, movers_key, owners = [], [], [], []
            for n in names:
                c = ctx[n]
                pop = c["pop"]
                cum = xp.cumsum(c["hop"] / rounds, axis=0)
                u = R.uniform_from_keys(xp, c["keys"], R.PURPOSES["move"] + 16 * r)
                direction = (u[None, :] >= cum).sum(axis=0)  # 6 = stay
                rows = xp.flatnonzero(direction < 6)
                if rows.shape[0] == 0:
                    continue
                newpos = L.neighbour_positions(xp, pop.pos[rows], direction[rows])
                ok = L.inside(xp, newpos, self.shape)
                rows, newpos = rows[ok], newpos[ok]
                movers_pos.append(pop.pos[rows])
                movers_target.append(L.flat_index(xp, newpos, self.shape))
                movers_key.append(R.draw_bits(xp, c["keys"][rows], R.PURPOSES["priority"] + 16 * r))
                owners.append((n, rows, newpos))
            if not owners:
                continue
            target = xp.concatenate(movers_target)
            key = xp.concatenate(movers_key)
            free = xp.maximum(self.capacity - self.occupancy, 0)
            ok = L.accept_by_priority(xp, target, key, free)
            old_flat = L.flat_index(xp, xp.concatenate(movers_pos), self.shape)
            L.scatter_add(xp, self.occupancy, old_flat[ok], -xp.ones(int(ok.sum()), np.int32))
            L.scatter_add(xp, self.occupancy, target[ok], xp.ones(int(ok.sum()), np.int32))
            start = 0
            for n, rows, newpos in owners:
                m = rows.shape[0]
                acc = ok[start:start + m]
                start += m
                pop = ctx[n]["pop"]
                pop.columns["pos"][rows[acc]] = newpos[acc]
        for n in names:
            ctx[n]["flat"] = L.flat_index(xp, ctx[n]["pop"].pos, self.shape)

    # -- divide
    def _divide(self, ctx, step):
        xp = self.xp
        props = []
        for n, c in ctx.items():
            rows = xp.flatnonzero(c["divides"])
            if rows.shape[0] == 0:
                continue
            pop = c["pop"]
            u = R.uniform_from_keys(xp, c["keys"][rows], "division_direction")
            direction = xp.minimum((u * 6).astype(np.int32), 5)
            newpos = L.neighbour_positions(xp, pop.pos[rows], direction)
            ok = L.inside(xp, newpos, self.shape)
            rows, newpos = rows[ok], newpos[ok]
            key = R.draw_bits(xp, c["keys"][rows], "division_priority")
            props.append((n, rows, newpos, L.flat_index(xp, newpos, self.shape), key))
        self._division_count = {n: 0 for n in ctx}
        if not props:
            return
        target = xp.concatenate([p[3] for p in props])
        key = xp.concatenate([p[4] for p in props])
        free = xp.maximum(self.capacity - self.occupancy, 0)
        ok = L.accept_by_priority(xp, target, key, free)
        L.scatter_add(xp, self.occupancy, target[ok], xp.ones(int(ok.sum()), np.int32))
        start = 0
        for n, rows, newpos, _, _ in props:
            m = rows.shape[0]
            acc = ok[start:start + m]
            start += m
            rows, newpos = rows[acc], newpos[acc]
            k = int(rows.shape[0])
            if k == 0:
                continue
            c = ctx[n]
            pop = c["pop"]
            mother = pop.extract(rows)
            ids = xp.asarray(self._take_ids(k))
            tnew = self.time + self.dt
            row = {key_: v.copy() for key_, v in mother.items()}
            row.update(id=ids, pos=newpos, parent=mother["id"], generation=mother["generation"] + 1,
                       born=xp.full(k, tnew), last_division=xp.full(k, tnew))
            pop.columns["last_division"][rows] = tnew
            c.setdefault("daughters", []).append(row)
            self._division_count[n] = k

    # -- exchange with the fields
    def _exchange(self, ctx):
        xp = self.xp
        fs = self.fields
        names = list(ctx)
        flats = [ctx[n]["flat"] for n in names]
        custom = self._custom_release
        self._custom_release = []
        if not flats and not custom:
            for sp in fs.species:
                fs.clear_point_exchange(sp.name)
            return
        allflat = xp.concatenate(flats) if flats else xp.zeros(0, np.int64)
        if custom:
            allflat = xp.concatenate([allflat, xp.asarray([f for _, f, _ in custom], np.int64)])
        if custom:
            voxels, inv = xp.unique(allflat, return_inverse=True)
            inv = inv.reshape(-1)
        else:
            # every cell sits in an occupied voxel: number those instead of sorting
            voxels = xp.flatnonzero(self.occupancy > 0)
            slot = xp.empty(self.n_voxels, dtype=np.int64)
            slot[voxels] = xp.arange(voxels.shape[0])
            inv = slot[allflat]
        m = int(voxels.shape[0])
        for i, sp in enumerate(fs.species):
            f = sp.name
            st, su, q = [], [], []
            any_st = any_su = any_q = False
            for n in names:
                c = ctx[n]
                p = self.params[n]
                rules = self._rules_by_type[n]
                cnt = c["n"]

                def val(b):
                    if p.get(b, 0) == 0 and b not in rules:
                        return None
                    return xp.broadcast_to(xp.asarray(c["beh"](b), dtype=np.float64), (cnt,))

                S, T, U, Q = (val(f"secretion:{f}"), val(f"target:{f}"), val(f"uptake:{f}"),
                              val(f"release:{f}"))
                zero = xp.zeros(cnt)
                st.append(S * T if (S is not None and T is not None) else zero)
                su.append((S if S is not None else zero) + (U if U is not None else zero))
                q.append(Q if Q is not None else zero)
                any_st |= S is not None and T is not None
                any_su |= S is not None or U is not None
                any_q |= Q is not None
            if custom:
                st.append(xp.zeros(len(custom)))
                su.append(xp.zeros(len(custom)))
                q.append(xp.asarray([r if j == i else 0.0 for j, _, r in custom]))
                any_q |= any(j == i for j, _, _ in custom)
            if not (any_st or any_su or any_q):
                fs.clear_point_exchange(f)
                continue
            sums = [xp.bincount(inv, weights=xp.concatenate(a), minlength=m) if used
                    else xp.zeros(m) for a, used in ((st, any_st), (su, any_su), (q, any_q))]
            fs.set_exchange_sums(f, voxels, *sums)

    # -- deaths, differentiation, phenotype
    def _finish(self, ctx):
        xp = self.xp
        fs = self.fields
        tnew = self.time + self.dt
        incoming = {n: [] for n in self.populations}
        events = {}
        for n, c in ctx.items():
            pop, cls, p = c["pop"], c["cls"], self.params[n]
            nrows = c["n"]
            # phenotype variables: exact relaxation toward gain/(gain+loss)
            for v, (g, l_) in c.get("var_rates", {}).items():
                g = xp.asarray(g, dtype=np.float64)
                l_ = xp.asarray(l_, dtype=np.float64)
                k = g + l_
                eq = xp.where(k > 0, g / xp.maximum(k, 1e-300), 0.0)
                col = pop.columns[v][:nrows]
                pop.columns[v][:nrows] = xp.where(k > 0, eq + (col - eq) * xp.exp(-k * self.dt), col)
            if cls.states:
                changed = c["new_state"] != pop.columns["state"][:nrows]
                pop.columns["state"][:nrows] = c["new_state"]
                pop.columns["last_transition"][:nrows] = xp.where(
                    changed, tnew, pop.columns["last_transition"][:nrows])
            # deaths release their contents
            dies = c["dies"]
            ndie = int(dies.sum())
            if ndie:
                for sp in fs.species:
                    if p.get(f"death_release:{sp.name}", 0) == 0 and \
                            f"death_release:{sp.name}" not in self._rules_by_type[n]:
                        continue
                    amt = c["beh"](f"death_release:{sp.name}")
                    amt = xp.broadcast_to(xp.asarray(amt, dtype=np.float64), (nrows,))[dies]
                    view = fs.u[fs.index(sp.name)].reshape(-1)
                    L.scatter_add(xp, view, c["flat"][dies], (amt / fs.voxel_volume).astype(view.dtype))
            leaving = c["diff_to"] >= 0
            nd = int(leaving.sum())
            if nd:
                for k_, target in enumerate(c["diff_targets"]):
                    sel = c["diff_to"] == k_
                    if not bool(sel.any()):
                        continue
                    moved = pop.extract(xp.flatnonzero(sel))
                    tcls = self.cell_classes[target]
                    row = self._new_rows(tcls, moved["id"], moved["pos"], moved["lineage"],
                                         moved["parent"], moved["generation"])
                    row["born"] = moved["born"]
                    row["last_division"] = moved["last_division"]
                    row["last_differentiation"] = xp.full(int(sel.sum()), tnew)
                    incoming[target].append({k2: xp.asarray(v) for k2, v in row.items()})
            gone = dies | leaving
            if ndie:
                flat = c["flat"][dies]
                L.scatter_add(xp, self.occupancy, flat, -xp.ones(ndie, np.int32))
            events[n] = {"deaths": ndie, "differentiations": nd,
                         "divisions": self._division_count.get(n, 0)}
            if ndie or nd:
                keep = xp.concatenate([~gone, xp.ones(len(pop) - nrows, dtype=bool)])
                pop.take(keep)
            for row in c.get("daughters", []):
                pop.append(row)
        for n, rows in incoming.items():
            for row in rows:
                self.populations[n].append(row)
        self.last_step_events = events

    # ------------------------------------------------------------ tissue
    def set_tissue(self, labels, tissue: Sequence[TissueClass] | None = None,
                   label_capacity: Sequence[int] | None = None) -> None:
        """Change the tissue labels during a run (e.g. an injury turns tissue into lesion).

        Parameters
        ----------
        labels : int array of ``shape``
            New label of every voxel.
        tissue : sequence of TissueClass, optional
            Properties per label (default: keep the current table).
        label_capacity : sequence of int, optional
            Cells a voxel of each label can hold; if given, the voxel capacities are
            rebuilt from the new labels. Cells already in a voxel whose capacity
            drops stay there; the voxel takes no new cells until it has room.
        """
        tissue = list(tissue) if tissue is not None else list(self.fields.tissue)
        self.fields.set_tissue(labels, tissue)
        self.tissue_names = [t.name for t in tissue]
        xp = self.xp
        self._labels_flat = xp.asarray(self.fields.labels).reshape(-1)
        if label_capacity is not None:
            cap = np.asarray(label_capacity, np.int64)
            if cap.shape != (len(tissue),) or (cap < 0).any():
                raise ModelInputError(f"label_capacity needs one integer >= 0 per tissue label "
                                      f"({len(tissue)}), got {label_capacity!r}")
            self.capacity = xp.asarray(cap[self.fields.labels].reshape(-1).astype(np.int32))

    # ------------------------------------------------------------ checkpoints
    def get_state(self) -> dict:
        """Everything needed to continue this model exactly, as plain NumPy arrays and numbers.

        The returned nested dict holds the step counter, the time, the id counter,
        the seed, the tissue labels and voxel capacities, every population's
        columns, the fields and the depots. Built-in behaviour draws its random
        numbers from (seed, step, id, purpose), so no generator state is needed.
        Ordinary Mesa agents (the slow path) are not included.

        Returns
        -------
        dict
            See :meth:`set_state`.
        """
        fs = self.fields
        depots = {}
        for k, d in enumerate(fs.depots):
            depots[f"{k:04d}"] = {"species": d.species, "voxels": np.asarray(to_numpy(d.voxels)),
                                  "remaining": float(d.remaining), "law": d.law,
                                  "rate": float(d.rate), "released": float(d.released)}
        return {
            "model": {"steps": int(self.steps), "time": float(self.time),
                      "next_id": int(self._next_id), "seed": int(self.seed),
                      "field_time": float(fs.time), "field_steps": int(fs.step_count)},
            "tissue": {"labels": (np.zeros(self.shape, np.uint8) if fs.labels is None
                                  else np.asarray(fs.labels, np.uint8)),
                       "capacity": np.asarray(to_numpy(self.capacity)),
                       "occupancy": np.asarray(to_numpy(self.occupancy))},
            "populations": {n: {k: np.asarray(to_numpy(c)) for k, c in p.columns.items()}
                            for n, p in self.populations.items()},
            "fields": {sp.name: np.asarray(to_numpy(fs.u[i])) for i, sp in enumerate(fs.species)},
            "depots": depots,
        }

    def set_state(self, state: dict) -> None:
        """Restore a state written by :meth:`get_state` into a model built with the same
        settings (lattice, fields, cell types, tissue table, seed)."""
        xp = self.xp
        fs = self.fields
        m = state["model"]
        if int(m["seed"]) != int(self.seed):
            raise ModelInputError(f"checkpoint was written with seed {m['seed']}, this model "
                                  f"has seed {self.seed}; build the model with the same seed")
        missing = set(self.populations) ^ set(state["populations"])
        if missing:
            raise ModelInputError(f"checkpoint cell types {sorted(state['populations'])} do not "
                                  f"match the model's {sorted(self.populations)}")
        if set(state["fields"]) != {sp.name for sp in fs.species}:
            raise ModelInputError(f"checkpoint fields {sorted(state['fields'])} do not match "
                                  f"the model's {[sp.name for sp in fs.species]}")
        t = state["tissue"]
        labels = np.asarray(t["labels"], np.uint8)
        if labels.shape != self.shape:
            raise ModelInputError(f"checkpoint lattice {labels.shape} differs from the "
                                  f"model's {self.shape}")
        self.set_tissue(labels)
        self.capacity = xp.asarray(np.asarray(t["capacity"], np.int32))
        self.occupancy = xp.asarray(np.asarray(t["occupancy"], np.int32))
        for n, pop in self.populations.items():
            cols = state["populations"][n]
            for k, (dt_, shp, _) in pop.spec.items():
                pop.columns[k] = xp.asarray(np.asarray(cols[k], dt_).reshape((-1,) + shp))
        for i, sp in enumerate(fs.species):
            fs.u[i][...] = xp.asarray(np.asarray(state["fields"][sp.name], fs.dtype))
        fs.depots = []
        for _, d in sorted(state.get("depots", {}).items()):
            fs.depots.append(Depot(d["species"], xp.asarray(np.asarray(d["voxels"], np.int64)),
                                   float(d["remaining"]), d["law"], float(d["rate"]),
                                   float(d["released"])))
        fs.clear_point_exchange()
        fs.time = float(m["field_time"])
        fs.step_count = int(m["field_steps"])
        self.steps = int(m["steps"])
        self.time = float(m["time"])
        self._next_id = int(m["next_id"])
        self._collected_initial = True

    # ------------------------------------------------------------ readouts
    def positions(self, cell_type) -> np.ndarray:
        """Voxel positions of a cell type, (n, 3) NumPy int array (a copy), in id order."""
        return np.array(to_numpy(self.populations[self._type_of(cell_type).cell_type].pos))

    def state_counts(self, cell_type) -> dict[str, int]:
        """Cells per phenotype state of a cell type with states."""
        cls = self._type_of(cell_type)
        st = to_numpy(self.populations[cls.cell_type].columns["state"])
        return {s: int((st == i).sum()) for i, s in enumerate(cls.states)}


class _IdCounter:
    """Mesa's per-model id counter, shared with the array-backed cells."""

    def __init__(self, model):
        self.model = model

    def __iter__(self):
        return self

    def __next__(self) -> int:
        return int(self.model._take_ids(1)[0])


class _Signals(dict):
    """Signals of one population, computed on first use in a step."""

    def __init__(self, model, name, pop, flat):
        super().__init__()
        self.model, self.name, self.pop, self.flat = model, name, pop, flat

    def __missing__(self, key):
        m, xp, pop = self.model, self.model.xp, self.pop
        n = len(pop)
        if key in m.fields._index:
            v = L.sample(m.fields.field(key), self.flat).astype(np.float64)
        elif key.startswith(("density:", "contact:")):
            other = key.split(":", 1)[1]
            dens = self._density(other)
            v = dens if key.startswith("density:") else (dens > 0).astype(np.float64)
        elif key.startswith("tissue:"):
            lab = m.tissue_names.index(key.split(":", 1)[1])
            v = (m._labels_flat[self.flat] == lab).astype(np.float64)
        elif key.startswith("state:"):
            s = m.cell_classes[self.name].states.index(key.split(":", 1)[1])
            v = (pop.columns["state"] == s).astype(np.float64)
        elif key.startswith("var:"):
            v = pop.columns[key.split(":", 1)[1]].astype(np.float64)
        elif key == "age":
            v = m.time - pop.columns["born"]
        elif key == "time":
            v = xp.full(n, m.time)
        elif key.startswith("time_since:"):
            v = m.time - pop.columns["last_" + key.split(":", 1)[1]]
        else:  # pragma: no cover - rules are validated against the catalogue
            raise KeyError(key)
        self[key] = v
        return v

    def _density(self, other):
        """Cells of type ``other`` in the agent's voxel and its 6 face neighbours (not itself)."""
        m, xp = self.model, self.model.xp
        cache = m.__dict__.setdefault("_density_cache", {})
        if cache.get("step") != m.steps:
            cache.clear()
            cache["step"] = m.steps
        grid = cache.get(other)
        if grid is None:
            opop = m.populations[other]
            grid = xp.bincount(L.flat_index(xp, opop.pos, m.shape), minlength=m.n_voxels)
            cache[other] = grid
        total = grid[self.flat].astype(np.float64)
        pos = self.pop.pos
        for d in L.NEIGHBOURS:
            q = pos + xp.asarray(d)
            ok = L.inside(xp, q, m.shape)
            qf = L.flat_index(xp, xp.where(ok[:, None], q, pos), m.shape)
            total = total + xp.where(ok, grid[qf], 0).astype(np.float64)
        if other == self.name:
            total = total - 1.0
        return total
