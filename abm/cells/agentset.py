"""A Mesa ``AgentSet`` over array-backed populations (plus any ordinary Mesa agents).

Mesa's own AgentSet keeps weak references to agent objects, so an agent that
leaves the model (and is no longer referenced) leaves every set. Array-backed
cells have no lasting objects (a view is made when asked for), so this
subclass stores *which* agents it holds, as keys (a type code and a unique id
per array-backed cell, a weak reference per ordinary agent), and checks each
key against the populations whenever it is read: a cell that died, or changed
cell type, has left every set at once. A set never returns another cell's row.

Two kinds of set:

* a **based** set (``model.agents``, ``model.agents_by_type[T]`` of a cell
  type) follows the model: every living cell of its types (and, for
  ``model.agents``, every ordinary agent), in id order. After an in-place
  operation (``shuffle``/``sort``/``select`` with ``inplace=True``, ``add``,
  ``remove``, ...) it keeps the order and membership that operation gave to the
  agents present then, and still takes in agents born later (appended, as Mesa's
  ``model.agents`` does);
* an **explicit** set (the result of ``select``, ``shuffle``, ``sort``,
  ``groupby``, set algebra, ``create_agents``) holds the agents it was made with,
  minus those that have left the model.

``len``, ``agg`` and ``get`` of a stored column (a phenotype variable, ``state``,
``pos``, ...) read the arrays directly; everything else iterates views, as Mesa
iterates agents (Python speed: fine for thousands of agents, slow for millions).
"""

from __future__ import annotations

import operator
import weakref
from collections import defaultdict

import mesa
import numpy as np
from mesa.agent import AgentSet, GroupBy

from kernels.backend import to_numpy

from .mesa_hooks import ordinary_agents
from .types import LatticeCell

__all__ = ["CellAgentSet"]

_NONE = np.zeros(0, np.int64)


class _Keys:
    """Members in order: type code per member (-1: ordinary agent) and id or ref index."""

    __slots__ = ("tc", "uid", "refs")

    def __init__(self, tc=_NONE, uid=_NONE, refs=()):
        self.tc = np.asarray(tc, np.int64)
        self.uid = np.asarray(uid, np.int64)
        self.refs = list(refs)

    def __len__(self):
        return int(self.tc.shape[0])

    def take(self, mask) -> _Keys:
        return _Keys(self.tc[mask], self.uid[mask], self.refs)

    @staticmethod
    def concat(parts) -> _Keys:
        refs, tcs, uids = [], [], []
        for p in parts:
            uid = p.uid.copy()
            uid[p.tc < 0] += len(refs)
            refs.extend(p.refs)
            tcs.append(p.tc)
            uids.append(uid)
        if not tcs:
            return _Keys()
        return _Keys(np.concatenate(tcs), np.concatenate(uids), refs)


