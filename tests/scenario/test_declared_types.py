"""Cell types declared in scenario files.

New types, ``extends:``, their cross references,
their errors at the right line, and their run (readouts count them, the run file records
their structure and colours).
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.biology import BMSC
from abm.registry import CELL_TYPES
from abm.run.runner import build_model, evaluate_readouts, place_populations, run_scenario
from abm.runfile import open_run
from abm.scenario import ScenarioError, load_scenario_text

BASE = """\
name: declared
domain: {extent: [200 um, 200 um, 200 um], voxel: 20 um, dt: 1 min, duration: 6 min, seed: 3}
fields:
  SDF-1a: {}
  VEGF: {}
cell_types:
  HomingBMSC:
    extends: BMSC
    colour: "#112233"
    parameters: {speed: 0.5 um/min}
  Odontoclast:
    states: [resting, resorbing]
    variables: {activity: 0.3}
    chemotaxis: {field: SDF-1a, receptor: activity}
    state_colours: {resorbing: "#aa0000"}
    parameters: {speed: 0.1 um/min, "transition:resting->resorbing": 0.01 1/min}
    rules:
      - {signal: "var:activity", direction: increases, behaviour: "transition:resting->resorbing", max_response: 0.1 1/min, half_max: 0.5, hill_power: 2}
populations:
  - {cell_type: HomingBMSC, region: all, count: 50}
  - {cell_type: Odontoclast, region: all, count: 40, state: resorbing}
outputs:
  readouts: [count HomingBMSC, count Odontoclast resorbing, count Odontoclast resting, fraction Odontoclast resorbing]
