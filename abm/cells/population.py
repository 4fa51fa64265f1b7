"""Struct-of-arrays storage of one cell type's agents on the active backend.

A :class:`Population` holds one array per attribute (a "column"), one row per
living agent. Rows are kept sorted by the agents' unique id, so finding an
agent's row is a binary search and every whole-population operation visits
agents in the same order on every backend. This is the only copy of the
agents' state; the Mesa agent objects are views onto these rows.
"""

from __future__ import annotations

import numpy as np

from kernels import xp_ops

__all__ = ["Population", "CORE_COLUMNS"]

#: Columns every population has: name -> (dtype, trailing shape, meaning [unit]).
CORE_COLUMNS = {
    "id": (np.int64, (), "unique id (shared counter with every Mesa agent of the model)"),
    "pos": (np.int32, (3,), "voxel (x, y, z)"),
    "lineage": (np.int64, (), "id of the founding cell of this clone"),
    "parent": (np.int64, (), "id of the mother (-1 for seeded cells)"),
    "generation": (np.int32, (), "divisions since the founder"),
    "born": (np.float64, (), "time of birth or seeding [min]"),
    "last_division": (np.float64, (), "time of the last division or birth [min]"),
    "last_differentiation": (np.float64, (), "time of the last change of cell type [min]"),
    "last_transition": (np.float64, (), "time of the last phenotype-state change [min]"),
}


class Population:
    """The agents of one cell type as columns of backend arrays.

    Parameters
    ----------
    name : str
        Cell type name.
    xp : module
        numpy or cupy.
    states : tuple of str
        Discrete phenotype states (column ``state`` holds the index), or ``()``.
    variables : tuple of str
        Continuous phenotype variables (one float64 column each).
    """

    def __init__(self, name: str, xp, states=(), variables=()):
        self.name = name
        self.xp = xp
        self.states = tuple(states)
        self.variables = tuple(variables)
        self.spec = dict(CORE_COLUMNS)
        if self.states:
            self.spec["state"] = (np.int8, (), f"phenotype state index into {self.states}")
        for v in self.variables:
            self.spec[v] = (np.float64, (), f"phenotype variable {v}")
        self.columns = {k: xp.zeros((0,) + shp, dtype=dt) for k, (dt, shp, _) in self.spec.items()}
        #: Whether this population has ever held a cell (Mesa lists a type in
        #: ``agents_by_type`` from its first agent on, also after all have gone).
        self.had_cells = False

    def __len__(self) -> int:
        return int(self.columns["id"].shape[0])

    @property
    def ids(self):
        """Unique ids, ascending."""
        return self.columns["id"]

    @property
    def pos(self):
        """Voxel positions, (n, 3) int32."""
        return self.columns["pos"]

    def append(self, values: dict) -> None:
        """Append rows; ``values`` maps every column to an array of the new rows.

        Rows stay sorted by id: new ids are usually larger than all present
        ones; when they are not (a cell that differentiated into this type
        keeps its id) the population is re-sorted, stably.
        """
        xp = self.xp
        n_new = int(values["id"].shape[0])
        if n_new == 0:
            return
        self.had_cells = True
        missing = set(self.spec) - set(values)
        for k in sorted(m for m in missing if m.startswith("marker:")):
            values = {**values, k: xp.zeros(n_new, dtype=self.spec[k][0])}  # unmarked
            missing.discard(k)
        if missing:
            raise KeyError(f"new rows lack columns {sorted(missing)}")
        need_sort = len(self) > 0 and bool(values["id"].min() < self.columns["id"][-1])
        for k, (dt, shp, _) in self.spec.items():
            new = xp.asarray(values[k], dtype=dt).reshape((n_new,) + shp)
            self.columns[k] = xp.concatenate([self.columns[k], new])
        if need_sort or (n_new > 1 and bool((xp.diff(values["id"]) < 0).any())):
            order = xp_ops.argsort_stable(xp, self.columns["id"])
            self.take(order)

    def add_column(self, name: str, dtype, meaning: str) -> None:
        """Add a column (zeros for the present rows), e.g. a marker (:mod:`abm.cells.markers`).

        New rows given without a ``marker:*`` column get it unset (zeros).
        """
        self.spec[name] = (dtype, (), meaning)
        self.columns[name] = self.xp.zeros(len(self), dtype=dtype)

    def take(self, rows) -> None:
        """Keep only ``rows`` (index or boolean array), in that order."""
        for k in self.columns:
            self.columns[k] = self.columns[k][rows]

    def extract(self, rows) -> dict:
        """Copies of the columns at ``rows``."""
        return {k: c[rows] for k, c in self.columns.items()}

    def row_of(self, uid: int) -> int | None:
        """Row of the agent with unique id ``uid``, or None if it is not in this population."""
        ids = self.columns["id"]
        n = ids.shape[0]
        if n == 0:
            return None
        r = int(self.xp.searchsorted(ids, uid))
        if r < n and int(ids[r]) == uid:
            return r
        return None
