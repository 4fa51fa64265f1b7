"""A Mesa ``AgentSet`` over array-backed populations (plus any ordinary Mesa agents).

Mesa's own AgentSet keeps weak references to agent objects. Array-backed cells
have no lasting objects (a view is made when asked for), so this subclass
stores *which* agents it holds (cell type and unique ids) and makes views while
iterating. ``len``, ``agg`` and ``get`` on a stored attribute read the arrays
directly and never make views; ``select``, ``do``, ``map``, ``sort``,
``shuffle`` and ``groupby`` iterate views like Mesa does (Python speed, fine
for thousands of agents, slow for millions).
"""

from __future__ import annotations

import builtins
import operator
from collections import defaultdict

import numpy as np
from mesa.agent import AgentSet, GroupBy

from kernels.backend import to_numpy

from .types import LatticeCell

__all__ = ["CellAgentSet"]

_FAST_AGG = {builtins.sum: np.sum, builtins.min: np.min, builtins.max: np.max, len: len}


class CellAgentSet(AgentSet):
    """Agents of a TissueModel: array-backed cell types and optional ordinary Mesa agents.

    Parameters
    ----------
    model : TissueModel
    types : sequence of LatticeCell subclasses
        Array-backed cell types in the set (all their living agents, unless ``ids``).
    ids : dict, optional
        Cell type name to a NumPy array of the unique ids in the set.
    others : list, optional
        Ordinary Mesa agents (slow path) in the set.
    ordered : list, optional
        An explicit order of views (the result of ``shuffle`` or ``sort``); overrides
        ``types``/``ids``.
    """

    def __init__(self, model, types=(), ids=None, others=None, ordered=None):  # noqa: D107
        self.model = model
        self.random = model.random
        self._types = tuple(types)
        self._ids = ids
        self._others = list(others or [])
        self._ordered = ordered

    # -------------------------------------------------------------- basics
    def _type_ids(self, cls):
        if self._ids is not None:
            return self._ids.get(cls.cell_type, np.zeros(0, np.int64))
        return to_numpy(self.model.populations[cls.cell_type].ids)

    def __len__(self) -> int:
        if self._ordered is not None:
            return len(self._ordered)
        if self._ids is None:
            n = sum(len(self.model.populations[c.cell_type]) for c in self._types)
        else:
            n = sum(len(v) for v in self._ids.values())
        return n + len(self._others)

    def __iter__(self):
        if self._ordered is not None:
            yield from self._ordered
            return
        for cls in self._types:
            view = cls._view
            for uid in self._type_ids(cls).tolist():
                yield view(self.model, uid)
        yield from list(self._others)

    def __contains__(self, agent) -> bool:
        if self._ordered is not None:
            return agent in self._ordered
        if isinstance(agent, LatticeCell):
            if agent.model is not self.model or not any(type(agent) is c for c in self._types):
                return False
            if self._ids is not None and agent.unique_id not in set(self._type_ids(type(agent)).tolist()):
                return False
            return agent.alive
        return agent in self._others

    def __getitem__(self, item):
        return list(self)[item]

    def _columns_available(self, attr: str) -> bool:
        return (self._ordered is None and not self._others and bool(self._types)
                and all(attr in self.model.populations[c.cell_type].columns
                        and not (attr == "state") for c in self._types))

    def _column(self, attr: str) -> np.ndarray:
        parts = []
        for cls in self._types:
            pop = self.model.populations[cls.cell_type]
            col = to_numpy(pop.columns[attr])
            if self._ids is not None:
                rows = np.searchsorted(to_numpy(pop.ids), self._type_ids(cls))
                col = col[rows]
            parts.append(col)
        return np.concatenate(parts) if parts else np.zeros(0)

    def _derive(self, keep):
        """A new set holding the agents of this one for which ``keep`` says True (order kept)."""
        ids = defaultdict(list)
        others, ordered = [], []
        for a in self:
            if not keep(a):
                continue
            if self._ordered is not None:
                ordered.append(a)
            elif isinstance(a, LatticeCell):
                ids[a.cell_type].append(a.unique_id)
            else:
                others.append(a)
        if self._ordered is not None:
            return CellAgentSet(self.model, ordered=ordered)
        return CellAgentSet(self.model, self._types,
                            {c.cell_type: np.asarray(ids.get(c.cell_type, []), np.int64)
                             for c in self._types}, others)

    def _become(self, other: CellAgentSet):
        self._types, self._ids = other._types, other._ids
        self._others, self._ordered = other._others, other._ordered
        return self

    # ------------------------------------------------------------ Mesa API
    def select(self, filter_func=None, at_most=float("inf"), inplace=False, agent_type=None):
        """Agents passing ``filter_func`` and of ``agent_type``, at most ``at_most`` (as in Mesa)."""
        if isinstance(at_most, float) and at_most <= 1.0:
            at_most = int(len(self) * at_most)
        count = [0]

        def keep(a):
            if count[0] >= at_most:
                return False
            if agent_type is not None and not isinstance(a, agent_type):
                return False
            if filter_func is not None and not filter_func(a):
                return False
            count[0] += 1
            return True

        if filter_func is None and agent_type is not None and at_most == float("inf") \
                and self._ordered is None:
            types = tuple(c for c in self._types if issubclass(c, agent_type))
            ids = None if self._ids is None else {c.cell_type: self._type_ids(c) for c in types}
            out = CellAgentSet(self.model, types, ids,
                               [a for a in self._others if isinstance(a, agent_type)])
        else:
            out = self._derive(keep)
        return self._become(out) if inplace else out

    def shuffle(self, inplace=False):
        """The agents in a random order (drawn from ``model.random``)."""
        order = list(self)
        self.random.shuffle(order)
        out = CellAgentSet(self.model, ordered=order)
        return self._become(out) if inplace else out

    def sort(self, key, ascending=False, inplace=False):
        """The agents sorted by ``key`` (attribute name or function)."""
        if isinstance(key, str):
            key = operator.attrgetter(key)
        out = CellAgentSet(self.model, ordered=sorted(self, key=key, reverse=not ascending))
        return self._become(out) if inplace else out

    def _update(self, agents):
        return self._become(CellAgentSet(self.model, ordered=list(agents)))

    def do(self, method, *args, **kwargs):
        """Call ``method`` (name or function) on every agent; returns the set."""
        self.map(method, *args, **kwargs)
        return self

    def shuffle_do(self, method, *args, **kwargs):
        """``do`` in a random order."""
        self.shuffle().do(method, *args, **kwargs)
        return self

    def map(self, method, *args, **kwargs):
        """Results of calling ``method`` on every agent, as a list."""
        if isinstance(method, str):
            return [getattr(a, method)(*args, **kwargs) for a in self]
        return [method(a, *args, **kwargs) for a in self]

    def agg(self, attribute: str, func):
        """``func`` applied to the values of ``attribute`` (read from the arrays when stored there)."""
        if self._columns_available(attribute):
            values = self._column(attribute)
            fast = _FAST_AGG.get(func)
            return fast(values) if fast is not None else func(values)
        return func([getattr(a, attribute) for a in self])

    def get(self, attr_names, handle_missing="error", default_value=None):
        """Values of one attribute (a list) or of several (a list of lists), as in Mesa."""
        single = isinstance(attr_names, str)
        names = [attr_names] if single else list(attr_names)
        if all(self._columns_available(n) for n in names):
            cols = []
            for n in names:
                c = self._column(n)
                cols.append([tuple(r) for r in c.tolist()] if c.ndim == 2 else c.tolist())
            return cols[0] if single else [list(r) for r in zip(*cols)]
        out = []
        for a in self:
            row = []
            for n in names:
                if handle_missing == "default":
                    try:
                        row.append(getattr(a, n))
                    except AttributeError:
                        row.append(default_value)
                else:
                    row.append(getattr(a, n))
            out.append(row[0] if single else row)
        return out

    def set(self, attr_name: str, value):
        """Set ``attr_name`` to ``value`` on every agent."""
        for a in self:
            setattr(a, attr_name, value)
        return self

    def add(self, agent):
        """Add an ordinary Mesa agent (array-backed cells join through their population)."""
        if isinstance(agent, LatticeCell):
            if type(agent) not in self._types and self._ordered is None:
                self._types += (type(agent),)
            return
        if self._ordered is not None:
            self._ordered.append(agent)
        elif agent not in self._others:
            self._others.append(agent)

    def discard(self, agent):
        """Drop an ordinary Mesa agent from the set (array-backed cells leave by dying)."""
        if self._ordered is not None:
            if agent in self._ordered:
                self._ordered.remove(agent)
        elif agent in self._others:
            self._others.remove(agent)

    def remove(self, agent):
        """As :meth:`discard`, but a missing ordinary agent raises KeyError."""
        if not isinstance(agent, LatticeCell) and agent not in self:
            raise KeyError(agent)
        self.discard(agent)

    def groupby(self, by, result_type="agentset"):
        """Group agents by an attribute name or function (as in Mesa)."""
        key = operator.attrgetter(by) if isinstance(by, str) else by
        groups = defaultdict(list)
        for a in self:
            groups[key(a)].append(a)
        if result_type == "agentset":
            return GroupBy({k: CellAgentSet(self.model, ordered=v) for k, v in groups.items()})
        return GroupBy(dict(groups))

    def __getstate__(self):
        return {"model": self.model, "types": self._types, "ids": self._ids,
                "others": self._others, "ordered": self._ordered}

    def __setstate__(self, state):
        self.__init__(state["model"], state["types"], state["ids"], state["others"],
                      state["ordered"])
