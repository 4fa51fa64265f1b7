"""The field engine's triggered depot: first-order release at a Hill rate of another field.

Generic engine law (no biology): checked on a bare FieldSolver against the closed form,
with a wall of impermeable voxels, and for its input errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm.errors import ModelInputError
from abm.fields import FieldSolver, Species, TissueClass
from abm.fields.sources import TriggeredDepot, hill_rate


def solver(labels=None, tissue=None):
    return FieldSolver((6, 4, 4), 10.0, [Species("drug", 0.0, unit="nM"), Species("signal", 0.0, unit="nM")],
                       labels=labels, tissue=tissue, backend="numpy")


def test_hill_rate_limits_and_half_point():
    assert hill_rate(0.0, 0.1, 1.0, 5.0, 2.0) == pytest.approx(0.1)
    assert hill_rate(5.0, 0.1, 1.0, 5.0, 2.0) == pytest.approx(0.55)
    assert hill_rate(1e9, 0.1, 1.0, 5.0, 2.0) == pytest.approx(1.0, rel=1e-9)
    assert hill_rate(-3.0, 0.1, 1.0, 5.0, 2.0) == pytest.approx(0.1)    # negative counts as 0
    # falling rates work too (rate_max < rate)
    assert hill_rate(5.0, 1.0, 0.0, 5.0, 1.0) == pytest.approx(0.5)


def test_each_voxel_releases_at_its_own_level_exactly():
    fs = solver()
    fs.field("signal")[3:, :, :] = 10.0            # half the lattice signalled
    d = fs.add_triggered_depot("drug", np.ones((6, 4, 4), bool), 960.0, rate=0.001,
                               trigger="signal", rate_max=0.1, half_max=10.0, hill=1.0)
    assert isinstance(d, TriggeredDepot) and d.parts.size == 96
    for _ in range(30):
        fs.step(2.0)
    t = 60.0
    lo, hi = 0.001, 0.001 + (0.1 - 0.001) * 0.5
    u = np.asarray(fs.field("drug"))
    vv = 1000.0
    assert u[:3].sum() * vv == pytest.approx(480 * -math.expm1(-lo * t), rel=1e-9)
    assert u[3:].sum() * vv == pytest.approx(480 * -math.expm1(-hi * t), rel=1e-9)
    assert fs.total_amount("drug") + d.remaining == pytest.approx(960.0, rel=1e-12)
    assert d.released == pytest.approx(fs.total_amount("drug"), rel=1e-12)


def test_a_triggered_depot_skips_impermeable_voxels():
    labels = np.zeros((6, 4, 4), np.uint8)
    labels[0] = 1
    fs = solver(labels, [TissueClass("soft"), TissueClass("wall", permeable=False)])
    d = fs.add_triggered_depot("drug", np.ones((6, 4, 4), bool), 80.0, 0.01, "signal", 0.01, 1.0)
    assert d.parts.size == 80 and d.parts.sum() == pytest.approx(80.0)


@pytest.mark.parametrize("kw, words", [
    ({"trigger": "nothing"}, "nothing"),
    ({"half_max": 0.0}, "half-max trigger level"),
    ({"hill": -1.0}, "Hill power"),
    ({"rate": -1.0}, "release rate"),
    ({"amount": math.inf}, "finite"),
])
def test_bad_triggered_depots_are_refused(kw, words):
    args = dict(amount=1.0, rate=0.01, trigger="signal", rate_max=0.1, half_max=1.0, hill=1.0)
    args.update(kw)
    with pytest.raises(ModelInputError, match=words):
        solver().add_triggered_depot("drug", (1, 1, 1), **args)


SCENARIO = """\
name: triggered
domain: {extent: [120 um, 80 um, 80 um], voxel: 20 um, dt: 1 h, duration: 2 d, seed: 1}
fields:
  drug: {unit: nM, diffusion: 0 um^2/s, decay: 0 1/min}
  signal: {unit: nM, diffusion: 0 um^2/s, decay: 0 1/min}
populations: []
events:
  - at: 0 h
    depot: {field: drug, region: all, amount: DEPOT_AMOUNT, law: triggered, half_life: 10 d, trigger: TRIGGER}
outputs:
  readout_every: 1 h
  readouts: [total drug]
"""


def depot_scenario(trigger="{field: signal, half_max: 0.01 uM, hill: 2, half_life: 6 h}",
                   amount="1 nM*mm^3"):
    from abm.scenario import load_scenario_text
    return load_scenario_text(SCENARIO.replace("TRIGGER", trigger).replace("DEPOT_AMOUNT", amount),
                              name="trig.yaml")


def test_the_depot_event_takes_the_triggered_law():
    from abm.run.build import build_model
    from abm.run.runner import fire_event
    sc = depot_scenario()
    (ev,) = sc.events
    s = ev.spec
    assert s.law == "triggered" and s.rate == pytest.approx(math.log(2) / (10 * 1440))
    assert s.trigger.rate_max == pytest.approx(math.log(2) / 360) and s.trigger.half_max == pytest.approx(10.0, rel=1e-12)
    assert "half-way at signal 10, Hill 2" in sc.summary()
    model = build_model(sc, backend="numpy")
    model.fields.field("signal")[...] = 10.0               # at the half-max level everywhere
    fire_event(model, ev)
    for _ in range(24):
        model.fields.step(60.0)
    k = hill_rate(10.0, s.rate, s.trigger.rate_max, 10.0, 2.0)
    assert model.fields.total_amount("drug") == pytest.approx(s.amount * -math.expm1(-k * 1440), rel=1e-9)


@pytest.mark.parametrize("trigger, words", [
    ("{field: nothing, half_max: 1 nM, half_life: 1 h}", "unknown field 'nothing'"),
    ("{field: signal, half_max: 1 um, half_life: 1 h}", "trigger.half_max"),
    ("{field: signal, half_max: 1 nM, hill: 0, half_life: 1 h}", "hill must be"),
    ("{field: signal, half_max: 1 nM}", "exactly one of rate"),
])
def test_bad_triggers_are_refused_at_their_key(trigger, words):
    from abm.scenario import ScenarioError
    with pytest.raises(ScenarioError) as ei:
        depot_scenario(trigger)
    assert words in str(ei.value) and "line 9" in str(ei.value), str(ei.value)
