"""Tissue processes in scenario files.

``processes:`` names a registered process and gives
its parameters with units; they are converted by each parameter's Kind, built into
instances for the model, sensed by rules as ``tissue_state:<name>``, and read by ``mean``
and ``max`` readouts like fields.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm import units as U
from abm.registry import PROCESSES
from abm.run.runner import build_model, evaluate_readouts, run_scenario
from abm.runfile import open_run
from abm.scenario import ScenarioError, load_scenario_text
from abm.tissue import TissueProcess


class Viability(TissueProcess):
    """First-order loss of viability, faster in the lesion."""

    name = "test_viability"
    states = {"viability": (1.0, "1")}
    parameters = {"death_rate": (0.0, U.RATE), "lesion_factor": (1.0, U.DIMENSIONLESS)}

    def step(self, model, states, dt):
        v = states["viability"]
        rate = self.p["death_rate"] * model.xp.ones_like(v)
        if "core" in model.tissue_names:
            lab = model.xp.asarray(np.asarray(model.fields.labels).reshape(-1))
            rate[lab == model.tissue_names.index("core")] *= self.p["lesion_factor"]
        v *= model.xp.exp(-rate * dt)


@pytest.fixture(autouse=True)
def registered():
    PROCESSES.register(Viability, replace=True)
    yield
    PROCESSES.unregister("test_viability")


TEXT = """\
name: tissue
domain: {extent: [200 um, 200 um, 200 um], voxel: 20 um, dt: 2 min, duration: 20 min, seed: 1}
tissue:
  labels:
    - {name: core, region: {shape: box, lower: [0 um, 0 um, 0 um], upper: [100 um, 200 um, 200 um]}}
fields:
  VEGF: {}
processes:
  test_viability: {death_rate: 0.6 1/h, lesion_factor: 3}
cell_types:
  Microglia:
    rules:
      - {signal: "tissue_state:viability", direction: decreases, behaviour: death, max_response: 0 1/min, half_max: 0.5, hill_power: 1}
populations:
  - {cell_type: Microglia, region: all, count: 10}
outputs:
  readout_every: 2 min
  readouts: [mean viability, mean viability in core, max viability in parenchyma, count Microglia]
