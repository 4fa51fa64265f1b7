"""EV doses to the bone marrow (issue 12, item 3): routes, repeated dosing, engineered EVs.

Expected numbers come from seeds/delivery.csv read with the csv module and voxels counted
by hand on a 20 x 20 x 10 lattice of 20 um voxels whose marrow is everything but a
trabecular plate (z 80-120 um) and a cortex shell (x < 40 um).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from abm.run.build import build_model
from abm.run.runner import fire_event, run_scenario
from abm.runfile import open_run
from abm.scenario import ScenarioError, load_scenario_text

ROOT = Path(__file__).resolve().parents[3]
VOX = 20.0 ** 3
UNITS_PER_PARTICLE = 1e12 / 1e9     # (1e9 particles/mL) × um^3 per particle
N_MARROW = 20 * 20 * 10 - 20 * 20 * 2 - 2 * 20 * 10 + 2 * 20 * 2   # plate z 4-5, cortex x 0-1

BASE = """\
name: bone delivery
domain: {extent: [400 um, 400 um, 200 um], voxel: 20 um, dt: 30 min, duration: DURATION, seed: 3}
tissue:
  default: {name: marrow}
  labels:
    - {name: trabecular, permeable: false, capacity: 0, region: {shape: box, lower: [0 um, 0 um, 80 um], upper: [400 um, 400 um, 120 um]}}
    - {name: cortex, permeable: false, capacity: 0, region: {shape: box, lower: [0 um, 0 um, 0 um], upper: [40 um, 400 um, 200 um]}}
fields:
  exosome: {unit: 1e9 particles/mL, diffusion: 0 um^2/s, decay: 0 1/min}
populations: []
events:
EVENTS
outputs:
  readout_every: 30 min
  snapshot_every: SNAP
  readouts: [total exosome]
