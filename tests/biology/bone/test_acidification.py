"""Acidification: M1 macrophages and osteoclasts on bone secrete H+, which opens the pH gel.

Seed 001 describes pH-responsive hydrogels that release "where inflammation acidifies the
tissue". The opt-in tables ``seeds/rules/macrophage_acidification.csv`` and
``osteoclast_acidification.csv`` make M1 macrophages and osteoclasts on bone secrete H+ (excess
over pH 7.4, nM) toward pH 6.5 (276 nM excess); a scenario names them next to the shared tables,
so scenarios that do not (the OVX study) need no H+ field.

The model: a 10 x 10 x 6 lattice of 20 um voxels with a host-bone wall (``cortex``, x < 40 um,
impermeable: the tissue is not uniform, so the fields take the implicit scheme, as in the
calvarial scenario) and a pH gel in a 4 x 4 x 2 box of ``defect`` (32 voxels). Macrophages at
the calvarial defect's M1 density (5000 per mm^3) are held in place and in their state (no
motion, death, division or transitions), so the H+ field reaches a steady state that a sparse
solve gives exactly. H+ has the seeds/fields.csv transport (28000 um^2/min, half-life 5 min);
the exosome field neither diffuses nor decays, so its total is what the gel has released.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as sla

import abm.biology.bone.hydrogel  # noqa: F401  (registers the hydrogel event)
from abm.fields.sources import hill_rate
from abm.rules import load_rules
from abm.run.build import build_model, place_populations
from abm.run.runner import fire_event
from abm.scenario import ScenarioError, load_scenario, load_scenario_text
from abm.seeds import rules_table

ROOT = Path(__file__).resolve().parents[3]
DAY = 1440.0
D_H, K_H = 28000.0, math.log(2) / 5.0          # um^2/min, 1/min (seeds/fields.csv, H+)
SWITCH = 2.0 ** 10 / (1 + 2.0 ** 10)           # state:M1 at half_max 0.5, hill 10: 0.999
S_M1, T_M1 = 6.0 * SWITCH, 276.0 * SWITCH      # 1/min, nM

GEL = """\
name: acid_gel
domain: {extent: [200 um, 200 um, 120 um], voxel: 20 um, dt: 1 h, duration: 2 d, seed: 3}
tissue:
  default: {name: marrow}
  labels:
    - {name: cortex, permeable: false, capacity: 0, region: {shape: box, lower: [0 um, 0 um, 0 um], upper: [40 um, 200 um, 120 um]}}
    - {name: defect, region: {shape: box, lower: [60 um, 60 um, 40 um], upper: [140 um, 140 um, 80 um]}}
fields:
  H+: {diffusion: 28000 um^2/min, half_life: 5 min}
  exosome: {unit: 1e9 particles/mL, diffusion: 0 um^2/s, decay: 0 1/min}
cell_types:
  Macrophage:
    parameters: {speed: 0 um/min, death: 0 1/min, division: 0 1/min, "transition:M1->M0": 0 1/min,
                 "transition:M0->M1": 0 1/min, "transition:M0->M2": 0 1/min}
    rules: RULES
populations:
  - {cell_type: Macrophage, density: 5000 cells/mm^3, region: all, state: STATE}
events:
  - {at: 0 h, hydrogel: {gel: pH_responsive, dose: 50 ug, region: defect}}