class CellAgentSet(AgentSet):
    """Agents of a TissueModel: array-backed cells and ordinary Mesa agents, as Mesa's AgentSet.

    Parameters
    ----------
    model : TissueModel
    agents : iterable of agents, optional
        Members of an explicit set, in order.
    base : sequence of LatticeCell subclasses, optional
        Makes a based set over the living cells of these types (see the module docs).
    base_others : bool
        A based set also holds every ordinary Mesa agent of the model.
    """

    def __init__(self, model, agents=(), *, base=None, base_others=False):  # noqa: D107
        self.model = model
        self._base = None if base is None else tuple(model._type_code[c] for c in base)
        self._base_others = bool(base_others)
        self._known = None          # a based set's keys when it was last changed in place
        self._keys = None if base is not None else self._keys_of(agents)

    @property
    def random(self):
        """The model's ``random.Random`` (shuffles draw from it, as Mesa's sets do)."""
        return self.model.random

    # -------------------------------------------------------------- keys
    def _keys_of(self, agents) -> _Keys:
        code = self.model._type_code
        tc, uid, refs = [], [], []
        seen = set()
        for a in agents:
            if isinstance(a, LatticeCell):
                key = (code[type(a)], a.unique_id)
            elif isinstance(a, mesa.Agent):
                key = ("ref", id(a))
            else:
                raise TypeError(f"an agent set holds Mesa agents, got {a!r}")
            if key in seen:
                continue
            seen.add(key)
            if key[0] == "ref":
                tc.append(-1)
                uid.append(len(refs))
                refs.append(weakref.ref(a))
            else:
                tc.append(key[0])
                uid.append(key[1])
        return _Keys(np.asarray(tc, np.int64), np.asarray(uid, np.int64), refs)

    def _alive(self, keys: _Keys) -> np.ndarray:
        """Which keys are members still in the model (cells) or still referenced (ordinary)."""
        ok = np.zeros(len(keys), bool)
        for c in np.unique(keys.tc).tolist():
            sel = keys.tc == c
            if c < 0:
                ok[sel] = [keys.refs[i]() is not None for i in keys.uid[sel].tolist()]
                continue
            ids = self.model._ids_of(c)
            u = keys.uid[sel]
            if ids.shape[0]:
                r = np.minimum(np.searchsorted(ids, u), ids.shape[0] - 1)
                ok[sel] = ids[r] == u
        return ok

    def _base_keys(self) -> _Keys:
        """The based set's members: its types' living cells and ordinary agents, by id."""
        parts = [_Keys(np.full(len(ids := self.model._ids_of(c)), c, np.int64), ids)
                 for c in self._base]
        order_ids = [p.uid for p in parts]
        if self._base_others:
            others = list(ordinary_agents(self.model))
            parts.append(_Keys(np.full(len(others), -1, np.int64), np.arange(len(others)),
                               [weakref.ref(a) for a in others]))
            order_ids.append(np.asarray([a.unique_id for a in others], np.int64))
        keys = _Keys.concat(parts)
        if len(parts) > 1 and len(keys):
            # one id counter for cells and ordinary agents: id order is Mesa's order of
            # registration (a cell that changed type keeps its id, and its place)
            keys = keys.take(np.argsort(np.concatenate(order_ids), kind="stable"))
        return keys

    def _current(self) -> _Keys:
        """The live members, in order."""
        if self._base is None:
            keys = self._keys.take(self._alive(self._keys))
            self._keys = keys if len(keys) != len(self._keys) else self._keys
            return keys
        base = self._base_keys()
        if self._known is None:
            return base
        kept = self._keys.take(self._alive(self._keys))
        return _Keys.concat([kept, base.take(~_member(base, self._known))])

    def _set_keys(self, keys: _Keys) -> CellAgentSet:
        """Change this set in place (a based set remembers who was present)."""
        if self._base is not None and self._known is None:
            self._known = self._base_keys()
        elif self._base is not None:
            self._known = _Keys.concat([self._known, self._base_keys()])
        self._keys = keys
        return self

    def _agent(self, keys: _Keys, i: int):
        c = int(keys.tc[i])
        if c < 0:
            return keys.refs[int(keys.uid[i])]()
        return self.model._type_list[c]._view(self.model, int(keys.uid[i]))

    def _still_here(self, keys: _Keys, i: int, agent) -> bool:
        if agent is None:
            return False
        if int(keys.tc[i]) >= 0:
            return agent.alive
        return True

    def _agents_live(self, keys: _Keys | None = None):
        """Iterate the members, skipping any that left earlier in the same loop (as Mesa)."""
        keys = self._current() if keys is None else keys
        for i in range(len(keys)):
            a = self._agent(keys, i)
            if self._still_here(keys, i, a):
                yield a

    def _new(self, keys: _Keys) -> CellAgentSet:
        out = CellAgentSet(self.model)
        out._keys = keys
        return out

    # -------------------------------------------------------------- basics
    def __len__(self) -> int:
        return len(self._current())

    def __iter__(self):
        return self._agents_live()

    def __contains__(self, agent) -> bool:
        if isinstance(agent, LatticeCell):
            c = self.model._type_code.get(type(agent))
            if c is None or agent.model is not self.model or not agent.alive:
                return False
            probe = _Keys([c], [agent.unique_id])
        elif isinstance(agent, mesa.Agent):
            probe = _Keys([-1], [0], [weakref.ref(agent)])
        else:
            return False
        return bool(_member(probe, self._current())[0])

    def __getitem__(self, item):
        return list(self)[item]

    def _from_iterable(self, it):
        """Set algebra (``&``, ``|``, ``-``, ``^``) gives a new explicit set of the same model."""
        return CellAgentSet(self.model, it)

    def __copy__(self):
        return self._new(self._current())

    # ------------------------------------------------------------ columns
    def _column(self, keys: _Keys, attr: str):
        """Values of a stored column for every key, or None when some member has no such column."""
        if len(keys) and (keys.tc < 0).any():
            return None
        parts = {}
        for c in np.unique(keys.tc).tolist():
            cls = self.model._type_list[c]
            pop = self.model.populations[cls.cell_type]
            if attr not in pop.columns or attr in ("id",) or _shadowed(cls, attr):
                return None
            parts[c] = pop
        if not parts:
            return []
        out = [None] * len(keys)
        for c, pop in parts.items():
            sel = np.flatnonzero(keys.tc == c)
            rows = np.searchsorted(to_numpy(pop.ids), keys.uid[sel])
            col = to_numpy(pop.columns[attr])[rows]
            if attr == "state" and pop.states:
                vals = [pop.states[int(i)] for i in col.tolist()]
            elif col.ndim == 2:
                vals = [tuple(r) for r in col.tolist()]
            else:
                vals = col.tolist()
            for i, v in zip(sel.tolist(), vals):
                out[i] = v
        return out

    # ------------------------------------------------------------ Mesa API
    def select(self, filter_func=None, at_most=float("inf"), inplace=False, agent_type=None):
        """Agents passing ``filter_func`` and of ``agent_type``, at most ``at_most`` (as in Mesa)."""
        keys = self._current()
        if filter_func is None and agent_type is None and at_most == float("inf"):
            return self if inplace else self._new(keys)
        if at_most <= 1.0 and isinstance(at_most, float):
            at_most = int(len(keys) * at_most)
        if agent_type is not None:
            types = self.model._type_list
            keep = np.array([issubclass(types[c], agent_type) if c >= 0 else
                             isinstance(keys.refs[u](), agent_type)
                             for c, u in zip(keys.tc.tolist(), keys.uid.tolist())], bool)
            keys = keys.take(keep) if len(keys) else keys
        if filter_func is not None or at_most < len(keys):
            keep = np.zeros(len(keys), bool)
            count = 0
            for i in range(len(keys)):
                if count >= at_most:
                    break
                a = self._agent(keys, i)
                if self._still_here(keys, i, a) and (filter_func is None or filter_func(a)):
                    keep[i] = True
                    count += 1
            keys = keys.take(keep)
        return self._set_keys(keys) if inplace else self._new(keys)

    def shuffle(self, inplace=False):
        """The agents in a random order (drawn from ``model.random``, as Mesa draws it)."""
        keys = self._current()
        order = list(range(len(keys)))
        self.random.shuffle(order)
        keys = keys.take(np.asarray(order, np.int64))
        return self._set_keys(keys) if inplace else self._new(keys)

    def sort(self, key, ascending=False, inplace=False):
        """The agents sorted by ``key`` (attribute name or function)."""
        if isinstance(key, str):
            key = operator.attrgetter(key)
        keys = self._current()
        agents = list(self._agents_live(keys))
        keys = self._keys_of(sorted(agents, key=key, reverse=not ascending))
        return self._set_keys(keys) if inplace else self._new(keys)

    def _update(self, agents):
        return self._set_keys(self._keys_of(agents))

    def do(self, method, *args, **kwargs):
        """Call ``method`` (name or function) on every agent; returns the set."""
        self.map(method, *args, **kwargs)
        return self

    def shuffle_do(self, method, *args, **kwargs):
        """``do`` in a random order (agents removed earlier in the loop are skipped)."""
        keys = self._current()
        order = list(range(len(keys)))
        self.random.shuffle(order)
        _call_all(self._agents_live(keys.take(np.asarray(order, np.int64))), method, args, kwargs)
        return self

    def map(self, method, *args, **kwargs):
        """Results of calling ``method`` on every agent, as a list."""
        return _call_all(self._agents_live(), method, args, kwargs)

    def agg(self, attribute: str, func):
        """``func`` (or each of several functions) applied to the values of ``attribute``."""
        values = self.get(attribute)
        if callable(func):
            return func(values)
        return [f(values) for f in func]

    def get(self, attr_names, handle_missing="error", default_value=None):
        """Values of one attribute (a list) or of several (a list of lists), as in Mesa."""
        if handle_missing not in ("error", "default"):
            raise ValueError(f"Unknown handle_missing option: {handle_missing}, "
                             "should be one of 'error' or 'default'")
        single = isinstance(attr_names, str)
        names = [attr_names] if single else list(attr_names)
        keys = self._current()
        cols = [self._column(keys, n) for n in names]
        if all(c is not None for c in cols):
            return cols[0] if single else [list(r) for r in zip(*cols)]
        agents = list(self._agents_live(keys))
        if handle_missing == "error":
            rows = [[getattr(a, n) for n in names] for a in agents]
        else:
            rows = [[getattr(a, n, default_value) for n in names] for a in agents]
        return [r[0] for r in rows] if single else rows

    def set(self, attr_name: str, value):
        """Set ``attr_name`` to ``value`` on every agent (array-backed: into the column)."""
        for a in self:
            setattr(a, attr_name, value)
        return self

    def add(self, agent):
        """Add an agent (a cell already in the model, or an ordinary Mesa agent)."""
        new = self._keys_of([agent])
        if agent in self:
            return
        self._set_keys(_Keys.concat([self._current(), new]))

    def discard(self, agent):
        """Drop an agent from the set if it is there (the agent stays in the model)."""
        if agent not in self:
            return
        keys = self._current()
        self._set_keys(keys.take(~_member(keys, self._keys_of([agent]))))

    def remove(self, agent):
        """As :meth:`discard`, but an agent not in the set raises KeyError (as in Mesa)."""
        if agent not in self:
            raise KeyError(agent)
        self.discard(agent)

    def clear(self):
        """Empty the set (the agents stay in the model)."""
        self._set_keys(_Keys())

    def groupby(self, by, result_type="agentset"):
        """Group agents by an attribute name or function (as in Mesa)."""
        key = operator.attrgetter(by) if isinstance(by, str) else by
        groups = defaultdict(list)
        for a in self:
            groups[key(a)].append(a)
        if result_type == "agentset":
            return GroupBy({k: CellAgentSet(self.model, v) for k, v in groups.items()})
        return GroupBy(dict(groups))

    def __getstate__(self):
        def plain(keys):
            if keys is None:
                return None
            return (keys.tc, keys.uid, [r() for r in keys.refs])
        return {"model": self.model, "base": self._base, "base_others": self._base_others,
                "keys": plain(None if self._keys is None else self._current()
                              if self._base is None else self._keys),
                "known": plain(self._known)}

    def __setstate__(self, state):
        def keys(k):
            if k is None:
                return None
            tc, uid, objs = k
            # an ordinary agent that nobody else holds is gone, as in Mesa's AgentSet
            return _Keys(tc, uid, [weakref.ref(o) if o is not None else _dead for o in objs])
        self.model = state["model"]
        self._base, self._base_others = state["base"], state["base_others"]
        self._keys, self._known = keys(state["keys"]), keys(state["known"])


def _dead():
    return None


def _member(keys: _Keys, among: _Keys) -> np.ndarray:
    """Which of ``keys`` are in ``among`` (cells by type and id, ordinary agents by identity)."""
    out = np.zeros(len(keys), bool)
    cells = keys.tc >= 0
    if cells.any() and len(among):
        c_among = among.tc >= 0
        a = among.tc[c_among] * (1 << 40) + among.uid[c_among]
        out[cells] = np.isin(keys.tc[cells] * (1 << 40) + keys.uid[cells], a)
    if (~cells).any():
        ids = {id(o) for i in among.uid[among.tc < 0].tolist() if (o := among.refs[i]()) is not None}
        out[~cells] = [id(keys.refs[i]()) in ids for i in keys.uid[~cells].tolist()]
    return out


def _shadowed(cls, attr: str) -> bool:
    """True when the class defines ``attr`` itself (a property or method of a subclass)."""
    return any(attr in k.__dict__ for k in cls.__mro__ if k not in (LatticeCell, mesa.Agent, object))


def _call_all(agents, method, args, kwargs) -> list:
    if isinstance(method, str):
        return [getattr(a, method)(*args, **kwargs) for a in agents]
    return [method(a, *args, **kwargs) for a in agents]