"""


def text(events: str, duration="2 d", snap="1 d") -> str:
    return BASE.replace("EVENTS", events).replace("DURATION", duration).replace("SNAP", snap)


def load(events: str, **kw):
    return load_scenario_text(text(events, **kw), name="bone.yaml")


def row(name: str) -> float:
    with open(ROOT / "seeds" / "delivery.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["parameter"] == name:
                return float(r["value"])
    raise KeyError(name)


def dose(route="intravenous", extra="", at="1 h", repeat="", organ="bone_marrow"):
    rep = f"\n    repeat: {repeat}" if repeat else ""
    return (f"  - at: {at}{rep}\n    exosomes: {{dose: 100 ug, route: {route}, target: all, "
            f"organ: {organ}{extra}}}\n")


def spec_of(sc):
    (ev, *_) = [e for e in sc.events if e.kind == "exosomes"]
    return ev.spec


def fired(sc):
    model = build_model(sc, backend="numpy")
    for ev in sc.events:
        fire_event(model, ev)
    return model


def test_marrow_voxels_counted_by_hand():
    sc = load(dose())
    labels = np.asarray(build_model(sc, backend="numpy").fields.labels)
    assert np.count_nonzero(labels == 0) == N_MARROW == 18 * 20 * 8   # x 2-19, all y, z not 4-5


def test_intravenous_dose_reaches_the_simulated_marrow_by_its_share():
    spec = spec_of(load(dose()))
    particles = 100 * row("vesicles:particles_per_ug")
    frac = row("vesicles:marrow_share_intravenous") * N_MARROW * VOX / (row("rat:marrow_volume") * 1e9)
    assert spec.particles == pytest.approx(particles, rel=1e-12)
    assert spec.delivered_particles == pytest.approx(particles * frac, rel=1e-12)
    assert spec.delivery.half_time is None
    model = fired(load(dose()))
    u = np.asarray(model.fields.field("exosome"))
    labels = np.asarray(model.fields.labels)
    # all of it in the marrow, evenly; none in bone
    assert u.sum() * VOX / UNITS_PER_PARTICLE == pytest.approx(particles * frac, rel=1e-9)
    assert np.all(u[labels != 0] == 0)
    assert np.ptp(u[labels == 0]) == pytest.approx(0, abs=1e-12 * u.max())


def test_mouse_marrow_and_a_given_marrow_volume():
    a = spec_of(load(dose(extra=", species: mouse"))).delivered_particles
    b = spec_of(load(dose())).delivered_particles
    assert a / b == pytest.approx(row("rat:marrow_volume") / row("mouse:marrow_volume"), rel=1e-12)
    c = spec_of(load(dose(extra=", marrow_volume: 2500 mm^3"))).delivered_particles
    assert c / b == pytest.approx(row("rat:marrow_volume") / 2500, rel=1e-12)


def test_intraperitoneal_arrives_first_order_and_all_of_it(tmp_path):
    sc = load(dose(route="intraperitoneal", at="0 h"), duration="3 d", snap="1 d")
    spec = spec_of(sc)
    iv = spec_of(load(dose())).delivered_particles
    assert spec.delivered_particles == pytest.approx(
        iv * row("vesicles:intraperitoneal_absorbed_fraction"), rel=1e-12)
    half = row("vesicles:intraperitoneal_absorption_half_time") * 60.0
    assert spec.delivery.half_time == pytest.approx(half)
    p = tmp_path / "ip.yaml"
    p.write_text(text(dose(route="intraperitoneal", at="0 h"), duration="3 d"))
    with open_run(run_scenario(p, tmp_path / "ip.h5", progress=False)) as r:
        ro = r.readouts()
    t, tot = ro["time_min"], ro["total exosome"]          # the readout counts particles
    want = spec.delivered_particles * -np.expm1(-math.log(2) / half * t)
    assert np.allclose(tot, want, rtol=1e-9, atol=1e-9 * spec.delivered_particles)
    assert tot[t == 180][0] == pytest.approx(spec.delivered_particles / 2, rel=1e-9)


def test_bone_targeted_vesicles_raise_the_marrow_share_and_overrides_win():
    base = spec_of(load(dose())).delivered_particles
    tgt = spec_of(load(dose(extra=", vesicles: bone_targeted")))
    assert tgt.delivered_particles / base == pytest.approx(
        row("vesicles:bone_targeted:marrow_factor") * row("vesicles:bone_targeted:potency"), rel=1e-12)
    assert "marrow factor (bone_targeted)" in tgt.delivery.explain()
    over = spec_of(load(dose(extra=", vesicles: bone_targeted, marrow_factor: 5, potency: 2")))
    assert over.delivered_particles / base == pytest.approx(10, rel=1e-12)


@pytest.mark.parametrize("repeat, n", [("{every: 7 d, until: 8 weeks}", 9),
                                       ("{every: 3 d, times: 5}", 5)])
def test_repeated_doses_count_and_total(repeat, n):
    sc = load(dose(at="0 h", repeat=repeat), duration="57 d")
    evs = [e for e in sc.events if e.kind == "exosomes"]
    every = 7 if "7 d" in repeat else 3
    assert [e.time for e in evs] == [1440.0 * every * k for k in range(n)]
    model = fired(sc)
    per = evs[0].spec.delivered_particles
    total = model.fields.total_amount("exosome") / UNITS_PER_PARTICLE
    assert total == pytest.approx(n * per, rel=1e-9)


def test_repeated_doses_in_the_run_file(tmp_path):
    p = tmp_path / "weekly.yaml"
    p.write_text(text(dose(at="0 h", repeat="{every: 1 d, times: 3}"), duration="4 d"))
    out = run_scenario(p, tmp_path / "weekly.h5", progress=False)
    with open_run(out) as r:
        ro = r.readouts()
    log = Path(out).with_suffix(".log").read_text()
    assert log.count("particles of exosome (intravenous route)") == 3, log
    t, tot = ro["time_min"], ro["total exosome"]          # the readout counts particles
    per = spec_of(load(dose())).delivered_particles
    for k in range(3):
        rows = (t > 1440 * k) & (t <= 1440 * (k + 1))
        assert np.allclose(tot[rows], per * (k + 1), rtol=1e-9)
    assert tot[-1] == pytest.approx(3 * per, rel=1e-9)


def test_validate_describes_the_marrow_dose_in_one_line():
    sc = load(dose(route="intraperitoneal", extra=", vesicles: bone_targeted"))
    lines = [ln for ln in sc.summary().splitlines() if "exosomes" in ln]
    assert len(lines) == 1
    line = lines[0]
    assert "bone marrow" in line and "bone_targeted" in line and "half-time 3 h" in line
    assert "marrow entry volume / whole marrow volume" in line


@pytest.mark.parametrize("extra, route, key, words", [
    ("", "liver", "exosomes.organ", "organs: bone_marrow, brain"),
    ("", "intracarotid", "exosomes.route", "routes:"),
    (", vesicles: gold", "intravenous", "exosomes.vesicles", "presets: bone_targeted, native"),
    (", bbb_open: [marrow]", "intravenous", "exosomes.bbb_open", "into"),
    (", into: [bone]", "intravenous", "exosomes.into[0]", "unknown tissue label 'bone'"),
    (", marrow_factor: -1", "intravenous", "exosomes.marrow_factor", "> 0"),
    (", brain_volume: 2 mm^3", "intravenous", "exosomes.brain_volume", "marrow_volume"),
    (", species: dog", "intravenous", "exosomes.species", "marrow_volume"),
])
def test_bad_marrow_doses_are_refused_at_their_key(extra, route, key, words):
    organ = "bone_marrow"
    if route == "liver":
        route, organ = "intravenous", "liver"
    with pytest.raises(ScenarioError) as ei:
        load(dose(route=route, extra=extra, organ=organ))
    msg = str(ei.value)
    assert f"events[0].{key}" in msg and words in msg, msg
    assert "line 13" in msg, msg


def test_a_bone_marrow_dose_needs_a_marrow_label():
    with pytest.raises(ScenarioError) as ei:
        load_scenario_text(text(dose()).replace("default: {name: marrow}", "default: {name: soft}"),
                           name="bone.yaml")
    assert "label the marrow or name its labels in into" in str(ei.value)


def test_local_dose_to_the_marrow_is_the_whole_dose_times_potency():
    spec = spec_of(load(dose(route="local", extra=", potency: 2")))
    assert spec.delivered_particles == pytest.approx(2 * 100 * row("vesicles:particles_per_ug"),
                                                     rel=1e-12)
    model = fired(load(dose(route="local")))
    # local places into the whole target (here all permeable voxels: the marrow)
    assert model.fields.total_amount("exosome") / UNITS_PER_PARTICLE == pytest.approx(
        100 * row("vesicles:particles_per_ug"), rel=1e-9)


def test_brain_doses_refuse_marrow_keys():
    with pytest.raises(ScenarioError) as ei:
        load(dose(organ="brain", route="local", extra=", marrow_factor: 2"))
    assert "marrow_factor applies to organ: bone_marrow only" in str(ei.value)
