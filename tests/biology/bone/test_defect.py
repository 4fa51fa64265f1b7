"""Defect healing: the ``defect_site`` process and the ``defect_fill`` readout (issue 12).

Known fills on the calvarial shapes through the scenario path: a one-voxel-wide radial strip
of a 2 mm defect with its outer half filled gives 1/2 unweighted and 3/4 weighted by radius
(on the axis row the midpoint sums are exact: Σ_{i=25}^{49}(i + ½) / Σ_{i=0}^{49}(i + ½) =
937.5 / 1250; the rows beside it are summed by hand); the
full disc with the same annulus filled gives the disc's area share 3/4 unweighted; partly
mineralised voxels count by the threshold or by their fraction; the site survives the
mineral process relabelling filled defect voxels as bone.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import abm.biology.bone.defect as D  # noqa: F401  (registers defect_site and defect_fill)
from abm.errors import ModelInputError
from abm.readouts import evaluate_readouts
from abm.run.build import build_model
from abm.scenario import ScenarioError, load_scenario_text
from abm.scenario.objects import build_labels

DX = 20.0

TEXT = """\
name: fill
domain: {extent: EXTENT, voxel: 20 um, dt: 1 h, duration: 2 d}
tissue:
  default: {name: outside}
  labels:
    - {name: marrow, initially: false}
    - name: cortex
      region: {shape: calvarial_bone, anatomy: &calv {center: CENTER, bottom: 0 um, diameter: 2 mm, thickness: THICK}}
      permeable: false
      capacity: 0
    - name: defect
      region: {shape: calvarial_defect, anatomy: *calv}
fields: {TGF-b: }
processes:
  mineral: {relabel_every: 0 h}
  defect_site: SITE
outputs:
  readouts: [defect_fill, defect_fill mineral]
