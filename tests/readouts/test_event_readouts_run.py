"""Event readouts, markers and ratios in a scenario.

Loading, line-precise errors, and a resumed run that records exactly what an uninterrupted
one does.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.cli import main
from abm.errors import ModelInputError
from abm.runfile import open_run
from abm.scenario import load_scenario_text

SCENARIO = """
name: windows
domain:
  extent: [200 um, 200 um, 200 um]
  voxel: 20 um
  dt: 1 min
  duration: {duration}
  seed: 11
  capacity: 4
tissue:
  labels:
    - name: svz
      region: {{shape: box, lower: [0 um, 0 um, 0 um], upper: [200 um, 100 um, 200 um]}}
fields:
  VEGF: {{}}
cell_types:
  NeuralProgenitor:
    parameters: {{speed: 0.5 um/min, division: 0.004 1/min, death: 0.002 1/min}}
  Microglia:
    parameters: {{speed: 0 um/min, death: 0.001 1/min, transition:M0->M1: 0.01 1/min,
                 transition:M0->M2: 0.005 1/min}}
populations:
  - {{cell_type: NeuralProgenitor, region: all, count: 600 cells}}
  - {{cell_type: Microglia, region: all, count: 400 cells, state: M0}}
events:
  - at: 20 min
    pulse: {{marker: BrdU, duration: 30 min}}
outputs:
  snapshot_every: 40 min
  checkpoint_every: 40 min
  readout_every: 5 min
  readouts:
    - count NeuralProgenitor marked BrdU
    - count NeuralProgenitor marked BrdU in svz
    - divisions NeuralProgenitor in svz over 30 min
    - divisions NeuralProgenitor over 2 h
    - deaths Microglia M1 over 30 min
    - deaths NeuralProgenitor over 20 min
    - cycling NeuralProgenitor over 1 h
    - ratio count Microglia M1 in svz / count Microglia M2 in svz
"""


def scenario(tmp_path, duration="40 min", name="w.yaml"):
    p = tmp_path / name
    p.write_text(SCENARIO.format(duration=duration))
    return p


def test_a_resumed_run_records_the_same_window_readouts_as_an_uninterrupted_one(tmp_path):
    scen = scenario(tmp_path)
    long = tmp_path / "long.h5"
    assert main(["run", str(scen), "--out", str(long), "--quiet", "--until", "80 min"]) == 0
    short = tmp_path / "short.h5"
    assert main(["run", str(scen), "--out", str(short), "--quiet"]) == 0
    assert main(["resume", str(short), "--quiet", "--until", "80 min"]) == 0
    with open_run(long) as a, open_run(short) as b:
        ra, rb = a.readouts(), b.readouts()
        ck = b.checkpoint()["state"]
        units = b.readout_units
    assert set(ra) == set(rb)
    for k in ra:
        assert np.array_equal(ra[k], rb[k], equal_nan=True), k
    # the resume point (40 min) lies inside the windows and after the pulse: the log and the
    # markers came back from the checkpoint, and the readouts saw real events
    assert "event_log" in ck and list(ck["markers"]["names"]) == ["BrdU"]
    t = ra["time_min"]
    after = t > 40
    assert ra["count NeuralProgenitor marked BrdU"][after].min() > 0
    assert ra["divisions NeuralProgenitor over 2 h"][after].min() > 0
    assert ra["deaths NeuralProgenitor over 20 min"][after].max() > 0
    assert ra["count NeuralProgenitor marked BrdU"][t < 20].max() == 0     # before the pulse
    assert units["ratio count Microglia M1 in svz / count Microglia M2 in svz"] == "1"
    assert units["divisions NeuralProgenitor over 2 h"] == "cells"


@pytest.mark.parametrize("old, new, message", [
    ("    - deaths Microglia M1 over 30 min", "    - deaths Microglia M3 over 30 min",
     "Microglia has no state 'M3'"),
    ("    - count NeuralProgenitor marked BrdU in svz", "    - count NeuralProgenitor marked Brdu",
     "no pulse declares the marker 'Brdu' (did you mean 'BrdU'?)"),
    ("    - cycling NeuralProgenitor over 1 h", "    - cycling NeuralProgenitor",
     "add 'over <duration>'"),
    ("    pulse: {{marker: BrdU, duration: 30 min}}", "    pulse: {{marker: BrdU, duration: 30}}",
     "give a unit"),
    ("    pulse: {{marker: BrdU, duration: 30 min}}",
     "    pulse: {{marker: Brd U, duration: 30 min}}", "must be one word"),
])
def test_scenario_problems_are_line_precise(tmp_path, old, new, message):
    text = SCENARIO.replace(old, new).format(duration="40 min")
    assert text != SCENARIO.format(duration="40 min")
    line = text.splitlines().index(new.format()) + 1
    with pytest.raises(ModelInputError) as ei:
        load_scenario_text(text, name="w.yaml")
    msg = str(ei.value)
    assert f"w.yaml, line {line}" in msg and message in msg, msg


def test_without_a_pulse_there_is_no_marker_column(tmp_path):
    from abm.run.runner import build_model, place_populations  # noqa: PLC0415

    text = SCENARIO.format(duration="40 min")
    text = text.replace("events:\n  - at: 20 min\n    pulse: {marker: BrdU, duration: 30 min}\n",
                        "")
    text = text.replace("    - count NeuralProgenitor marked BrdU\n", "")
    text = text.replace("    - count NeuralProgenitor marked BrdU in svz\n", "")
    sc = load_scenario_text(text, name="w.yaml")
    m = build_model(sc)
    place_populations(m, sc)
    assert not any(c.startswith("marker:") for p in m.populations.values() for c in p.columns)
    assert "markers" not in m.get_state()
