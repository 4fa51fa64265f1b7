"""The ``pulse`` event: which divisions it marks, and how it reads from a scenario."""

from __future__ import annotations

import numpy as np
import pytest

from abm.cells import LatticeCell, TissueModel
from abm.events import FireContext, PulseSpec, event_kind
from abm.registry import EVENT_KINDS
from abm.scenario import load_scenario_text


class Dividing(LatticeCell):
    """Divides fast, never dies or moves (a test type)."""

    parameters = {"speed": 0.0, "division": 0.03, "death": 0.0}


def ids_and_parents(m):
    p = m.populations["Dividing"]
    return dict(zip(np.asarray(p.ids).tolist(), np.asarray(p.columns["parent"]).tolist()))


@pytest.mark.parametrize("at, duration, marking_starts", [
    (5.0, 3.0, {5, 6, 7}),        # the steps starting at 5, 6 and 7 min
    (5.5, 3.0, {6, 7, 8}),        # fires at the start of step 6; marks up to 8.5 min
    (5.0, 0.2, {5}),              # shorter than a step: the step it fires in
])
def test_a_pulse_marks_exactly_the_divisions_of_its_steps(at, duration, marking_starts):
    m = TissueModel((6, 6, 6), 20.0, fields=("VEGF",), cell_types=[Dividing], seed=5, capacity=6)
    m.seed_cells("Dividing", 150)
    kind = event_kind("pulse")
    spec = PulseSpec("BrdU", duration)
    fired = False
    marked = set()
    for _ in range(14):
        s = m.time
        if not fired and s >= at - 1e-9:         # the runner fires at the first step start >= at
            kind.fire(spec, m, FireContext(m, at))
            fired = True
        before = ids_and_parents(m)
        m.step()
        after = ids_and_parents(m)
        new = [i for i in after if i not in before]
        if round(s) in marking_starts:
            marked |= set(new) | {after[i] for i in new}
        else:
            marked |= {i for i in new if after[i] in marked}
        p = m.populations["Dividing"]
        if "marker:BrdU" in p.columns:
            got = set(np.asarray(p.ids)[np.asarray(p.columns["marker:BrdU"])].tolist())
            assert got == marked, s
        else:
            assert not marked
    assert marked and len(marked) < len(m.populations["Dividing"])


def test_two_pulses_of_one_marker_add_up():
    m = TissueModel((6, 6, 6), 20.0, fields=("VEGF",), cell_types=[Dividing], seed=5, capacity=6)
    kind = event_kind("pulse")
    kind.fire(PulseSpec("EdU", 2.0), m, FireContext(m, 0.0))
    m.step()
    m.step()
    m.step()
    kind.fire(PulseSpec("EdU", 1.0), m, FireContext(m, 3.0))
    assert m.markers == ["EdU"]
    assert m.marker_pulses == [("EdU", 0.0, 2.0), ("EdU", 3.0, 4.0)]


def test_the_pulse_kind_is_registered_and_reads_from_a_scenario():
    assert "pulse" in EVENT_KINDS.builtin_names()
    text = """
name: p
domain: {extent: [100 um, 100 um, 100 um], voxel: 20 um, dt: 1 min, duration: 1 h, seed: 1}
fields: {VEGF: {}}
cell_types: {NeuralProgenitor: {}}
events:
  - {at: 10 min, pulse: {marker: BrdU, duration: 2 h}}
outputs:
  readouts: [count NeuralProgenitor marked BrdU]
"""
    sc = load_scenario_text(text, name="p.yaml")
    (ev,) = sc.events
    assert ev.kind == "pulse" and ev.time == 10.0
    assert ev.spec == PulseSpec("BrdU", 120.0)
    assert event_kind("pulse").describe(ev.spec) == "BrdU marks dividing cells for 120 min"
    assert sc.outputs.readouts[0].marker == "BrdU"