"""


def load(text=TEXT):
    return load_scenario_text(text, name="tissue.yaml")


def test_processes_are_parsed_with_units():
    sc = load()
    (p,) = sc.processes
    assert (p.name, p.cls) == ("test_viability", Viability)
    assert p.parameters == {"death_rate": pytest.approx(0.01), "lesion_factor": 3.0}  # 0.6/h
    inst = p.instance()
    assert inst.p == {"death_rate": pytest.approx(0.01), "lesion_factor": 3.0}
    assert sc.tissue_state_units == {"viability": "1"}
    assert "tissue processes: test_viability (death_rate 0.01, lesion_factor 3): states " \
           "viability" in sc.summary()
    r = sc.outputs.readouts[0]
    assert (r.kind, r.tissue_state, r.field, r.unit) == ("mean", "viability", None, "1")


@pytest.mark.parametrize("old, new, line, path, words", [
    ("death_rate: 0.6 1/h", "death_rate: 0.6 um", 9, "processes.test_viability.death_rate",
     "expected a rate"),
    ("death_rate: 0.6 1/h", "death_rte: 0.6 1/h", 9, "processes.test_viability.death_rte",
     "did you mean 'death_rate'"),
    ("  test_viability: {", "  test_viabilty: {", 9, "processes.test_viabilty",
     "unknown tissue process 'test_viabilty' (did you mean 'test_viability'?)"),
    ('"tissue_state:viability"', '"tissue_state:viabilty"', 13,
     "cell_types.Microglia.rules[0].signal", "did you mean 'tissue_state:viability'"),
    ("mean viability in core,", "mean viabilty in core,", 18, "outputs.readouts[1]",
     "did you mean 'viability'"),
])
def test_process_errors_are_line_precise(old, new, line, path, words):
    with pytest.raises(ScenarioError) as ei:
        load(TEXT.replace(old, new, 1))
    e = ei.value
    assert words in e.problem, str(e)
    assert (e.line, e.path) == (line, path), str(e)


def test_the_model_gets_the_processes_and_readouts_follow_the_states():
    sc = load()
    m = build_model(sc, backend="numpy")
    assert [type(p) for p in m.processes] == [Viability]
    assert m.processes[0].p["death_rate"] == pytest.approx(0.01)
    m.seed_cells("Microglia", 10)
    for _ in range(5):
        m.step()
    t = 10.0  # min
    vals = evaluate_readouts(m, sc.outputs.readouts)
    core, outside = math.exp(-0.03 * t), math.exp(-0.01 * t)
    assert vals["mean viability in core"] == pytest.approx(core, rel=1e-12)
    assert vals["max viability in parenchyma"] == pytest.approx(outside, rel=1e-12)
    assert vals["mean viability"] == pytest.approx((core + outside) / 2, rel=1e-12)


def test_a_run_records_the_tissue_states(tmp_path):
    out = run_scenario(load(), tmp_path / "tissue.h5", progress=False, backend="numpy")
    with open_run(out) as r:
        ro = r.readouts()
        assert r.readout_units["mean viability"] == "1"
        v_end = r.tissue_state("viability")            # the last snapshot, [x, y, z]
    assert v_end[:5] == pytest.approx(math.exp(-0.03 * 20.0), rel=1e-12)    # the core half
    assert v_end[5:] == pytest.approx(math.exp(-0.01 * 20.0), rel=1e-12)
    t = ro["time_min"]
    assert ro["mean viability in core"] == pytest.approx(np.exp(-0.03 * t), rel=1e-12)
    assert ro["max viability in parenchyma"] == pytest.approx(np.exp(-0.01 * t), rel=1e-12)


BONE = """\
name: bone_processes
domain: {extent: [100 um, 100 um, 100 um], voxel: 20 um, dt: 1 h, duration: 1 d}
fields:
  TGF-b: {}
processes:
  mineral:
    threshold: 0.5
    apposition_rate: 1 um/d
  estrogen:
    residual: 0.1
"""


@pytest.mark.parametrize("old, new, line, path, words", [
    # the process's own range checks, made at load time (they used to wait for the model)
    ("threshold: 0.5", "threshold: 2", 7, "processes.mineral.threshold",
     "threshold must lie between 0 and 1 (a mineral fraction), got 2.0"),
    ("residual: 0.1", "residual: 1.5", 10, "processes.estrogen.residual",
     "residual must lie between 0 and 1 (a share of the intact level), got 1.5"),
    ("apposition_rate: 1 um/d", "apposition_rate: -1 um/d", 8,
     "processes.mineral.apposition_rate", "must be >= 0, got '-1 um/d'"),
    ("threshold: 0.5", "treshold: 0.5", 7, "processes.mineral.treshold",
     "mineral has no parameter 'treshold' (did you mean 'threshold'?)"),
])
def test_abm_validate_checks_process_parameters_at_their_line(tmp_path, capsys, old, new, line,
                                                              path, words):
    from abm.cli import main  # noqa: PLC0415

    text = BONE.replace(old, new, 1)
    assert text != BONE
    with pytest.raises(ScenarioError) as ei:
        load_scenario_text(text, name="bone.yaml")
    e = ei.value
    assert (e.line, e.path) == (line, path), str(e)
    assert e.problem.startswith(words), str(e)
    p = tmp_path / "bone.yaml"
    p.write_text(text)
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert err == f"abm: error: bone.yaml, line {line}, {path}: {e.problem}\n", err
    assert "Traceback" not in err


def test_good_process_parameters_still_load():
    sc = load_scenario_text(BONE, name="bone.yaml")
    mineral, estrogen = sc.processes
    assert mineral.parameters == {"threshold": 0.5, "apposition_rate": pytest.approx(1 / 1440)}
    assert estrogen.instance().p["residual"] == 0.1
