"""A piece of biology that exists only in the test suite (issue 10, item 1).

Registered the way a lab's own module would, with no edit to the package:

* a cell type, ``Resorber`` (osteoclast-like: states ``resting``/``resorbing``, declared
  colours);
* a tissue process, ``mineral_loss``: the per-voxel mineral fraction ``mineral`` falls
  as ``dm/dt = -k n m`` where ``n`` is the number of *resorbing* Resorbers in the voxel,
  so a voxel holding ``n`` of them for ``t`` minutes keeps ``exp(-k n t)``;
* an event kind, ``activate``: every Resorber in a region turns ``resorbing``;
* a readout kind, ``mineral_lost``: ``sum(1 - m)`` over the lattice times the voxel
  volume, µm³ of mineral resorbed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from abm import units as U
from abm.cells import LatticeCell
from abm.events import EventKind
from abm.readouts import Readout, ReadoutKind
from abm.registry import CELL_TYPES, EVENT_KINDS, PROCESSES, READOUT_KINDS
from abm.scenario.quantities import RegionRef, SchemaModel
from abm.tissue import TissueProcess

RESORBER_COLOUR = "#00ff00"


class Resorber(LatticeCell):
    """A bone-resorbing cell that does nothing until activated (test type)."""

    states = ("resting", "resorbing")
    colour = RESORBER_COLOUR
    state_colours = {"resting": RESORBER_COLOUR, "resorbing": RESORBER_COLOUR}


class MineralLoss(TissueProcess):
    """Mineral resorbed by the resorbing Resorbers of each voxel (test process)."""

    name = "mineral_loss"
    states = {"mineral": (1.0, "1")}
    parameters = {"rate": (0.0, U.RATE)}

    def step(self, model, states, dt):
        xp = model.xp
        pop = model.populations["Resorber"]
        active = pop.columns["state"] == Resorber.states.index("resorbing")
        pos = pop.pos[active]
        flat = (pos[:, 0].astype(np.int64) * model.shape[1] + pos[:, 1]) * model.shape[2] + pos[:, 2]
        n = xp.bincount(flat, minlength=model.n_voxels).astype(np.float64)
        states["mineral"] *= xp.exp(-self.p["rate"] * n * dt)


class _ActivateSchema(SchemaModel):
    region: RegionRef


@dataclass(frozen=True)
class ActivateSpec:
    """Where Resorbers are switched on."""

    region: object


class Activate(EventKind):
    """Turn every Resorber in a region to its resorbing state (test event)."""

    name = "activate"
    schema = _ActivateSchema

    def resolve(self, raw, ctx):
        return ActivateSpec(ctx.sub(("region",), ctx.region, raw.region))

    def describe(self, spec):
        return f"Resorbers in {spec.region.describe()} start resorbing"

    def fire(self, spec, model, ctx):
        pop = model.populations["Resorber"]
        mask = model.xp.asarray(ctx.mask(spec.region))
        p = pop.pos
        inside = mask[p[:, 0], p[:, 1], p[:, 2]]
        st = pop.columns["state"]
        pop.columns["state"] = model.xp.where(inside, np.int8(1), st).astype(st.dtype)


class MineralLost(ReadoutKind):
    """Mineral resorbed so far, µm³ (test readout)."""

    name = "mineral_lost"
    grammar = "mineral_lost"
    takes_label = False

    def parse(self, text, args, label, ctx):
        self.arity(text, args, 0, 0)
        return Readout(text, "mineral_lost", unit="um^3")

    def evaluate(self, spec, model, ctx):
        m = model.tissue_states["mineral"]
        return float((1.0 - m).sum()) * model.fields.voxel_volume


CELL_TYPES.register(Resorber)
PROCESSES.register(MineralLoss)
EVENT_KINDS.register(Activate())
READOUT_KINDS.register(MineralLost())
