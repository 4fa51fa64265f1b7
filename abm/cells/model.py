"""TissueModel: a Mesa Model whose cells live as arrays on the field lattice.

One step of ``dt`` minutes (``DESIGN.md``, "One step, as data flows through it")
is the list of phases in :mod:`abm.cells.phases`, each a function over the
step's typed plan (:class:`~abm.cells.plan.StepPlan`, one
:class:`~abm.cells.plan.PopulationPlan` per population with agents):

1. **sense**: every population gets its voxels, random keys and a signal table
   (:mod:`.signals`) that gathers what its rules and its chemotaxis read, at its
   agents' voxels, on first use;
2. **decide**: rules turn signals into behaviour values (:mod:`abm.rules`);
   rates become probabilities over the step, ``1 - exp(-rate dt)``, and
   counter-based draws (:mod:`kernels.rng`) become events: death, division,
   differentiation, phenotype-state transitions;
3. **move**: each agent hops to a face neighbour or stays; conflicts at full
   voxels are resolved by a random priority key (lowest wins), in the one
   placement-with-exclusion rule (:func:`.placement.place_with_exclusion`);
4. **divide**: dividing cells place a daughter in a random face-neighbour
   voxel if it wins room by the same rule (otherwise the division waits);
5. **custom agents**: ordinary Mesa agents (slow path) run their ``step()``;
6. **exchange**: secretion, uptake and release of every cell go to the field
   engine;
7. **fate**: phenotype variables relax, states change, dying cells release
   their contents into the fields (:meth:`FieldSolver.add_amounts`) and leave,
   differentiating cells change type, daughters join;
8. **tissue**: tissue processes (:class:`abm.tissue.TissueProcess`) advance
   their per-voxel states, ``model.tissue_states``, in the order given;
9. **diffuse**: the fields advance by ``dt``, then the model time;
10. **record**: the DataCollector, if any, collects (before the first step it
    also records the initial state as step 0).

The laws of motion (a lattice walk with drift, chemotaxis by the receptor law)
are in :mod:`abm.cells.phases.decide`.

The rest of the model lives beside it: placing cells (:mod:`.placement`),
parameters (:mod:`.parameters`), checkpoints (:mod:`.state`).
"""

from __future__ import annotations

import importlib
import io
import math
import os
import pickle
import types
import weakref
from collections.abc import Sequence

import mesa
import numpy as np

from kernels.backend import Backend, get_backend, to_numpy

from .. import rules as R_
from ..errors import ModelInputError
from ..fields import DEFAULT_CELL_STEP_MIN, FieldSolver, Species, TissueClass
from ..fields.species import resolve_species
from ..rules import RuleSet, load_rules
from ..rules.semantics import check_rules
from ..tissue import TissueProcess
from ..tissue.states import check_processes, initial_states
from . import markers, placement
from . import phases as P
from . import state as S
from .agentset import CellAgentSet
from .events_log import EventLog
from .mesa_hooks import ordinary_agents_by_type, share_id_counter
from .parameters import cell_classes, resolve_parameters
from .phases.record import StepCollector, collect_initial, collect_step
from .plan import StepPlan
from .population import Population

