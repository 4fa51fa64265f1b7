"""Cell types: Mesa ``Agent`` subclasses whose objects are views onto population rows.

Each cell type is a class (the built-in ones live in :mod:`abm.biology`) that
declares its *structure* (which
field it chemotaxes on and through which receptor, its discrete phenotype
states, its continuous phenotype variables); its *numbers* (speeds, rates,
targets) come from ``seeds/cells.csv``, with the evidence or reasoning for
each, and can be overridden per model.

An object of one of these classes is a thin view: it holds the model and the
agent's unique id, and reads and writes the agent's row in the population
arrays on attribute access. It is made when somebody asks for it (iterating
``model.agents``, a DataCollector agent reporter, ...), never stored by the
model, and never a second copy of the state. Creating one with
``BMSC(model, pos=(x, y, z))`` adds a new cell (one row) to the model.

A new cell type is a subclass, registered once (:mod:`abm.registry`)::

    @CELL_TYPES.register
    class Osteoclast(LatticeCell):
        states = ("resting", "resorbing")
        parameters = {"speed": 0.1, "persistence": 5.0, "death": 1e-4}
"""

from __future__ import annotations

from typing import ClassVar

import mesa
import numpy as np

from ..errors import ModelInputError
from ..seeds import load_cell_defaults
from . import attributes

__all__ = ["LatticeCell", "CellGoneError"]


class CellGoneError(AttributeError):
    """The agent a view points at has died or changed type."""


