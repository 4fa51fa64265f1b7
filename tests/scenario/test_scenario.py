"""Scenario files: unit conversion, regions, defaults, overrides and one-line errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm import cli
from abm.biology import BUILTIN_CELL_TYPES
from abm.cells import TissueModel
from abm.errors import ModelInputError
from abm.fields import TissueClass
from abm.regions import BoxRegion, EllipsoidRegion, LabelRegion, ShellRegion, SphereRegion
from abm.scenario import (
    ScenarioError,
    build_labels,
    catalogue,
    load_scenario,
    load_scenario_text,
    parse_readout,
)
from abm.seeds import load_field_defaults

VALID = """\
name: quickstart
description: a small test scenario
domain:
  extent: [1.2 mm, 1.2 mm, 0.8 mm]
  voxel: 20 um
  dt: 1 min
  duration: 24 h
  seed: 1
tissue:
  labels:
    - name: penumbra
      region: {shape: shell, center: [600 um, 600 um, 400 um], inner_radius: 150 um, outer_radius: 300 um}
      capacity: 2
    - name: core
      initially: false
      diffusion_scale: 0.5
fields:
  SDF-1a:
    diffusion: 70 um^2/s
    half_life: 38 min
  VEGF:
  exosome:
    initial: 2e9 particles/mL
    boundary: {x-: 1e9 particles/mL}
cell_types:
  BMSC:
    parameters:
      speed: 0.4 um/min
      secretion:VEGF: 0.6 1/h
      release:exosome: 4320 particles/day
    rules:
      - {signal: SDF-1a, direction: increases, behaviour: speed, max_response: 0.6 um/min, half_max: 2 ng/mL, hill_power: 2}
      - {signal: age, direction: increases, behaviour: death, max_response: 0.01 1/min, half_max: 2 day, hill_power: 1}
  Microglia:
populations:
  - cell_type: Microglia
    region: penumbra
    count: 300 cells
    state: M0
  - cell_type: Microglia
    region: all
    density: 5e4 cells/mm^3
events:
  - at: 2 h
    injection: {cell_type: BMSC, dose: 2e6 cells, route: intravenous, delivered_fraction: 0.0005, target: penumbra}
  - at: 0 h
    injury: {region: {shape: sphere, center: [600 um, 600 um, 400 um], radius: 150 um}, label: core, release: [{field: SDF-1a, amount: 5 ng, law: first_order, half_life: 6 h}]}
  - at: 3 h
    bolus: {field: exosome, amount: 1e10 particles, region: core}
  - at: 0 h
    depot: {field: exosome, region: {shape: box, lower: [0 um, 0 um, 0 um], upper: [100 um, 100 um, 100 um]}, amount: inf, law: constant, rate: 1e6 particles/h}
outputs:
  snapshot_every: 1 h
  readouts: ["count BMSC", "count Microglia M2", "count BMSC in penumbra", "mean SDF-1a in penumbra", "max VEGF", "total exosome", "fraction Microglia M1"]