"""
# strip: 60 voxels along x (50 defect, 10 host bone), 3 across with the axis through the
# middle row (there r = x exactly; the side rows are 20 um off the axis), 3 thick
STRIP = dict(EXTENT="[1.2 mm, 60 um, 60 um]", CENTER="[0 um, 30 um]", THICK="60 um",
             SITE="{strip: 1, axis_x: 0 um, axis_y: 30 um}")
FLAT = dict(STRIP, SITE="{}")
DISC = dict(EXTENT="[2.4 mm, 2.4 mm, 60 um]", CENTER="[1.2 mm, 1.2 mm]", THICK="60 um",
            SITE="{}")


def load(geom, **extra):
    t = TEXT
    for k, v in {**geom, **extra}.items():
        t = t.replace(k, v)
    return load_scenario_text(t, name="fill.yaml")


def model_of(geom):
    sc = load(geom)
    return sc, build_model(sc, backend="numpy")


def set_mineral(model, where, value):
    m = model.tissue_states["mineral"].reshape(model.shape)
    m[where] = value


def fills(sc, model):
    v = evaluate_readouts(model, sc.outputs.readouts)
    return v["defect_fill"], v["defect_fill mineral"]


def outer_half(model, center, radius):
    """Voxels of the lattice farther than ``radius`` (µm) from the axis at ``center``."""
    r = D.radial_weights(model.shape, model.dx, *center)
    return r > radius


def test_the_site_is_the_defect_at_the_start():
    sc, model = model_of(STRIP)
    site = model.tissue_states["defect_site"].reshape(model.shape)
    lab = np.asarray(model.fields.labels)
    assert np.array_equal(site == 1, lab == model.tissue_names.index("defect"))
    assert site[:50].all() and not site[50:].any()           # 2 mm diameter: x < 1 mm
    assert sc.outputs.readouts[0].unit == "1"


def test_an_empty_defect_has_fill_zero_and_a_full_one_fill_one():
    sc, model = model_of(STRIP)
    assert fills(sc, model) == (0.0, 0.0)
    set_mineral(model, slice(0, 50), 1.0)
    assert fills(sc, model) == (1.0, 1.0)


def strip_share():
    """Σ r over the outer half over Σ r over the defect, r by hand for the three rows."""
    x = (np.arange(50) + 0.5) * DX
    r = np.concatenate([x, np.hypot(x, DX), np.hypot(x, DX)])
    outer = np.concatenate([x > 500.0] * 3)
    return r[outer].sum() / r.sum()


@pytest.mark.parametrize("geom, weighted", [(FLAT, 0.5), (STRIP, strip_share())])
def test_the_outer_half_of_a_strip_filled(geom, weighted):
    # the middle row alone would give exactly 937.5 / 1250 = 3/4; the side rows move it
    # by less than 1e-3 (near the axis the 20 um offset weighs most)
    assert strip_share() == pytest.approx(0.75, abs=1e-3)
    sc, model = model_of(geom)
    outer = np.zeros(model.shape, bool)
    outer[25:50] = True                                       # x = 0.5-1 mm of the defect
    set_mineral(model, outer, 1.0)
    got, got_mineral = fills(sc, model)
    assert got == pytest.approx(weighted, abs=1e-12)
    assert got_mineral == pytest.approx(weighted, abs=1e-12)
    # partly mineralised: over the threshold counts whole, below it nothing; the mineral
    # variant counts the fraction itself
    set_mineral(model, outer, 0.6)
    assert fills(sc, model) == pytest.approx((weighted, 0.6 * weighted), abs=1e-12)
    set_mineral(model, outer, 0.4)
    assert fills(sc, model) == pytest.approx((0.0, 0.4 * weighted), abs=1e-12)


def test_the_full_disc_unweighted_gives_the_area_share_as_the_weighted_strip_does():
    sc, model = model_of(DISC)
    site = model.tissue_states["defect_site"].reshape(model.shape) == 1
    # the disc of 1 mm radius at 20 um: its voxel area against pi r^2
    assert site.sum() * DX**2 / 3 == pytest.approx(math.pi * 1000.0**2, rel=2e-3)   # 3 layers
    set_mineral(model, outer_half(model, (1200.0, 1200.0), 500.0), 1.0)
    got, _ = fills(sc, model)
    assert got == pytest.approx(0.75, abs=0.005)             # the annulus 0.5-1 mm: 3/4


def test_the_site_stays_where_the_defect_was_when_it_turns_to_bone():
    sc, model = model_of(STRIP)
    before = model.tissue_states["defect_site"].copy()
    set_mineral(model, slice(25, 50), 1.0)
    model.step()                                    # the mineral process relabels at once
    lab = np.asarray(model.fields.labels)
    names = model.tissue_names
    assert (lab[25:50] == names.index("cortex")).all()       # filled defect is bone now
    assert (lab[:25] == names.index("defect")).all()
    assert np.array_equal(model.tissue_states["defect_site"], before)
    assert fills(sc, model) == pytest.approx((strip_share(),) * 2, abs=1e-12)


def test_defect_fill_without_its_processes_is_refused_with_the_fix():
    with pytest.raises(ScenarioError, match="needs the tissue state.*defect_site"):
        load_scenario_text(TEXT.replace("  defect_site: SITE\n", "").replace(
            "EXTENT", STRIP["EXTENT"]).replace("CENTER", STRIP["CENTER"]).replace(
            "THICK", STRIP["THICK"]), name="fill.yaml")
    with pytest.raises(ScenarioError, match="write 'defect_fill'"):
        load(STRIP, **{"defect_fill mineral]": "defect_fill volume]"})


def test_bad_defect_site_settings_and_a_missing_defect_are_refused():
    # process parameters are checked when the process is made (as the mineral's threshold)
    with pytest.raises(ModelInputError, match="strip is 1"):
        build_model(load(STRIP, **{"strip: 1": "strip: 2"}), backend="numpy")
    sc = load(STRIP, **{"- name: defect\n": "- name: hole\n"})
    with pytest.raises(ModelInputError, match="labelled 'defect'"):
        build_model(sc, backend="numpy")


# ---------------------------------------------------------------- the shipped scenario
SCENARIO = Path(__file__).resolve().parents[3] / "scenarios" / "bone" / "calvarial_defect_evs.yaml"


@pytest.mark.parametrize("arm", ["empty", "bolus", "thermo_gel", "ph_gel"])
def test_the_calvarial_scenario_loads_every_arm_with_the_strip_share_of_the_dose(arm):
    sc = load_scenario_text(SCENARIO.read_text(), name=SCENARIO.name, base_dir=SCENARIO.parent,
                            overrides=[f"arm={arm}"])
    kinds = sorted(e.kind for e in sc.events)
    assert kinds == {"empty": [], "bolus": ["exosomes"], "thermo_gel": ["hydrogel"],
                     "ph_gel": ["hydrogel"]}[arm]
    lab = build_labels(sc)
    names = [t.name for t in sc.tissue]
    strip = np.count_nonzero(lab == names.index("defect")) * sc.domain.dx ** 3      # um^3
    disc = math.pi * 4000.0 ** 2 * 800.0                 # the whole 8 mm defect, 800 um plate
    # the strip gets its volume share of the 100 ug dose (the file says 1.59 ug)
    assert 100.0 * strip / disc == pytest.approx(1.59, abs=0.005)
    if arm == "bolus":                                    # 1e10 particles/ug (seeds/delivery.csv)
        assert sc.events[0].spec.delivered_particles == pytest.approx(1.59e10, rel=1e-9)
    texts = [r.text for r in sc.outputs.readouts]
    assert "defect_fill" in texts
