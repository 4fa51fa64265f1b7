"""Exosome-loaded hydrogels (issue 12, item 3; seed 001): release laws, mass balance, pH trigger.

A 10 x 10 x 6 lattice of 20 um voxels with no diffusion and no decay of the exosome field,
so the field's total is exactly what the gel has released. The gel sits in a 4 x 4 x 2 box
(32 voxels) of the ``defect`` label; the rest is ``marrow``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

import abm.biology.bone.hydrogel as hg  # noqa: F401  (registers the hydrogel event)
from abm.fields.sources import depot_from_state, depot_state
from abm.run.build import build_model
from abm.run.runner import fire_event
from abm.scenario import ScenarioError, load_scenario_text

ROOT = Path(__file__).resolve().parents[3]
UNITS_PER_PARTICLE = 1e12 / 1e9     # (1e9 particles/mL) × um^3 per particle
N_GEL = 4 * 4 * 2
DAY = 1440.0

BASE = """\
name: gel
domain: {extent: [200 um, 200 um, 120 um], voxel: 20 um, dt: DT, duration: 30 d, seed: 1}
tissue:
  default: {name: marrow}
  labels:
    - {name: defect, region: {shape: box, lower: [60 um, 60 um, 40 um], upper: [140 um, 140 um, 80 um]}}
fields:
  exosome: {unit: 1e9 particles/mL, diffusion: 0 um^2/s, decay: 0 1/min}
  H+: {diffusion: 0 um^2/s, decay: 0 1/min}
populations: []
ARMS
events:
EVENTS
outputs:
  readout_every: 1 d
  readouts: [total exosome]
