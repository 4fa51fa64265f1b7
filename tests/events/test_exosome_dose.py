"""Exosome doses in the units papers use (issue 11, item 3).

µg of vesicle protein or particle counts, local or intravenous, into the ``exosome``
field (unit 1e9 particles/mL, so one particle is 1e-3 of the field's amount unit,
(1e9 particles/mL) × µm³), checked against hand computations.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from delivery_helpers import load, seeds_row, sphere_voxels  # noqa: E402

from abm.run.build import build_model  # noqa: E402
from abm.run.runner import fire_event  # noqa: E402
from abm.scenario import ScenarioError  # noqa: E402

#: (1e9 particles/mL) × um^3 per particle: 1 mL = 1e12 um^3, so 1e9 / 1e12 particles per unit.
UNITS_PER_PARTICLE = 1e12 / 1e9
VOX = 20.0 ** 3


def exo(dose, route="local", target="core", extra="", at="1 h"):
    return (f"  - at: {at}\n    exosomes: {{dose: {dose}, route: {route}, target: {target}"
            f"{extra}}}\n")


def dose_event(sc):
    (ev,) = [e for e in sc.events if e.kind == "exosomes"]
    return ev


def particles_in_field(sc) -> float:
    """Fire the events on a fresh model; the exosome field's amount, in particles."""
    model = build_model(sc, backend="numpy")
    for ev in sc.events:
        fire_event(model, ev)
    u = np.asarray(model.fields.field("exosome"))
    return float(u.sum() * VOX / UNITS_PER_PARTICLE), u


def test_micrograms_become_particles_with_the_seed_ratio():
    sc = load(exo("100 ug"))
    spec = dose_event(sc).spec
    want = 100 * seeds_row("vesicles:particles_per_ug")
    assert spec.particles == pytest.approx(want, rel=1e-12)
    assert spec.amount == pytest.approx(want * UNITS_PER_PARTICLE, rel=1e-12)
    total, u = particles_in_field(sc)
    assert total == pytest.approx(want, rel=1e-9)
    core = sphere_voxels(100)
    assert np.count_nonzero(u) == core          # evenly over the target only
    assert u.max() == pytest.approx(want * UNITS_PER_PARTICLE / (core * VOX), rel=1e-9)


def test_particle_counts_and_a_given_ratio():
    assert dose_event(load(exo("1e10 particles"))).spec.particles == pytest.approx(1e10)
    assert dose_event(load(exo("3e9"))).spec.particles == pytest.approx(3e9)
    spec = dose_event(load(exo("50 ug", extra=", particles_per_ug: 2e9 particles/ug"))).spec
    assert spec.particles == pytest.approx(1e11)
    assert dose_event(load(exo("0.05 mg"))).spec.particles == \
        pytest.approx(50 * seeds_row("vesicles:particles_per_ug"))


def test_intravenous_vesicles_reach_the_open_tissue_by_the_body_model():
    sc = load(exo("100 ug", route="intravenous", target="all",
                  extra=", bbb_open: [core, penumbra]"))
    spec = dose_event(sc).spec
    open_vol = sphere_voxels(140) * VOX
    frac = (seeds_row("vesicles:lung_pass") * seeds_row("rat:brain_cardiac_output_share")
            * open_vol / (seeds_row("rat:brain_volume") * 1e9)
            * seeds_row("vesicles:brain_retention"))
    want = 100 * seeds_row("vesicles:particles_per_ug") * frac
    assert spec.delivered_particles == pytest.approx(want, rel=1e-12)
    total, u = particles_in_field(sc)
    assert total == pytest.approx(want, rel=1e-9)
    assert np.count_nonzero(u) == sphere_voxels(140)


@pytest.mark.parametrize("event, where, words", [
    (exo("5 mL"), "events[1].exosomes.dose", "vesicle protein"),
    (exo("100 ug", route="intracarotid"), "events[1].exosomes.route",
     "routes: intraperitoneal, intravenous, local"),
    (exo("100 ug", route="intravenous", target="all"), "events[1].exosomes", "bbb_open"),
    (exo("100 ug", extra=", particles_per_ug: -3"), "events[1].exosomes.particles_per_ug", ""),
    (exo("100 ug", extra=", field: VEGF"), "events[1].exosomes.field", "unknown field"),
])
def test_bad_exosome_doses_are_refused_at_their_key(event, where, words):
    with pytest.raises(ScenarioError) as ei:
        load(event)
    msg = str(ei.value)
    assert where in msg and words in msg, msg