"""


@pytest.fixture
def valid_file(tmp_path):
    p = tmp_path / "quickstart.yaml"
    p.write_text(VALID)
    return p


@pytest.fixture(scope="module")
def sc(tmp_path_factory):
    p = tmp_path_factory.mktemp("sc") / "quickstart.yaml"
    p.write_text(VALID)
    return load_scenario(p)


# ---------------------------------------------------------------- conversion
def test_domain_and_fields_converted_to_internal_units(sc):
    d = sc.domain
    assert d.shape == (60, 60, 40)
    assert d.dx == pytest.approx(20.0)
    assert d.extent == pytest.approx((1200.0, 1200.0, 800.0))
    assert d.duration == pytest.approx(1440.0)          # 24 h
    assert d.n_steps == 1440
    assert d.seed == 1 and d.capacity == 1
    sdf, vegf, exo = sc.fields
    assert sdf.diffusion == pytest.approx(4200.0)        # 70 um^2/s = 4200 um^2/min
    assert sdf.decay == pytest.approx(math.log(2) / 38.0)
    assert exo.unit == "1e9 particles/mL"
    assert exo.initial == pytest.approx(2.0)            # 2e9 particles/mL in 1e9 particles/mL
    assert exo.fixed_faces == {"x-": pytest.approx(1.0)}
    sp = exo.species()
    assert sp.unit == "1e9 particles/mL" and sp.fixed_faces == {"x-": pytest.approx(1.0)}


def test_seed_defaults_used_when_omitted(sc):
    seeds = load_field_defaults()
    vegf = sc.field("VEGF")
    assert vegf.unit == seeds["VEGF"].unit == "ng/mL"
    assert vegf.diffusion == pytest.approx(seeds["VEGF"].diffusion)
    assert vegf.decay == pytest.approx(seeds["VEGF"].decay)
    # SDF-1a diffusion is overridden (4200 happens to equal the seed) but decay comes from half_life
    assert sc.field("SDF-1a").decay != pytest.approx(seeds["SDF-1a"].decay, rel=1e-6)


def test_field_overrides_replace_defaults(tmp_path):
    text = VALID.replace("  VEGF:\n", "  VEGF:\n    diffusion: 10 um^2/s\n    decay: 0.5 1/h\n"
                                      "    unit: pg/mL\n    initial: 2 ng/mL\n")
    sc = load_scenario_text(text, "x.yaml", tmp_path)
    v = sc.field("VEGF")
    assert v.diffusion == pytest.approx(600.0)
    assert v.decay == pytest.approx(0.5 / 60)
    assert v.unit == "pg/mL"
    assert v.initial == pytest.approx(2000.0)           # 2 ng/mL in pg/mL


def test_cell_types_parameters_and_rules(sc):
    bmsc, mg = sc.cell_types
    assert bmsc.name == "BMSC" and mg.name == "Microglia"
    assert bmsc.parameters["speed"] == pytest.approx(0.4)
    assert bmsc.parameters["secretion:VEGF"] == pytest.approx(0.01)      # 0.6 1/h
    # 4320 particles/day in amount units of 1e9 particles/mL x um^3 (= 1e-3 particles) per min
    assert bmsc.parameters["release:exosome"] == pytest.approx(4320 / 1440 * 1e3)
    assert set(bmsc.parameters) == {"speed", "secretion:VEGF", "release:exosome"}
    assert mg.parameters == {} and mg.rules == []
    r1, r2 = bmsc.rules
    assert r1 == ("BMSC", "SDF-1a", "increases", "speed", pytest.approx(0.6), pytest.approx(2.0),
                  pytest.approx(2.0))
    assert r2[4] == pytest.approx(0.01) and r2[5] == pytest.approx(2880.0)  # half_max 2 day in min


def test_populations_count_and_density(sc):
    p0, p1 = sc.populations
    assert p0.count == 300 and p0.n_cells == 300 and p0.state == "M0"
    assert isinstance(p0.region, LabelRegion) and p0.region.name == "penumbra"
    assert p1.count is None
    assert p1.density == pytest.approx(5e4 / 1e9)     # cells per um^3
    # whole domain: 1.2 x 1.2 x 0.8 mm^3 = 1.152 mm^3 -> 57600 cells
    assert p1.n_cells == 57600


def test_events_sorted_and_converted(sc):
    kinds = [(e.time, e.kind) for e in sc.events]
    assert kinds == [(0.0, "injury"), (0.0, "depot"), (120.0, "injection"), (180.0, "bolus")]
    injury = sc.events[0].spec
    assert injury.label == "core" and isinstance(injury.region, SphereRegion)
    (rel,) = injury.release
    assert rel.region is None and rel.law == "first_order"
    assert rel.amount == pytest.approx(5e12)           # 5 ng / (1 ng/mL x 1 um^3); 1 mL = 1e12 um^3
    assert rel.rate == pytest.approx(math.log(2) / 360.0)
    depot = sc.events[1].spec
    assert math.isinf(depot.amount) and depot.law == "constant"
    assert depot.rate == pytest.approx(1e6 / 60 * 1e3)  # particles/h -> (1e-3 particles)/min
    inj = sc.events[2].spec
    assert inj.dose == pytest.approx(2e6)
    assert inj.delivered_fraction == pytest.approx(5e-4)
    assert inj.n_cells == 1000
    bolus = sc.events[3].spec
    # 1e10 particles / (1e9 particles/mL x um^3) = 1e10 / (1e9 x 1e-12) = 1e13
    assert bolus.amount == pytest.approx(1e13)


def test_outputs_and_readouts(sc):
    o = sc.outputs
    assert o.snapshot_every == pytest.approx(60.0)
    assert o.checkpoint_every == pytest.approx(60.0)
    assert o.readout_every == pytest.approx(6.0)       # dt x round(60/1/10)
    assert o.fields == ["SDF-1a", "VEGF", "exosome"]
    assert o.agents == ["BMSC", "Microglia"]
    r = {x.text: x for x in o.readouts}
    assert (r["count Microglia M2"].kind, r["count Microglia M2"].state) == ("count", "M2")
    assert r["count BMSC in penumbra"].label == "penumbra"
    assert r["count BMSC"].unit == "cells"
    assert r["mean SDF-1a in penumbra"].unit == "ng/mL"
    assert r["total exosome"].unit == "1e9 particles/mL*um^3"
    assert r["fraction Microglia M1"].unit == "1"


def test_output_defaults(tmp_path):
    text = VALID.split("outputs:")[0]
    sc = load_scenario_text(text, "x.yaml", tmp_path)
    assert sc.outputs.snapshot_every == pytest.approx(144.0)
    assert sc.outputs.checkpoint_every == pytest.approx(144.0)
    assert sc.outputs.readout_every == pytest.approx(14.0)   # 1 x round(144/10)
    assert [r.text for r in sc.outputs.readouts] == ["count BMSC", "count Microglia"]


def test_text_round_trip_and_summary(sc, valid_file):
    again = load_scenario_text(sc.text, name=sc.source, base_dir=sc.base_dir)
    assert again.text == VALID and again.source == "quickstart.yaml"
    assert again.events == sc.events and again.fields == sc.fields
    s = sc.summary()
    assert "60 x 60 x 40" in s and "1440 steps" in s and "1000 BMSC" in s
    assert sc.label_index("core") == 2 and sc.label_index("parenchyma") == 0
    with pytest.raises(ModelInputError, match="did you mean 'core'"):
        sc.label_index("cor")


def test_build_labels_and_capacity(sc):
    lab = build_labels(sc)
    assert lab.dtype == np.uint8 and lab.shape == sc.domain.shape
    shell = ShellRegion((600.0, 600.0, 400.0), 150.0, 300.0).mask(sc.domain.shape, 20.0)
    assert np.array_equal(lab == 1, shell)
    assert not (lab == 2).any()                          # core is painted by the injury
    cap = sc.capacity_map(lab)
    assert cap[lab == 1].min() == 2 and cap[lab == 0].max() == 1


def test_resolved_scenario_builds_a_model(sc):
    """The resolved numbers are accepted by the engine as they are."""
    lab = build_labels(sc)
    params = {c.name: c.parameters for c in sc.cell_types}
    rules = [r for c in sc.cell_types for r in c.rules]
    classes = [c for c in BUILTIN_CELL_TYPES if c.cell_type in params]
    m = TissueModel(shape=sc.domain.shape, dx=sc.domain.dx, fields=[f.species() for f in sc.fields],
                    cell_types=classes, rules=rules, parameters=params, labels=lab,
                    tissue=[t.tissue_class() for t in sc.tissue], dt=sc.domain.dt, seed=1,
                    backend="numpy")
    assert m.params["BMSC"]["speed"] == pytest.approx(0.4)


def test_catalogue_matches_the_model():
    tissue = [TissueClass("parenchyma"), TissueClass("core")]
    m = TissueModel(shape=(4, 4, 4), dx=20.0, fields=("SDF-1a", "VEGF"),
                    cell_types=BUILTIN_CELL_TYPES[:3], labels=np.zeros((4, 4, 4), np.uint8),
                    tissue=tissue, seed=1, backend="numpy")
    types = [c.cell_type for c in BUILTIN_CELL_TYPES[:3]]
    for t in types:
        sig, beh = catalogue(t, types, ["SDF-1a", "VEGF"], ["parenchyma", "core"])
        assert sig == m.signal_names(t)
        assert beh == m.behaviour_names(t)


def test_parse_readout_errors():
    types = {"BMSC": (), "Microglia": ("M0", "M1", "M2")}
    units = {"VEGF": "ng/mL"}
    r = parse_readout("count Microglia M1 in lesion core", types, units, ["lesion core"])
    assert (r.cell_type, r.state, r.label) == ("Microglia", "M1", "lesion core")
    with pytest.raises(ModelInputError, match="did you mean 'VEGF'"):
        parse_readout("mean VEFG", types, units, [])
    with pytest.raises(ModelInputError, match="no state 'M3'"):
        parse_readout("fraction Microglia M3", types, units, [])
    with pytest.raises(ModelInputError, match="cannot read"):
        parse_readout("fraction Microglia", types, units, [])


# ---------------------------------------------------------------- regions
SHAPE, DX = (60, 60, 60), 10.0


def test_sphere_voxel_count_close_to_volume():
    r = 150.0
    n = SphereRegion((300.0, 300.0, 300.0), r).mask(SHAPE, DX).sum()
    assert n == pytest.approx(4 / 3 * math.pi * r ** 3 / DX ** 3, rel=0.03)
    e = EllipsoidRegion((300.0, 300.0, 300.0), (200.0, 100.0, 150.0)).mask(SHAPE, DX).sum()
    assert e == pytest.approx(4 / 3 * math.pi * 200 * 100 * 150 / DX ** 3, rel=0.03)


def test_box_exact_and_shell_is_sphere_difference():
    b = BoxRegion((100.0, 0.0, 250.0), (300.0, 50.0, 600.0)).mask(SHAPE, DX)
    assert b.sum() == 20 * 5 * 35
    assert b[10, 0, 25] and not b[9, 0, 25] and b[29, 4, 59] and not b[30, 4, 59]
    c = (310.0, 290.0, 305.0)
    shell = ShellRegion(c, 80.0, 170.0).mask(SHAPE, DX)
    diff = SphereRegion(c, 170.0).mask(SHAPE, DX) & ~SphereRegion(c, 80.0).mask(SHAPE, DX)
    assert np.array_equal(shell, diff) and shell.sum() > 0


def _mask_scenario(file_line):
    return (VALID.replace("region: {shape: sphere, center: [600 um, 600 um, 400 um], radius: 150 um}",
                          "region: {shape: mask, " + file_line + "}"))


def test_mask_round_trip_npy_and_h5(tmp_path):
    import h5py

    m = np.zeros((60, 60, 40), dtype=np.uint8)
    m[5:9, 10:20, 3] = 7
    np.save(tmp_path / "lesion.npy", m)
    with h5py.File(tmp_path / "lesion.h5", "w") as fh:
        fh["masks/lesion"] = m
    for line in ("file: lesion.npy", "file: lesion.h5, dataset: masks/lesion"):
        sc = load_scenario_text(_mask_scenario(line), "x.yaml", tmp_path)
        reg = sc.events[0].spec.region
        assert reg.kind == "mask"
        assert np.array_equal(reg.mask((60, 60, 40), 20.0), m != 0)


# ---------------------------------------------------------------- overrides
def test_overrides_change_values(valid_file):
    sc = load_scenario(valid_file, overrides=("domain.dt=2 min", "fields.SDF-1a.diffusion=50 um^2/s",
                                              "events.0.at=3 h",
                                              "cell_types.BMSC.parameters.speed=0.5 um/min",
                                              "cell_types.BMSC.parameters.secretion:VEGF=0.02 1/min",
                                              "domain.seed=7"))
    assert sc.domain.dt == pytest.approx(2.0) and sc.domain.n_steps == 720 and sc.domain.seed == 7
    assert sc.field("SDF-1a").diffusion == pytest.approx(3000.0)
    inj = [e for e in sc.events if e.kind == "injection"][0]
    assert inj.time == pytest.approx(180.0)
    bmsc = sc.cell_types[0]
    assert bmsc.parameters["speed"] == pytest.approx(0.5)
    assert bmsc.parameters["secretion:VEGF"] == pytest.approx(0.02)
    assert sc.overrides[0] == "domain.dt=2 min"
    assert sc.text == VALID                            # the file text, not the overridden tree


def test_override_new_key_and_flow_value(valid_file):
    sc = load_scenario(valid_file, overrides=["fields.VEGF={initial: 3 ng/mL}",
                                              "domain.extent=[1 mm, 1 mm, 0.8 mm]"])
    assert sc.field("VEGF").initial == pytest.approx(3.0)
    assert sc.domain.shape == (50, 50, 40)


@pytest.mark.parametrize("override, fragments", [
    ("domain.dtt.x=2 min", ["--set domain.dtt.x", "no key 'dtt'", "did you mean 'dt'?"]),
    ("domain.dt", ["malformed override", "KEY.PATH=VALUE"]),
    ("events.9.at=1 h", ["--set events.9.at", "index 9 does not exist"]),
    ("domain.dt=2 um", ["quickstart.yaml, --set domain.dt:", "expected a time", "(a length)"]),
    ("fields.SDF-1a.difusion=5 um^2/s", ["--set fields.SDF-1a.difusion",
                                         "did you mean 'diffusion'?"]),
])
def test_bad_overrides(valid_file, override, fragments, capsys):
    with pytest.raises(ScenarioError) as ei:
        load_scenario(valid_file, overrides=(override,))
    msg = str(ei.value)
    for f in fragments:
        assert f in msg
    assert ei.value.line is None
    assert cli.main(["validate", str(valid_file), "--set", override]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("abm: error: ") and "Traceback" not in err


# ---------------------------------------------------------------- bad files
def _line_of(text, needle):
    for i, ln in enumerate(text.splitlines(), 1):
        if needle in ln:
            return i
    raise AssertionError(needle)


# (id, old, new, fragments, line marker (a substring of the offending line) or None, path)
BAD = [
    ("unknown key", "    diffusion: 70 um^2/s\n", "    difusion: 70 um^2/s\n",
     ["unknown key 'difusion'", "did you mean 'diffusion'?"], "difusion", "fields.SDF-1a.difusion"),
    ("wrong dimension", "    diffusion: 70 um^2/s\n", "    diffusion: 70 um\n",
     ["expected a diffusivity (area/time, e.g. '70 um^2/s'), got '70 um' (a length)"],
     "diffusion: 70 um", "fields.SDF-1a.diffusion"),
    ("negative diffusion", "    diffusion: 70 um^2/s\n", "    diffusion: -70 um^2/s\n",
     ["must be >= 0", "-70 um^2/s"], "diffusion:", "fields.SDF-1a.diffusion"),
    ("negative count", "count: 300 cells", "count: -3 cells", ["must be >= 0", "-3 cells"],
     "count: -3", "populations[0].count"),
    ("missing key", "  dt: 1 min\n", "", ["missing required key 'dt'"], "domain:", "domain.dt"),
    ("undeclared field", "bolus: {field: exosome", "bolus: {field: exosom",
     ["unknown field 'exosom'", "did you mean 'exosome'?"], "exosom,", "events[2].bolus.field"),
    ("undeclared cell type", "  - cell_type: Microglia\n    region: penumbra",
     "  - cell_type: Microglai\n    region: penumbra",
     ["unknown cell type 'Microglai'", "did you mean 'Microglia'?"], "Microglai",
     "populations[0].cell_type"),
    ("not a built-in type", "  Microglia:\n", "  Microglias:\n",
     ["unknown cell type 'Microglias'", "did you mean 'Microglia'?"], "Microglias:",
     "cell_types.Microglias"),
    ("region outside", "outer_radius: 300 um", "outer_radius: 700 um",
     ["extends beyond the domain 0–1200 µm along x"], "outer_radius: 700", "tissue.labels[0].region"),
    ("region without voxels", "radius: 150 um}, label", "radius: 5 um}, label",
     ["contains no voxel"], "radius: 5 um", "events[1].injury.region"),
    ("unparsable unit", "voxel: 20 um", "voxel: 20 umm", ["unknown unit 'umm'"], "voxel:",
     "domain.voxel"),
    ("bare number", "voxel: 20 um", "voxel: 20", ["give a unit", "'20 um'"], "voxel:",
     "domain.voxel"),
    ("bad YAML", "  seed: 1\n", "  seed: 1: 2\n", ["invalid YAML", "mapping values"], "seed: 1: 2",
     ""),
    ("unclosed bracket", "  seed: 1\n", "  seed: [1\n",
     ["invalid YAML", "flow sequence that starts on line 8"], "tissue:", ""),
    ("unknown region shape", "{shape: shell", "{shape: shel",
     ["unknown region shape 'shel'", "did you mean 'shell'?"], "shape: shel",
     "tissue.labels[0].region.shape"),
    ("half_life and decay", "    half_life: 38 min\n", "    half_life: 38 min\n    decay: 0.1 1/min\n",
     ["either decay or half_life, not both"], "half_life", "fields.SDF-1a.half_life"),
    ("mask file missing", "{shape: sphere, center: [600 um, 600 um, 400 um], radius: 150 um}",
     "{shape: mask, file: nope.npy}", ["mask file 'nope.npy' not found"], "nope.npy",
     "events[1].injury.region.file"),
    ("unknown readout", '"max VEGF"', '"maxx VEGF"', ["unknown readout 'maxx VEGF'",
                                                     "did you mean 'max'?"], "maxx",
     "outputs.readouts[4]"),
    ("unknown readout name", '"max VEGF"', '"max VEGG"', ["unknown field 'VEGG'",
                                                         "did you mean 'VEGF'?"], "VEGG",
     "outputs.readouts[4]"),
    ("unknown rule behaviour", "behaviour: speed", "behaviour: sped",
     ["no behaviour 'sped'", "did you mean 'speed'?"], "sped", "cell_types.BMSC.rules[0].behaviour"),
    ("unknown rule signal", "signal: SDF-1a", "signal: SDF-1b",
     ["cannot sense 'SDF-1b'", "did you mean 'SDF-1a'?"], "SDF-1b", "cell_types.BMSC.rules[0].signal"),
    ("rule unit", "half_max: 2 ng/mL", "half_max: 2 min",
     ["expected a concentration of SDF-1a", "(a time)"], "half_max: 2 min",
     "cell_types.BMSC.rules[0].half_max"),
    ("parameter unit", "      speed: 0.4 um/min", "      speed: 0.4 um",
     ["expected a speed"], "speed: 0.4 um", "cell_types.BMSC.parameters.speed"),
    ("unknown tissue label", "label: core", "label: cor",
     ["unknown tissue label 'cor'", "did you mean 'core'?"], "label: cor", "events[1].injury.label"),
    ("unknown region name", "target: penumbra", "target: penumbr",
     ["unknown region 'penumbr'", "did you mean 'penumbra'?"], "target: penumbr",
     "events[0].injection.target"),
    ("iv without fraction", ", delivered_fraction: 0.0005", "",
     ["needs delivered_fraction"], "injection:", "events[0].injection"),
    ("infinite first-order amount", "amount: 5 ng, law: first_order",
     "amount: inf, law: first_order", ["finite", "constant-law depot"], "amount: inf",
     "events[1].injury.release[0].amount"),
    ("two problems", "  seed: 1\n", "  seed: -1\n  capacity: many\n",
     ["must be >= 0", "(1 more problem; fix this one first)"], "seed: -1", "domain.seed"),
    ("duplicate key", "  seed: 1\n", "  seed: 1\n  seed: 2\n", ["key 'seed' given twice"],
     "seed: 2", "domain.seed"),
    ("too many cells", "count: 300 cells", "count: 1e9 cells", ["do not fit"], "count: 1e9",
     "populations[0].count"),
    ("field unit", "  VEGF:\n", "  VEGF:\n    unit: um\n", ["expected a concentration unit"],
     "unit: um", "fields.VEGF.unit"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_file(tmp_path, case, capsys):
    _, old, new, fragments, marker, path = case
    assert old in VALID
    text = VALID.replace(old, new, 1)
    p = tmp_path / "quickstart.yaml"
    p.write_text(text)
    with pytest.raises(ScenarioError) as ei:
        load_scenario(p)
    e = ei.value
    msg = str(e)
    line = _line_of(text, marker)
    assert msg.startswith(f"quickstart.yaml, line {line}" + (f", {path}: " if path else ": ")), msg
    for f in fragments:
        assert f in msg, msg
    assert (e.file, e.line, e.path) == ("quickstart.yaml", line, path)
    assert "\n" not in msg
    assert cli.main(["validate", str(p)]) == 2
    out = capsys.readouterr()
    assert out.err == f"abm: error: {msg}\n" and "Traceback" not in out.err and out.out == ""


@pytest.mark.parametrize("text, fragment", [
    ("- a\n- b\n", "the top level must be a mapping"),
    ("", "empty file"),
    ("name: x\n", "missing required key 'domain'"),
])
def test_bad_top_level(tmp_path, text, fragment, capsys):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(ScenarioError, match=fragment):
        load_scenario(p)
    assert cli.main(["validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err


def test_mask_of_wrong_shape(tmp_path):
    np.save(tmp_path / "small.npy", np.ones((10, 10, 10), bool))
    with pytest.raises(ScenarioError) as ei:
        load_scenario_text(_mask_scenario("file: small.npy"), "q.yaml", tmp_path)
    assert "has shape (10, 10, 10), but the domain is (60, 60, 40)" in str(ei.value)
    assert ei.value.path == "events[1].injury.region.file"


def test_missing_file(tmp_path, capsys):
    p = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError, match="scenario file not found") as ei:
        load_scenario(p)
    assert str(p) in str(ei.value)
    assert cli.main(["validate", str(p)]) == 2
    assert "not found" in capsys.readouterr().err


def test_yaml_is_loaded_safely(tmp_path):
    text = VALID.replace("name: quickstart", "name: !!python/object/apply:os.system ['echo hi']")
    with pytest.raises(ScenarioError, match="invalid YAML"):
        load_scenario_text(text, "q.yaml", tmp_path)


def test_documented_example_loads(tmp_path):
    """The annotated example in docs/scenario-format.md is a valid scenario."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "scenario-format.md").read_text()
    text = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "microglia_rules.csv").write_text(
        "cell_type,signal,direction,behaviour,max_response,half_max,hill_power\n"
        "Microglia,exosome,increases,transition:M1->M2,0.01,1.0,1\n")
    p = tmp_path / "example.yaml"
    p.write_text(text)
    sc = load_scenario(p)
    assert [t.name for t in sc.tissue] == ["parenchyma", "penumbra", "core"]
    assert sc.field("IL-6").unit == "pg/mL" and sc.field("IL-6").diffusion == pytest.approx(3000.0)
    assert sc.cell_types[1].rules == [("Microglia", "exosome", "increases", "transition:M1->M2",
                                       0.01, 1.0, 1.0)]
    inj = [e.spec for e in sc.events if e.kind == "injection"][0]
    assert inj.n_cells == 1000
    assert sc.outputs.readout_every == pytest.approx(10.0)


def test_voxel_count_matches_mask():
    for reg in (SphereRegion((300.0, 300.0, 300.0), 150.0),
                ShellRegion((310.0, 290.0, 305.0), 80.0, 170.0),
                EllipsoidRegion((300.0, 300.0, 300.0), (200.0, 100.0, 150.0)),
                BoxRegion((100.0, 0.0, 250.0), (300.0, 50.0, 600.0))):
        assert reg.voxel_count(SHAPE, DX) == reg.mask(SHAPE, DX).sum() > 0


def test_huge_lattice_loads_without_lattice_sized_arrays(tmp_path):
    import tracemalloc

    text = (VALID.replace("extent: [1.2 mm, 1.2 mm, 0.8 mm]", "extent: [100 mm, 100 mm, 100 mm]")
            .replace("voxel: 20 um", "voxel: 5 um"))
    tracemalloc.start()
    sc = load_scenario_text(text, "huge.yaml", tmp_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sc.domain.shape == (20000, 20000, 20000)
    assert peak < 100e6
    assert sc.populations[1].n_cells == pytest.approx(5e-5 * 1e15)   # density x (100 mm)^3