__all__ = ["TissueModel"]


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
    label_capacity : sequence of int, optional
        Cells a voxel of each tissue label holds, instead of ``capacity``: the model
        keeps it and rebuilds the capacities whenever the labels change
        (:meth:`set_tissue`, e.g. an injury).
    dt : float
        Cell time step, min.
    seed : int, optional
        Seed of every random draw (counter-based; the same on both backends).
        None draws one from the operating system and records it in ``self.seed``.
    rng : int or numpy.random.Generator, optional
        Mesa's alternative to ``seed`` (give one of the two): an integer is the seed; a
        Generator becomes ``model.rng`` (as in Mesa) and the seed of the cells'
        counter-based draws is drawn from it once.
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
    processes : sequence of TissueProcess, optional
        Tissue processes (instances), advanced every step in this order after
        the cells' fate and before the fields diffuse. Their states live in
        ``self.tissue_states`` (state name to a float64 backend array, one value
        per voxel, flat), start from each process's ``initial(model)``, are the
        signals ``tissue_state:<name>`` and are checkpointed. Two processes may
        not declare the same state name.
    """

    def __init__(self, shape: Sequence[int] = (32, 32, 32), dx: float = 20.0,
                 fields: Sequence[Species | str] = ("SDF-1a", "VEGF", "BDNF", "exosome"),
                 cell_types: Sequence[type] | None = None, rules=None,
                 parameters: dict | None = None, capacity=1, labels=None,
                 tissue: Sequence[TissueClass] | None = None, dt: float = DEFAULT_CELL_STEP_MIN,
                 seed: int | None = None, backend: str | Backend | None = None,
                 field_dtype=None, scheme: str = "auto", model_reporters=None,
                 agent_reporters=None, agenttype_reporters=None,
                 processes: Sequence[TissueProcess] | None = None,
                 label_capacity: Sequence[int] | None = None, rng=None):
        mesa_rng = None
        if rng is not None:
            if seed is not None:
                raise ModelInputError("give either seed= or rng=, not both (as in Mesa)")
            if isinstance(rng, np.random.Generator):
                mesa_rng = rng                       # model.rng is the user's generator
                seed = int(rng.integers(0, 2**63 - 1))
            else:
                seed = rng
        if seed is None:
            seed = int.from_bytes(os.urandom(8), "little") >> 1
        seed = _checked_seed(seed)
        if mesa_rng is not None:
            super().__init__(rng=mesa_rng)
        else:
            super().__init__(seed=seed)
        # ids shared with ordinary Mesa agents: one counter for the whole model (Mesa 3.3
        # has no public hook for it; see .mesa_hooks, the one use of a private Mesa name)
        self._next_id = 1
        share_id_counter(self, _IdCounter(self))
        # the data collection and the start-of-step time wrap Mesa's step (see step())
        self._mesa_step = self.step
        self.step = self._step_and_record
        self._views = weakref.WeakValueDictionary()
        self.seed = seed
        self.backend = get_backend(backend)
        xp = self.xp = self.backend.xp
        try:
            self.dt = float(dt)
        except (TypeError, ValueError):
            raise ModelInputError(f"dt must be a number of minutes, got {dt!r}") from None
        if not (self.dt > 0 and math.isfinite(self.dt)):
            raise ModelInputError(f"dt must be > 0 min, got {dt!r}")
        self.fields = FieldSolver(shape, dx, resolve_species(fields), labels=labels, tissue=tissue,
                                  backend=self.backend, dtype=field_dtype, scheme=scheme)
        self.shape = self.fields.shape
        self.dx = self.fields.dx
        self.n_voxels = int(np.prod(self.shape))
        self.time = 0.0
        self.tissue_names = [t.name for t in (tissue or [])]
        self._labels_flat = None if labels is None else xp.asarray(labels).reshape(-1)

        self.label_capacity = None
        if label_capacity is not None:
            if labels is None:
                raise ModelInputError("label_capacity needs tissue labels (labels=...)")
            if not (np.isscalar(capacity) and capacity == 1):
                raise ModelInputError("give either capacity or label_capacity, not both")
            self.label_capacity = self._check_label_capacity(label_capacity, len(tissue or []))
            capacity = self.label_capacity[np.asarray(to_numpy(labels))]
        self.capacity = xp.asarray(placement.capacity_array(capacity, self.shape))
        self.occupancy = xp.zeros(self.n_voxels, dtype=np.int32)

        # cell types
        self.cell_classes: dict[str, type] = cell_classes(cell_types)
        self._type_list = list(self.cell_classes.values())
        self._type_code = {c: i for i, c in enumerate(self._type_list)}
        self._all_agents_set = CellAgentSet(self, base=self._type_list, base_others=True)
        self._type_sets = {c: CellAgentSet(self, base=[c]) for c in self._type_list}
        self.populations = {n: Population(n, xp, c.states, c.variables)
                            for n, c in self.cell_classes.items()}
        # chemotaxis needs its field; without it the cell type simply does not chemotax
        self.chemotaxis_field = {n: (c.chemotaxis_field if c.chemotaxis_field in self.fields._index
                                     else None) for n, c in self.cell_classes.items()}
        self.params: dict[str, dict[str, float]] = resolve_parameters(self, parameters or {})

        # tissue processes (their states are signals, so they come before the rules)
        self.processes = check_processes(processes)
        self.tissue_states: dict = initial_states(self, self.processes)

        if rules is None:
            rules = RuleSet()
        elif isinstance(rules, (str, os.PathLike)):
            rules = load_rules(rules)
        elif not isinstance(rules, RuleSet):
            rules = RuleSet(rules)
        rules.validate({n: (self.signal_names(n), self.behaviour_names(n))
                        for n in self.cell_classes})
        check_rules(self.params, rules.rules, [sp.name for sp in self.fields.species])
        self.rules = rules
        self._rules_by_type = {n: rules.for_type(n) for n in self.cell_classes}

        self._custom_release: list[tuple[int, int, float]] = []
        self.last_step_events: dict[str, dict[str, int]] = {}
        # divisions and deaths of the last hours (window readouts) and per-cell markers
        # (pulses): created only when asked for, so a model without them pays nothing
        self.event_log: EventLog | None = None
        self.markers: list[str] = []
        self.marker_pulses: list[tuple[str, float, float]] = []
        self.datacollector = None
        self._collected_initial = False
        if model_reporters or agent_reporters or agenttype_reporters:
            self.datacollector = StepCollector(
                model_reporters=model_reporters, agent_reporters=agent_reporters,
                agenttype_reporters=agenttype_reporters)
        self._builtin_collector = self.datacollector

    # ------------------------------------------------------------ catalogue
    def signal_names(self, cell_type: str) -> set[str]:
        """Signals a cell type can sense (names used in rules)."""
        return R_.signal_names(self.cell_classes[cell_type], self.cell_classes,
                               [sp.name for sp in self.fields.species], self.tissue_names,
                               list(self.tissue_states))

    def behaviour_names(self, cell_type: str) -> set[str]:
        """Behaviours of a cell type that rules may change."""
        return R_.behaviour_names(self.cell_classes[cell_type], self.cell_classes,
                                  [sp.name for sp in self.fields.species])

    # ------------------------------------------------------------ Mesa views
    @property
    def agents(self) -> CellAgentSet:
        """All agents: every array-backed cell (as views) and every ordinary Mesa agent.

        One object for the model's life; it follows births and deaths, also after an
        in-place operation on it (see :mod:`abm.cells.agentset`).
        """
        return self._all_agents_set

    @agents.setter
    def agents(self, value):  # pragma: no cover - Mesa forbids it too
        raise AttributeError("model.agents is managed by Mesa")

    @property
    def agent_types(self) -> list[type]:
        """The types that have had an agent: the keys of :attr:`agents_by_type`, as in Mesa.

        A declared cell type that never had a cell is not listed (Mesa lists a class from
        its first agent on; ``model.cell_classes`` lists every declared cell type).
        """
        return list(self.agents_by_type)

    @property
    def agents_by_type(self) -> dict[type, CellAgentSet]:
        """An agent set per type that has had an agent, as in Mesa.

        One lasting set per cell type (listed from the type's first cell on, also after
        all its cells have gone, as Mesa keeps a type's key), Mesa's own set per
        ordinary agent type. A type that never had a cell is not a key (Mesa raises
        KeyError for it too); ``model.agents.select(agent_type=T)`` works for any type.
        """
        out = {c: s for c, s in self._type_sets.items()
               if self.populations[c.cell_type].had_cells or len(self.populations[c.cell_type])}
        for t, s in ordinary_agents_by_type(self).items():
            out.setdefault(t, s)
        return out

    def reset_randomizer(self, seed: int | None = None) -> None:
        """Reseed the model's randomness, as Mesa's ``reset_randomizer``, the cells' draws too.

        Mesa reseeds ``model.random``; the cells' counter-based draws are keyed by
        ``self.seed``, which takes the new seed as well (an integer from 0 to 2**63 - 1),
        so two models reset to one seed continue alike. Without a seed, both keep theirs.
        """
        if seed is not None:
            seed = _checked_seed(seed)
        super().reset_randomizer(seed)
        if seed is not None:
            self.seed = seed

    def remove_all_agents(self) -> None:
        """Remove every cell (no death release) and every ordinary Mesa agent, as Mesa does."""
        for cls in self._type_list:
            self.remove_cells(cls, to_numpy(self.populations[cls.cell_type].ids))
        super().remove_all_agents()

    def _ids_of(self, code: int) -> np.ndarray:
        """Unique ids (ascending, NumPy) of the living cells of the type with this code."""
        return to_numpy(self.populations[self._type_list[code].cell_type].ids)

    def count(self, cell_type) -> int:
        """Number of living cells of a type (class or name)."""
        name = cell_type if isinstance(cell_type, str) else cell_type.cell_type
        return len(self.populations[name])

    # ------------------------------------------------------------ ids
    def _take_ids(self, n: int) -> np.ndarray:
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        return ids

    # ------------------------------------------------------------ placing (.placement)
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
        return placement.add_cells(self, self._type_of(cell_type), positions, values)

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
        return placement.seed_cells(self, self._type_of(cell_type), n, region, values)

    def _pick_slots(self, room: np.ndarray, n: int) -> np.ndarray:
        """Voxels (flat) of ``n`` free slots (see :func:`.placement.pick_slots`)."""
        return placement.pick_slots(self, room, n)

    def remove_cells(self, cell_type, ids) -> None:
        """Remove cells by unique id (no death release)."""
        placement.remove_cells(self, self._type_of(cell_type), ids)

    # ------------------------------------------------------------ slow path
    def field_at(self, name: str, pos) -> float:
        """Concentration of field ``name`` at voxel ``pos`` (for ordinary Mesa agents)."""
        return float(self.fields.field(name)[tuple(int(c) for c in pos)])

    def release(self, name: str, pos, rate: float) -> None:
        """Release ``rate`` (amount/min) of field ``name`` at voxel ``pos`` during this step.

        For ordinary Mesa agents; amount = concentration × µm³.
        """
        i = self.fields.index(name)
        flat = int(np.ravel_multi_index(tuple(int(c) for c in pos), self.shape))
        if not (rate >= 0 and math.isfinite(rate)):
            raise ModelInputError(f"release rate must be finite and >= 0, got {rate!r}")
        self._custom_release.append((i, flat, float(rate)))

    # ------------------------------------------------------------ step
    def step(self) -> None:
        """Advance cells, tissue and fields by ``dt`` minutes.

        The step is the phases of :mod:`abm.cells.phases`, in order (see the module docs).
        """
        # Mesa has already counted this step; draws are keyed by it. The step starts at
        # the time the model had before Mesa's step began (a Mesa whose Model advances
        # ``time`` itself would otherwise add its own duration to ``dt``).
        start = self.__dict__.pop("_step_start_time", self.time)
        self.time = start
        plan = StepPlan(step=self.steps, time=start, dt=self.dt)
        P.record_initial(self, plan)
        P.sense(self, plan)
        P.decide(self, plan)
        P.move(self, plan)
        P.divide(self, plan)
        P.custom_agents(self, plan)
        P.exchange(self, plan)
        P.fate(self, plan)
        P.tissue(self, plan)
        P.diffuse(self, plan)
        P.record(self, plan)

    def __reduce_ex__(self, protocol):
        """Pickle (and deep copy) the whole model; it restores to a model that continues alike.

        The array module is stored by name; views and agent sets keep pointing at the
        restored model.
        """
        buf = io.BytesIO()
        state = {k: v for k, v in self.__dict__.items() if k != "_views"}
        _ModelPickler(buf, pickle.HIGHEST_PROTOCOL, self).dump(state)
        return _restore_model, (type(self), buf.getvalue())

    def _step_and_record(self, *args, **kwargs) -> None:
        """Mesa's step (counter, then ``step()`` with a subclass's own code) and the record.

        The model's own DataCollector (built from the constructor's reporters) records
        step 0 before the first step and each step once, after the whole ``step()``;
        a ``self.datacollector`` the user made is the user's to collect.
        """
        collect_initial(self)
        self._step_start_time = self.time
        try:
            self._mesa_step(*args, **kwargs)
        finally:
            self.__dict__.pop("_step_start_time", None)
        collect_step(self)

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
            Cells a voxel of each label can hold (default: the model's own
            ``label_capacity``, if it was built with one). When there is one, the voxel
            capacities are rebuilt from the new labels; cells already in a voxel whose
            capacity drops stay there, and the voxel takes no new cells until it has
            room. Without one the capacities stay as they are.
        """
        tissue = list(tissue) if tissue is not None else list(self.fields.tissue)
        self.fields.set_tissue(labels, tissue)
        self.tissue_names = [t.name for t in tissue]
        xp = self.xp
        self._labels_flat = xp.asarray(self.fields.labels).reshape(-1)
        if label_capacity is None:
            label_capacity = self.label_capacity
        if label_capacity is not None:
            cap = self._check_label_capacity(label_capacity, len(tissue))
            self.capacity = xp.asarray(cap[self.fields.labels].reshape(-1).astype(np.int32))

    @staticmethod
    def _check_label_capacity(label_capacity, n_labels: int) -> np.ndarray:
        cap = np.asarray(label_capacity)
        if cap.shape != (n_labels,) or not np.issubdtype(cap.dtype, np.integer) or (cap < 0).any():
            raise ModelInputError(f"label_capacity needs one integer >= 0 per tissue label "
                                  f"({n_labels}), got {label_capacity!r}")
        return cap.astype(np.int64)

    def tissue_state_arrays(self) -> dict[str, np.ndarray]:
        """Every tissue state as a NumPy array of the lattice shape (a copy), for snapshots."""
        return {s: np.array(to_numpy(a)).reshape(self.shape) for s, a in self.tissue_states.items()}

    def tissue_state_units(self) -> dict[str, str]:
        """The unit label of every tissue state (as its process declares it)."""
        return {s: str(u) for p in self.processes for s, (_, u) in p.states.items()}

    # ------------------------------------------------------------ event log, markers
    def keep_event_log(self, horizon: float) -> EventLog:
        """Log divisions and deaths from now on, keeping the last ``horizon`` minutes.

        Window readouts (``divisions``, ``deaths``) read the log (:mod:`.events_log`); a
        second call only lengthens the horizon. Returns the log.
        """
        if self.event_log is None:
            self.event_log = EventLog(horizon)
            self.event_log.complete_since = float(self.time)
        else:
            self.event_log.extend(horizon)
        return self.event_log

    def add_marker(self, name: str) -> None:
        """Give every cell type the (unset) per-cell marker ``name`` (see :mod:`.markers`)."""
        markers.add_marker(self, name)

    # ------------------------------------------------------------ checkpoints (.state)
    def get_state(self) -> dict:
        """Everything needed to continue this model exactly, as plain NumPy arrays and numbers.

        See :func:`abm.cells.state.get_state`.

        Returns
        -------
        dict
            ``model`` (step counter, time, id counter, seed), ``tissue`` (labels,
            capacity, occupancy), ``populations`` (columns), ``fields``, ``depots``
            and ``tissue_states``; see :meth:`set_state`.
        """
        return S.get_state(self)

    def set_state(self, state: dict) -> None:
        """Restore a state written by :meth:`get_state`.

        The model must be built with the same settings (lattice, fields, cell types,
        tissue table, tissue processes, seed).
        """
        S.set_state(self, state)

    # ------------------------------------------------------------ readouts
    def positions(self, cell_type) -> np.ndarray:
        """Voxel positions of a cell type, (n, 3) NumPy int array (a copy), in id order."""
        return np.array(to_numpy(self.populations[self._type_of(cell_type).cell_type].pos))

    def state_counts(self, cell_type) -> dict[str, int]:
        """Cells per phenotype state of a cell type with states."""
        cls = self._type_of(cell_type)
        st = to_numpy(self.populations[cls.cell_type].columns["state"])
        return {s: int((st == i).sum()) for i, s in enumerate(cls.states)}