"""


def text(events, dt="1 h", arms=""):
    return BASE.replace("EVENTS", events).replace("DT", dt).replace("ARMS", arms)


def gel(kind, extra="", at="0 h", name=""):
    nm = f"name: {name}, " if name else ""
    return (f"  - {{{nm}at: {at}, hydrogel: {{gel: {kind}, dose: 50 ug, region: defect"
            f"{extra}}}}}\n")


def load(events, **kw):
    return load_scenario_text(text(events, **kw), name="gel.yaml")


def row(name: str) -> float:
    with open(ROOT / "seeds" / "delivery.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["parameter"] == name:
                return float(r["value"])
    raise KeyError(name)


def dose_amount() -> float:
    return 50 * row("vesicles:particles_per_ug") * UNITS_PER_PARTICLE


def run(sc, days, acid=None, dt_min=60.0):
    """Fire the events, step ``days``; field totals and depot remainders each step."""
    model = build_model(sc, backend="numpy")
    if acid is not None:
        h = model.fields.field("H+")
        for region, level in acid:
            h[region] = level
    for ev in sc.events:
        fire_event(model, ev)
    fs = model.fields
    t, field, left = [0.0], [fs.total_amount("exosome")], [sum(d.remaining for d in fs.depots)]
    for _ in range(int(round(days * DAY / dt_min))):
        fs.step(dt_min)
        t.append(t[-1] + dt_min)
        field.append(fs.total_amount("exosome"))
        left.append(sum(d.remaining for d in fs.depots))
    return np.array(t), np.array(field), np.array(left), model


def spec(sc):
    (ev,) = [e for e in sc.events if e.kind == "hydrogel"]
    return ev.spec


@pytest.mark.parametrize("kind", ["thermosensitive", "photocrosslinked", "pH_responsive"])
def test_each_gel_releases_exactly_its_dose(kind):
    sc = load(gel(kind))
    s = spec(sc)
    assert s.amount == pytest.approx(dose_amount(), rel=1e-12)
    t, field, left, model = run(sc, 30)
    # in the field + left in the gel = the dose, at every step (no decay)
    assert np.allclose(field + left, s.amount, rtol=1e-9, atol=0)
    # all of it in the gel's voxels (outside them only the spectral solver's round-off)
    u = np.asarray(model.fields.field("exosome"))
    labels = np.asarray(model.fields.labels)
    assert np.count_nonzero(labels == 1) == N_GEL
    assert np.abs(u[labels != 1]).max() < 1e-12 * u.max()
    assert field[0] == 0 and np.all(np.diff(field) >= -1e-12 * s.amount)   # never taken back


def test_thermosensitive_burst_then_first_order_against_its_formula():
    s = spec(load(gel("thermosensitive")))
    b, tb, ts = (row("gel:thermosensitive:burst_fraction"),
                 row("gel:thermosensitive:burst_half_time") * 60,
                 row("gel:thermosensitive:half_time") * DAY)
    t, field, _, _ = run(load(gel("thermosensitive")), 20)
    want = b * (1 - 2 ** (-t / tb)) + (1 - b) * (1 - 2 ** (-t / ts))
    assert np.allclose(field / s.amount, want, rtol=1e-9, atol=1e-12)
    assert np.allclose(hg.released_fraction(s, t), want, rtol=1e-12, atol=1e-15)
    # the burst: after one day most of the burst share is out, little of the rest
    day1 = field[t == DAY][0] / s.amount
    assert b < day1 < b + 0.2 * (1 - b)


def test_photocrosslinked_releases_at_a_constant_rate_until_gone():
    dur = row("gel:photocrosslinked:duration") * DAY
    s = spec(load(gel("photocrosslinked")))
    t, field, left, _ = run(load(gel("photocrosslinked")), 25)
    want = np.minimum(t / dur, 1.0)
    assert np.allclose(field / s.amount, want, rtol=1e-9, atol=1e-12)
    assert left[-1] == 0.0 and field[-1] == pytest.approx(s.amount, rel=1e-12)
    s2 = spec(load(gel("photocrosslinked", ", duration: 7 d")))
    assert s2.parts[0].rate == pytest.approx(s.amount / (7 * DAY), rel=1e-12)


def test_ph_gel_releases_faster_in_an_acid_voxel_by_its_hill_law():
    tn = row("gel:pH_responsive:neutral_half_time") * DAY
    ta = row("gel:pH_responsive:acid_half_time") * DAY
    K, n = row("gel:pH_responsive:half_max"), row("gel:pH_responsive:hill")
    acid_level = 120.0                      # nM excess H+: pH 6.8

    def k_of(c):
        return math.log(2) / tn + (math.log(2) / ta - math.log(2) / tn) * c ** n / (K ** n + c ** n)

    s = spec(load(gel("pH_responsive")))
    neutral = run(load(gel("pH_responsive")), 5)
    acid = run(load(gel("pH_responsive")), 5, acid=[((slice(None),) * 3, acid_level)])
    t = neutral[0]
    assert np.allclose(neutral[1] / s.amount, -np.expm1(-k_of(0.0) * t), rtol=1e-9, atol=1e-12)
    assert np.allclose(acid[1] / s.amount, -np.expm1(-k_of(acid_level) * t), rtol=1e-9, atol=1e-12)
    assert acid[1][-1] > 3 * neutral[1][-1]     # 0.95 against 0.22 of the load
    # one gel, half of it in acid: each voxel releases at its own acidity
    half = (slice(None), slice(None), slice(0, 3))          # z 40-60 um acid, 60-80 um neutral
    t, field, left, model = run(load(gel("pH_responsive")), 5, acid=[(half, acid_level)])
    want = 0.5 * (-np.expm1(-k_of(acid_level) * t) - np.expm1(-k_of(0.0) * t))
    assert np.allclose(field / s.amount, want, rtol=1e-9, atol=1e-12)
    u = np.asarray(model.fields.field("exosome"))
    assert u[:, :, 2].sum() > 3 * u[:, :, 3].sum()
    assert np.allclose(field + left, s.amount, rtol=1e-12)


def test_a_triggered_depot_survives_a_checkpoint_round_trip():
    sc = load(gel("pH_responsive"))
    _, _, _, model = run(sc, 2, acid=[((slice(None), slice(None), slice(0, 3)), 120.0)])
    (d,) = model.fields.depots
    back = depot_from_state(depot_state(d), np)
    assert type(back) is type(d) and back.trigger == "H+"
    assert np.array_equal(back.parts, d.parts) and back.remaining == d.remaining
    assert (back.rate, back.rate_max, back.half_max, back.hill) == (d.rate, d.rate_max, d.half_max, d.hill)


def test_single_bolus_against_thermosensitive_gel_as_arms():
    arms = "arms:\n  gel: {without: [bolus]}\n  bolus: {without: [gel]}\n"
    ev = (gel("thermosensitive", name="gel")
          + "  - {name: bolus, at: 0 h, exosomes: {dose: 50 ug, route: local, target: defect}}\n")
    t_g = text(ev, arms=arms)
    by_arm = {}
    for arm in ("gel", "bolus"):
        sc = load_scenario_text(t_g, name="gel.yaml", overrides=[f"arm={arm}"])
        assert [e.kind for e in sc.events] == (["hydrogel"] if arm == "gel" else ["exosomes"])
        by_arm[arm] = run(sc, 10)
    tg, fg, lg, _ = by_arm["gel"]
    tb, fb, lb, _ = by_arm["bolus"]
    assert fb[0] == pytest.approx(dose_amount(), rel=1e-12) and np.all(lb == 0)
    assert fg[0] == 0 and fg[int(DAY / 60)] < 0.5 * fb[0]       # a day in: less than half out
    assert np.allclose(fg + lg, fb, rtol=1e-9)                    # same dose in both arms


def test_validate_describes_each_gel_in_one_line():
    for kind, words in (("thermosensitive", "20% burst (half-time 6 h), the rest first-order "
                                            "(half-time 4 d)"),
                        ("photocrosslinked", "constant rate until gone after 21 d"),
                        ("pH_responsive", "half-time 14 d at H+ 0 to 1 d in acid")):
        lines = [ln for ln in load(gel(kind)).summary().splitlines() if "hydrogel" in ln]
        assert len(lines) == 1 and words in lines[0], lines


@pytest.mark.parametrize("event, key, words", [
    (gel("cryogel"), "hydrogel.gel", "gels: pH_responsive, photocrosslinked, thermosensitive"),
    (gel("thermosensitive", ", duration: 3 d"), "hydrogel.duration", "applies to gel: photocrosslinked"),
    (gel("thermosensitive", ", burst_fraction: 1.5"), "hydrogel.burst_fraction", "0-1"),
    (gel("pH_responsive", ", trigger: lactate"), "hydrogel.trigger", "does not declare"),
    (gel("pH_responsive", ", half_max: 3 um"), "hydrogel.half_max", "level of the trigger field"),
    (gel("pH_responsive", ", hill: 0"), "hydrogel.hill", "> 0"),
    (gel("photocrosslinked").replace("50 ug", "5 mL"), "hydrogel.dose", "vesicle protein"),
    (gel("photocrosslinked", ", vesicles: gold"), "hydrogel.vesicles", "presets: bone_targeted"),
])
def test_bad_gels_are_refused_at_their_key(event, key, words):
    with pytest.raises(ScenarioError) as ei:
        load(event)
    msg = str(ei.value)
    assert f"events[0].{key}" in msg and words in msg and "line 13" in msg, msg


def test_gel_potency_and_given_particles():
    s = spec(load(gel("photocrosslinked", ", potency: 2")))
    assert s.amount == pytest.approx(2 * dose_amount(), rel=1e-12)
    s = spec(load(gel("photocrosslinked").replace("50 ug", "3e11 particles")))
    assert s.particles == pytest.approx(3e11) and s.amount == pytest.approx(3e11 * UNITS_PER_PARTICLE)
