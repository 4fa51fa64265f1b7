"""A small scenario for the delivery tests, and an independent reader of seeds/delivery.csv."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from abm.scenario import load_scenario_text

ROOT = Path(__file__).resolve().parents[2]

#: 20 x 20 x 20 voxels of 20 um; a core sphere (r 100 um) painted at t = 0; a penumbra
#: shell painted by an injury at 30 min.
BASE = """\
name: delivery
domain: {extent: [400 um, 400 um, 400 um], voxel: 20 um, dt: 10 min, duration: DURATION, seed: SEED}
tissue:
  labels:
    - {name: core, region: {shape: sphere, center: [200 um, 200 um, 200 um], radius: 100 um}}
    - {name: penumbra, initially: false}
fields:
  exosome: {unit: 1e9 particles/mL, diffusion: 0 um^2/s}
cell_types:
  Graft:
    states: [A, B]
    parameters: {speed: 0 um/min}
populations: []
events:
  - at: 30 min
    injury: {region: {shape: shell, center: [200 um, 200 um, 200 um], inner_radius: 100 um, outer_radius: 140 um}, label: penumbra}
EVENTS
outputs:
  readout_every: 10 min
  snapshot_every: SNAP
  checkpoint_every: SNAP
  readouts: [count Graft, count Graft in core, count Graft in penumbra, count Graft A, total exosome]
"""


def scenario_text(events: str, duration="4 d", seed=7, snap="1 d") -> str:
    """The base scenario with ``events`` (YAML lines of list items) appended."""
    return (BASE.replace("EVENTS", events).replace("DURATION", duration)
            .replace("SEED", str(seed)).replace("SNAP", snap))


def load(events: str, **kw):
    """The resolved base scenario with ``events``."""
    return load_scenario_text(scenario_text(events, **kw), name="delivery.yaml")


def seeds_row(name: str) -> float:
    """A value of seeds/delivery.csv read with the csv module (not the package's reader)."""
    with open(ROOT / "seeds" / "delivery.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["parameter"] == name:
                return float(row["value"])
    raise KeyError(name)


def voxel_centres(n=20, dx=20.0):
    """Voxel centre coordinates (um), three (n, n, n) arrays."""
    c = (np.arange(n) + 0.5) * dx
    return np.meshgrid(c, c, c, indexing="ij")


def sphere_voxels(radius, centre=(200.0, 200.0, 200.0)) -> int:
    """Voxel centres within ``radius`` (um) of ``centre``, counted by hand."""
    x, y, z = voxel_centres()
    r2 = (x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2
    return int(np.count_nonzero(r2 <= radius ** 2))


def injection_events(sc):
    """The scenario's injection placements, in time order."""
    return [e for e in sc.events if e.kind == "injection"]