"""
ACID = '["seeds:rules/macrophage_acidification.csv"]'


def run_gel(state="M1", rules=ACID, days=2.0):
    """Place the cells and the gel, step ``days``; (released fraction, H+, model, spec)."""
    sc = load_scenario_text(GEL.replace("STATE", state).replace("RULES", rules), name="gel.yaml")
    model = build_model(sc, backend="numpy")
    place_populations(model, sc)
    (ev,) = sc.events
    fire_event(model, ev)
    for _ in range(round(days * DAY / sc.domain.dt)):
        model.step()
    released = model.fields.total_amount("exosome") / ev.spec.amount
    return released, np.asarray(model.fields.field("H+")), model, ev.spec


def steady_h(model):
    """The exact discrete steady state of H+: (k + n S) C - D lap C = n S T, no-flux faces.

    Seven-point finite volumes over the permeable voxels (the engine's stencil on non-uniform
    tissue), ``n`` the M1 cells in each voxel.
    """
    shape = model.fields.u.shape[1:]
    labels = np.asarray(model.fields.labels).reshape(shape)
    perm = labels != list(model.tissue_names).index("cortex")
    cells = np.zeros(shape)
    np.add.at(cells, tuple(np.asarray(model.populations["Macrophage"].columns["pos"]).T), 1)
    idx = -np.ones(shape, dtype=np.int64)
    idx[perm] = np.arange(perm.sum())
    g = D_H / 20.0 ** 2
    diag = K_H + cells[perm] * S_M1
    rows, cols = [], []
    for ax in range(3):
        for step in (-1, 1):
            nb = np.roll(idx, -step, axis=ax)
            edge = [slice(None)] * 3
            edge[ax] = -1 if step == 1 else 0
            nb[tuple(edge)] = -1                      # no flux through the domain's faces
            ok = perm & (nb >= 0)
            rows.append(idx[ok])
            cols.append(nb[ok])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    diag = diag + g * np.bincount(rows, minlength=perm.sum())
    a = sp.csc_matrix((np.full(rows.size, -g), (rows, cols)), shape=(perm.sum(),) * 2) \
        + sp.diags(diag)
    out = np.zeros(shape)
    out[perm] = sla.spsolve(a, cells[perm] * S_M1 * T_M1)
    return out, labels


def test_m1_macrophages_hold_the_tissue_at_the_acid_steady_state():
    _, h, model, _ = run_gel("M1", days=1.0)
    assert model.populations["Macrophage"].columns["pos"].shape[0] == 24   # 5000 / mm^3
    exact, labels = steady_h(model)
    assert np.abs(h - exact).max() < 1e-6 * exact.max()
    defect = labels == list(model.tissue_names).index("defect")
    mean = float(h[defect].mean())
    assert mean == pytest.approx(187.4, abs=0.1)             # nM over pH 7.4
    assert -math.log10((40.0 + mean) * 1e-9) == pytest.approx(6.64, abs=0.005)
    assert h.max() < T_M1                                    # never past the M1 target


def test_the_ph_gel_releases_faster_where_m1_macrophages_acidify_the_tissue():
    acid, h, model, spec = run_gel("M1")
    neutral, h0, _, _ = run_gel("M0")             # the same cells at rest: no acid
    untreated, h1, _, _ = run_gel("M1", rules="[]")   # M1 cells without the opt-in table
    t = 2 * DAY
    kn = spec.trigger.rate
    assert kn == pytest.approx(math.log(2) / (14 * DAY))
    # neutral tissue: the gel's neutral law, half-time 14 d
    assert h0.max() == 0.0 and h1.max() == 0.0
    assert neutral == pytest.approx(-math.expm1(-kn * t), rel=1e-9) == pytest.approx(0.0943,
                                                                                     abs=1e-4)
    assert untreated == pytest.approx(neutral, rel=1e-12)
    # acid tissue: each gel voxel releases at its own H+ (H+ comes first in the field list, so
    # the gel reads the step's end value; it is steady from the second hour: in the first the
    # engine's stiff exchange, S dt = 360, overshoots to 212 nM against 187, hence rel 1e-3)
    labels = np.asarray(model.fields.labels).reshape(h.shape)
    gel_h = h[labels == list(model.tissue_names).index("defect")]
    tr = spec.trigger
    k = hill_rate(gel_h, tr.rate, tr.rate_max, tr.half_max, tr.hill)
    assert acid == pytest.approx(float(np.mean(-np.expm1(-k * t))), rel=1e-3)
    assert acid == pytest.approx(0.718, abs=0.001)
    assert acid > 7 * neutral


OSTEOCLASTS = """\
name: oc_acid
domain: {extent: [200 um, 200 um, 120 um], voxel: 20 um, dt: 1 h, duration: 1 d, seed: 3}
tissue:
  default: {name: marrow}
  labels:
    - {name: cortex, permeable: false, capacity: 0, region: {shape: box, lower: [0 um, 0 um, 0 um], upper: [40 um, 200 um, 120 um]}}
fields:
  H+: {diffusion: 28000 um^2/min, half_life: 5 min}
processes:
  mineral: {}
cell_types:
  Osteoclast:
    parameters: {speed: 0 um/min, death: 0 1/min}
    rules: ["seeds:rules/osteoclast_acidification.csv"]
populations:
  - {cell_type: Osteoclast, count: 10, region: REGION}
"""


@pytest.mark.parametrize("region, mean", [
    ("{shape: bone_surface, of: [marrow], on: [cortex]}", 147.0),     # on bone: they acidify
    ("{shape: box, lower: [160 um, 0 um, 0 um], upper: [200 um, 200 um, 120 um]}", 0.0),
])
def test_osteoclasts_acidify_only_on_bone(region, mean):
    sc = load_scenario_text(OSTEOCLASTS.replace("REGION", region), name="oc.yaml")
    model = build_model(sc, backend="numpy")
    place_populations(model, sc)
    model.step()
    h = np.asarray(model.fields.field("H+"))
    assert float(h[2:].mean()) == pytest.approx(mean, abs=0.5)   # the 400 marrow voxels
    assert h.max() < 276.0


def test_the_ovx_scenario_loads_without_an_h_field_and_without_the_tables():
    sc = load_scenario(ROOT / "scenarios" / "bone" / "ovx_rat_evs.yaml")
    assert "H+" not in [f.name for f in sc.fields]
    types = {c.name: c for c in sc.cell_types}
    assert len(types["Macrophage"].rules) == len(load_rules(rules_table("macrophage")))
    assert not [r for c in sc.cell_types for r in c.rules if "H+" in r[3]]


def test_the_calvarial_scenario_opts_into_acidification():
    sc = load_scenario(ROOT / "scenarios" / "bone" / "calvarial_defect_evs.yaml",
                       overrides=["arm=ph_gel"])
    h = sc.field("H+")
    assert (h.unit, h.diffusion, h.decay) == ("nM", 28000.0, pytest.approx(K_H))
    types = {c.name: c for c in sc.cell_types}
    for name, base in (("Macrophage", "macrophage"), ("Osteoclast", "osteoclast")):
        extra = [r[3] for r in types[name].rules[len(load_rules(rules_table(base))):]]
        assert extra == ["target:H+", "secretion:H+"], name
    gel = [e.spec for e in sc.events if e.kind == "hydrogel" and e.spec.gel == "pH_responsive"]
    assert gel and gel[0].trigger.field == "H+"


def test_an_acid_table_without_the_h_field_is_one_line_naming_the_fix():
    text = OSTEOCLASTS.replace("REGION", "all").replace(
        "  H+: {diffusion: 28000 um^2/min, half_life: 5 min}\n", "  TGF-b: {}\n")
    with pytest.raises(ScenarioError) as ei:
        load_scenario_text(text, name="oc.yaml")
    msg = str(ei.value)
    assert msg.startswith("oc.yaml, line 14, cell_types.Osteoclast.rules[0]: "
                          "osteoclast_acidification.csv line 10: Osteoclast has no behaviour "
                          "'target:H+'; the field 'H+' is not declared: add it under fields"), msg
    assert "\n" not in msg