class LatticeCell(mesa.Agent):
    """Base class of array-backed cell types (a Mesa Agent that is a view onto a row).

    Class attributes (structure)
    ----------------------------
    cell_type : str
        Name used in rules and parameter tables (defaults to the class name).
    chemotaxis_field : str or None
        Field whose gradient the cells climb.
    chemotaxis_receptor : str or None
        Phenotype variable (0–1) that scales the chemotactic drift (e.g. CXCR4).
    states : tuple of str
        Discrete phenotype states; new cells start in the first.
    variables : tuple of str
        Continuous phenotype variables in [0, 1], relaxing as
        ``dv/dt = gain (1 - v) - loss v``.
    parameters : dict
        Parameter values that override ``seeds/cells.csv`` for this class.
    colour : str or None
        Display colour (``"#rrggbb"``) of the type in the viewer (None: the next free one).
    state_colours : dict
        Display colour per state name (states not given take free colours).

    Attributes of a view
    --------------------
    unique_id : int
        The agent's id.
    pos : tuple of 3 int
        Voxel.
    state : str
        Phenotype state name (types with states).
    lineage, parent, generation, born, last_division, ... : see
        :data:`abm.population.CORE_COLUMNS`; each phenotype variable by its name.
    age : float
        Minutes since birth.

    Any other attribute set on a view (``cell.energy = 3``) is the cell's own, kept
    in a Python side table by its unique id and dropped when the cell goes (see
    :mod:`abm.cells.attributes`); the kernels never read it.
    """

    cell_type: ClassVar[str] = ""
    chemotaxis_field: ClassVar[str | None] = None
    chemotaxis_receptor: ClassVar[str | None] = None
    states: ClassVar[tuple[str, ...]] = ()
    variables: ClassVar[tuple[str, ...]] = ()
    parameters: ClassVar[dict[str, float]] = {}
    colour: ClassVar[str | None] = None
    state_colours: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "cell_type" not in cls.__dict__ or not cls.__dict__["cell_type"]:
            cls.cell_type = cls.__name__

    @classmethod
    def default_parameters(cls) -> dict[str, float]:
        """Seed defaults for this type (from ``seeds/cells.csv``) updated by ``cls.parameters``.

        A subclass of a cell type (``class PrimedBMSC(BMSC)``) inherits its parents'
        defaults: from the base class down, each class's seed row (by its
        ``cell_type``) and then its own ``parameters`` update the values.
        """
        seeds = load_cell_defaults()
        out: dict[str, float] = {}
        for klass in reversed(cls.__mro__):
            if not (isinstance(klass, type) and issubclass(klass, LatticeCell)):
                continue
            if "cell_type" in klass.__dict__ or klass is cls:
                out.update(seeds.get(klass.cell_type, {}))
            out.update(klass.__dict__.get("parameters", {}))
        return out

    @classmethod
    def create_agents(cls, model, n: int, *args, **kwargs):
        """Create ``n`` cells, as Mesa's ``Agent.create_agents``, and return them as an agent set.

        Each argument is one value for all cells or a list, tuple or array of ``n``
        values (Mesa's rule), e.g. ``BMSC.create_agents(model, 3, pos=[(0, 0, 0),
        (1, 0, 0), (2, 0, 0)], CXCR4=0.5)``.
        """
        def one(v, i):
            return v[i] if isinstance(v, (list, tuple, np.ndarray)) and len(v) == n else v

        made = [cls(model, *[one(a, i) for a in args], **{k: one(v, i) for k, v in kwargs.items()})
                for i in range(int(n))]
        from .agentset import CellAgentSet
        return CellAgentSet(model, made)

    # ------------------------------------------------------------ views
    def __init__(self, model, pos, **values):
        """Add one new cell of this type at voxel ``pos`` (slow path).

        Use :meth:`TissueModel.add_cells` for many. ``values`` set phenotype
        variables or ``state`` (a state name).
        """
        if not hasattr(model, "_add_cells"):
            raise ModelInputError(f"{type(self).__name__} cells live in a TissueModel, "
                                  f"not in a plain {type(model).__name__}")
        ids = model._add_cells(type(self), [tuple(pos)], {k: [v] for k, v in values.items()})
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "unique_id", int(ids[0]))
        views = model.__dict__.get("_views")
        if views is not None:
            views[(self.cell_type, self.unique_id)] = self

    @classmethod
    def _view(cls, model, uid: int):
        """The view of cell ``uid``: the same object while anybody holds it (``a is b``)."""
        uid = int(uid)
        views = model.__dict__.get("_views")
        key = (cls.cell_type, uid)
        obj = views.get(key) if views is not None else None
        if obj is None:
            obj = cls.__new__(cls)
            object.__setattr__(obj, "model", model)
            object.__setattr__(obj, "unique_id", uid)
            if views is not None:
                views[key] = obj
        return obj

    def _row(self):
        pop = self.model.populations[self.cell_type]
        r = pop.row_of(self.unique_id)
        if r is None:
            raise CellGoneError(
                f"{self.cell_type} {self.unique_id} is no longer in the model (it died or "
                f"changed cell type)")
        return pop, r

    @property
    def alive(self) -> bool:
        """True while the cell is in the model as this type."""
        return self.model.populations[self.cell_type].row_of(self.unique_id) is not None

    @property
    def age(self) -> float:
        """Minutes since birth (or seeding); a declared variable or a set ``age`` wins.

        An ``age`` you set on a cell (an undeclared attribute, :mod:`.attributes`) is
        yours, as in a Mesa agent.
        """
        if not self.alive and "age" in self.__dict__:
            return self.__dict__["age"]
        pop, r = self._row()
        if "age" in pop.columns:
            return pop.columns["age"][r].item()
        extra = attributes.table(self.model).get(self.unique_id)
        if extra is not None and "age" in extra:
            return extra["age"]
        return self.model.time - self.born

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        pop, r = self._row()
        if name == "state" and pop.states:
            return pop.states[int(pop.columns["state"][r])]
        col = pop.columns.get(name)
        if col is None:
            extra = attributes.table(self.model).get(self.unique_id)
            if extra is not None and name in extra:
                return extra[name]
            raise AttributeError(f"{self.cell_type} has no attribute {name!r}")
        v = col[r]
        if name == "pos":
            return tuple(int(c) for c in v.tolist())
        return v.item()

    def __setattr__(self, name, value):
        pop = self.model.populations[self.cell_type]
        if name in ("id", "unique_id", "pos", "lineage", "parent", "generation", "born"):
            raise AttributeError(
                f"{name} of a {self.cell_type} is kept by the model; move cells with "
                f"model.move_cell, add them with model.add_cells")
        if name == "state" and pop.states:
            if value not in pop.states:
                raise ModelInputError(f"{self.cell_type} state must be one of {pop.states}, got {value!r}")
            value = pop.states.index(value)
        if name not in pop.columns:
            # an undeclared attribute: the cell's entry in the side table (.attributes)
            attributes.check_name(type(self), self.model, name)
            if pop.row_of(self.unique_id) is None:
                if any(p.row_of(self.unique_id) is not None for p in self.model.populations.values()):
                    raise CellGoneError(f"{self.cell_type} {self.unique_id} changed cell type; "
                                        f"set its attributes through its new type's view")
                object.__setattr__(self, name, value)   # a gone cell's view is a plain object
                return
            attributes.table(self.model).setdefault(self.unique_id, {})[name] = value
            return
        _, r = self._row()
        pop.columns[name][r] = value

    def __eq__(self, other):
        return (isinstance(other, LatticeCell) and other.model is self.model
                and other.unique_id == self.unique_id and other.cell_type == self.cell_type)

    def __hash__(self):
        return hash((id(self.model), self.cell_type, self.unique_id))

    def __repr__(self):
        return f"<{type(self).__name__} {self.unique_id}>"

    def remove(self) -> None:
        """Remove this cell from the model (no death release)."""
        self.model.remove_cells(type(self), [self.unique_id])

    def step(self) -> None:
        """Array-backed cells advance in whole-population kernels inside ``TissueModel.step``."""
