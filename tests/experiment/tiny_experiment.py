"""A tiny two-arm experiment (a 200 x 200 x 100 um box, 1 h) shared by the experiment tests."""

from pathlib import Path

TEXT = """\
name: tinyexp
domain: {extent: [200 um, 200 um, 100 um], voxel: 25 um, dt: 2 min, duration: 1 h, seed: 1}
fields: {SDF-1a: {}}
cell_types: {BMSC: {}}
arms:
  treated: {}
  control: {without: [cells]}
events:
  - {name: cells, at: 10 min, injection: {cell_type: BMSC, dose: 20 cells, route: local,
     target: {shape: sphere, center: [100 um, 100 um, 50 um], radius: 50 um}}}
  - {at: 0 min, bolus: {field: SDF-1a, amount: 1 ng, region: all}}
outputs:
  readout_every: 10 min
  readouts: [count BMSC, total SDF-1a]
reported:
  - {readout: count BMSC, at: 30 min, expect: treated > control, source: "a test"}
  - {readout: total SDF-1a, expect: treated < control, source: "a test"}
"""


def write(folder, text: str = TEXT, name: str = "tinyexp.yaml") -> Path:
    """Write the scenario into ``folder`` and return its path."""
    path = Path(folder) / name
    path.write_text(text)
    return path
