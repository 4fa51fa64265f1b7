"""Tiny scenarios and trial files for the trial tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

#: A 8 x 8 x 4 voxel piece of tissue, 2 min steps: a run of a few simulated hours takes well
#: under a second. The treated arm gets an injection of BMSCs; the control does not.
SCENARIO = """\
name: trialtiny
domain: {{extent: [200 um, 200 um, 100 um], voxel: 25 um, dt: 2 min, duration: {duration}, seed: 1}}
fields: {{SDF-1a: {{}}}}
cell_types: {{BMSC: {{}}}}
arms:
  treated: {{}}
  control: {{without: [cells]}}
events:
  - {{name: cells, at: 10 min, injection: {{cell_type: BMSC, dose: 20 cells, route: local,
     target: {{shape: sphere, center: [100 um, 100 um, 50 um], radius: 50 um}}}}}}
  - {{at: 0 min, bolus: {{field: SDF-1a, amount: 1 ng, region: all}}}}
outputs:
  readout_every: 10 min
  checkpoint_every: 20 min
  readouts: [count BMSC, total SDF-1a]
"""

TRIAL = """\
trial:
  name: tiny
  scenario: tiny.yaml
  seed: 7
  animals: {animals}
  arms:
    treated: {{set: [arm=treated]}}
    control: {{set: [arm=control]}}
  variability:
    events.0.injection.dose: {{lognormal: {{mean: 20 cells, cv: 0.3}}, whole: true}}
  outcomes:
    - {{readout: count BMSC, at: 30 min}}
    - {{readout: total SDF-1a}}
"""


def write_trial(folder, *, duration="1 h", animals=4, trial=None, extra="") -> Path:
    """Write ``tiny.yaml`` and ``trial.yaml`` into ``folder``; returns the trial file.

    ``trial`` replaces the whole trial text; ``extra`` (keys of ``trial:``) is appended.
    """
    (folder / "tiny.yaml").write_text(SCENARIO.format(duration=duration))
    text = (trial or TRIAL.format(animals=animals)) + textwrap.indent(textwrap.dedent(extra), "  ")
    path = folder / "trial.yaml"
    path.write_text(text)
    return path