def _checked_seed(seed) -> int:
    """``seed`` as the integer that keys every draw, or one clear error."""
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise ModelInputError(f"seed must be an integer, got {seed!r}") from None
    if not 0 <= seed < 2**63:
        raise ModelInputError(f"seed must be an integer from 0 to 2**63 - 1, got {seed}")
    return seed


class _ModelPickler(pickle.Pickler):
    """Pickles a model's attributes: the model itself by reference, modules by name."""

    def __init__(self, file, protocol, model):
        super().__init__(file, protocol)
        self._model = model

    def persistent_id(self, obj):
        return "model" if obj is self._model else None

    def reducer_override(self, obj):
        if isinstance(obj, types.ModuleType):
            return importlib.import_module, (obj.__name__,)
        return NotImplemented


class _ModelUnpickler(pickle.Unpickler):
    def __init__(self, file, model):
        super().__init__(file)
        self._model = model

    def persistent_load(self, pid):
        return self._model


def _restore_model(cls, payload: bytes):
    """A model from :meth:`TissueModel.__reduce_ex__` (pickle and deep copy)."""
    model = cls.__new__(cls)
    state = _ModelUnpickler(io.BytesIO(payload), model).load()
    model.__dict__.update(state)
    model._views = weakref.WeakValueDictionary()
    share_id_counter(model, _IdCounter(model))
    return model


class _IdCounter:
    """Mesa's per-model id counter, shared with the array-backed cells."""

    def __init__(self, model):
        self.model = model

    def __iter__(self):
        return self

    def __next__(self) -> int:
        return int(self.model._take_ids(1)[0])