"""


def load(text=BASE, **kw):
    return load_scenario_text(text, name="declared.yaml", **kw)


def error_of(text) -> ScenarioError:
    with pytest.raises(ScenarioError) as ei:
        load(text)
    return ei.value


def test_declared_and_extended_types_resolve():
    sc = load()
    ext, new = sc.cell_types
    assert (ext.name, ext.declared, new.name, new.declared) == ("HomingBMSC", True,
                                                                 "Odontoclast", True)
    # extends BMSC: its structure and every parameter (seed defaults included) carry over
    assert issubclass(ext.cls, BMSC) and ext.cls.cell_type == "HomingBMSC"
    assert ext.cls.chemotaxis_field == "SDF-1a" and ext.cls.variables == ("CXCR4",)
    assert ext.cls.default_parameters() == BMSC.default_parameters()
    assert ext.parameters == {"speed": pytest.approx(0.5)}
    assert ext.cls.colour == "#112233"
    # a new type: its states, variables with initial values, chemotaxis, colours
    c = new.cls
    assert c.states == ("resting", "resorbing") and c.variables == ("activity",)
    assert c.chemotaxis_field == "SDF-1a" and c.chemotaxis_receptor == "activity"
    assert c.default_parameters()["initial:activity"] == pytest.approx(0.3)
    assert c.state_colours == {"resorbing": "#aa0000"}
    assert new.parameters["transition:resting->resorbing"] == pytest.approx(0.01)
    assert new.rules == [("Odontoclast", "var:activity", "increases",
                          "transition:resting->resorbing", pytest.approx(0.1), 0.5, 2.0)]
    # declared types are not registered: they belong to their scenario
    assert "HomingBMSC" not in CELL_TYPES and "Odontoclast" not in CELL_TYPES


def test_declared_types_are_built_and_counted():
    sc = load()
    m = build_model(sc, backend="numpy")
    place_populations(m, sc)
    assert m.params["HomingBMSC"]["speed"] == pytest.approx(0.5)
    assert m.params["HomingBMSC"]["chemotaxis"] == BMSC.default_parameters()["chemotaxis"]
    vals = evaluate_readouts(m, sc.outputs.readouts)
    assert vals == {"count HomingBMSC": 50.0, "count Odontoclast resorbing": 40.0,
                    "count Odontoclast resting": 0.0, "fraction Odontoclast resorbing": 1.0}
    act = np.asarray(m.populations["Odontoclast"].columns["activity"])
    assert act == pytest.approx(np.full(40, 0.3))


def test_declared_types_run_and_the_run_file_records_them(tmp_path):
    out = run_scenario(load(), tmp_path / "declared.h5", progress=False, backend="numpy")
    with open_run(out) as r:
        ro = r.readouts()
        assert r.cell_states["Odontoclast"] == ["resting", "resorbing"]
        assert r.cell_colours["HomingBMSC"]["colour"] == "#112233"
        assert r.cell_colours["Odontoclast"]["states"] == {"resorbing": "#aa0000"}
        n_ext = r.agent_count("HomingBMSC")
        n_new = r.agent_count("Odontoclast")
    # readouts count the declared types exactly as the agent tables do
    assert ro["count HomingBMSC"][0] == 50 and ro["count HomingBMSC"][-1] == n_ext
    total = ro["count Odontoclast resorbing"] + ro["count Odontoclast resting"]
    assert total[0] == 40 and total[-1] == n_new


@pytest.mark.parametrize("old, new, line, path, words", [
    ('    colour: "#112233"', '    colur: "#112233"', 9, "cell_types.HomingBMSC.colur",
     "unknown key 'colur' (did you mean 'colour'?)"),
    ("states: [resting, resorbing]", "states: [resting, resting]", 12, "cell_types.Odontoclast.states",
     "state 'resting' is declared twice"),
    ("  Odontoclast:\n", "  Odontoclast:\n    extends: BMCS\n", 12, "cell_types.Odontoclast.extends",
     "did you mean 'BMSC'"),
    ("{field: SDF-1a, receptor", "{field: SDF1a, receptor", 14,
     "cell_types.Odontoclast.chemotaxis.field", "unknown field 'SDF1a' (did you mean 'SDF-1a'?)"),
    ("{field: SDF-1a, receptor: activity}", "{field: SDF-1a, receptor: CXCR4}", 14,
     "cell_types.Odontoclast.chemotaxis.receptor", "receptor 'CXCR4' is not one of its variables"),
    ("  Odontoclast:\n", "  Odontoclast:\n    colour: red\n", 12, "cell_types.Odontoclast.colour",
     "'#rrggbb'"),
    ("variables: {activity: 0.3}", "variables: {activity: 1.3}", 13,
     "cell_types.Odontoclast.variables.activity", "must be <= 1"),
])
def test_bad_declarations_are_reported_at_their_line(old, new, line, path, words):
    assert old in BASE
    e = error_of(BASE.replace(old, new, 1))
    assert words in e.problem, str(e)
    assert (e.line, e.path) == (line, path), str(e)


def test_cross_references_work_for_declared_types():
    e = error_of(BASE.replace("count: 40, state: resorbing", "count: 40, state: resorbng"))
    assert "Odontoclast has no state 'resorbng' (did you mean 'resorbing'?)" in e.problem
    assert (e.line, e.path) == (21, "populations[1].state")
    e = error_of(BASE.replace('signal: "var:activity"', 'signal: "var:activty"'))
    assert "cannot sense 'var:activty' (did you mean 'var:activity'?)" in e.problem
    assert (e.line, e.path) == (18, "cell_types.Odontoclast.rules[0].signal")
    e = error_of(BASE.replace("count Odontoclast resting", "count Odontoclast idle"))
    assert "Odontoclast has no state 'idle'" in e.problem and e.line == 23
    e = error_of(BASE.replace('behaviour: "transition:resting->resorbing"',
                              'behaviour: "transition:resting->idle"'))
    assert "has no behaviour 'transition:resting->idle'" in e.problem
    e = error_of(BASE.replace('{speed: 0.1 um/min,', '{speed: 0.1 um,'))
    assert "expected a speed" in e.problem and e.path == "cell_types.Odontoclast.parameters.speed"


def test_structure_of_a_registered_type_cannot_be_changed_in_place():
    text = BASE.replace("  HomingBMSC:\n    extends: BMSC\n", "  BMSC:\n    states: [a, b]\n") \
        .replace("HomingBMSC", "BMSC")
    e = error_of(text)
    assert "BMSC is a registered cell type" in e.problem and "extends: BMSC" in e.problem
    assert (e.line, e.path) == (8, "cell_types.BMSC.states")


def test_an_unknown_name_that_declares_nothing_is_still_a_typo():
    e = error_of(BASE.replace("  HomingBMSC:\n    extends: BMSC\n    colour: \"#112233\"\n",
                              "  BMCS:\n"))
    assert "unknown cell type 'BMCS' (did you mean 'BMSC'?)" in e.problem and e.line == 7


def test_rule_meaning_is_checked_at_the_rules_line():
    bad = BASE.replace("max_response: 0.1 1/min", "max_response: 0.001 1/min")
    e = error_of(bad)
    assert "below the base value 0.01" in e.problem and "write 'decreases'" in e.problem
    assert (e.line, e.path) == (18, "cell_types.Odontoclast.rules[0]")


def test_a_run_with_declared_types_resumes_to_the_same_result(tmp_path):
    from abm.run.runner import resume_run

    whole = run_scenario(load(), tmp_path / "whole.h5", progress=False, backend="numpy")
    part = run_scenario(load(overrides=("domain.duration=3 min",)), tmp_path / "part.h5",
                        progress=False, backend="numpy")
    resume_run(part, until="6 min", progress=False)
    with open_run(whole) as a, open_run(part) as b:
        ra, rb = a.readouts(), b.readouts()
        assert set(ra) == set(rb)
        for k in ra:
            assert np.array_equal(ra[k], rb[k]), k
        for t in ("HomingBMSC", "Odontoclast"):
            ta, tb = a.agents(t), b.agents(t)
            for col in ta:
                assert np.array_equal(ta[col], tb[col]), (t, col)
