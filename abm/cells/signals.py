"""The signals one population senses in a step, computed on first use.

A :class:`SignalTable` maps a signal name (as rules use it, see
:func:`abm.rules.signal_names`) to one float64 value per agent. A value is
computed the first time a phase asks for it and then kept for the rest of the
step, so a signal no rule reads costs nothing. Signals:

* ``<field>``: the field's concentration at the agent's voxel (field unit);
* ``density:<type>`` / ``contact:<type>``: cells of that type in the agent's voxel
  and its 6 face neighbours, not counting itself (cells) / whether there are any;
* ``tissue:<label>``: 1 where the agent's voxel has that tissue label, else 0;
* ``tissue_state:<state>``: a tissue process's state at the agent's voxel;
* ``state:<s>``: 1 where the agent is in phenotype state ``s``;
* ``var:<v>``: the agent's phenotype variable ``v``;
* ``age``, ``time``, ``time_since:<division|differentiation|transition>``: min.
"""

from __future__ import annotations

import numpy as np

from kernels import lattice as L
from kernels import xp_ops

__all__ = ["SignalTable"]


class SignalTable(dict):
    """Signals of one population, computed on first use in a step.

    Parameters
    ----------
    model : TissueModel
    name : str
        Cell type name.
    pop : Population
        Its agents.
    flat : int64 array (n,)
        Flat voxel of every agent when the step began.
    """

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
        elif key.startswith("tissue_state:"):
            v = m.tissue_states[key.split(":", 1)[1]][self.flat].astype(np.float64)
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
            grid = xp_ops.bincount(xp, L.flat_index(xp, opop.pos, m.shape), minlength=m.n_voxels)
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
