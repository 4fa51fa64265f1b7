"""`abm validate` catches rules that contradict their own numbers, at the rule's line."""

from __future__ import annotations

from abm.cli import main

SCENARIO = """\
name: meaning
domain: {{extent: [100 um, 100 um, 100 um], voxel: 20 um, dt: 1 min, duration: 1 h}}
fields:
  BDNF: {{}}
  VEGF: {{}}
cell_types:
  Astrocyte:
    parameters: {{death: 1e-4 1/min}}
    rules:
{rule}
"""


def _validate(tmp_path, capsys, rule):
    p = tmp_path / "meaning.yaml"
    p.write_text(SCENARIO.format(rule=rule))
    rc = main(["validate", str(p)])
    return rc, capsys.readouterr().err


def test_a_protective_rule_above_the_base_death_rate_is_refused_at_its_line(tmp_path, capsys):
    rc, err = _validate(tmp_path, capsys, '      - {signal: BDNF, direction: decreases, behaviour: death,'
                                          ' max_response: 1e-3 1/min, half_max: 1 ng/mL, hill_power: 1}')
    assert rc == 2
    assert "meaning.yaml, line 10" in err and "above the base value" in err
    assert "Traceback" not in err


def test_secretion_switched_on_without_target_is_refused(tmp_path, capsys):
    rc, err = _validate(tmp_path, capsys, '      - {signal: VEGF, direction: increases, behaviour: "secretion:BDNF",'
                                          ' max_response: 0.01 1/min, half_max: 1 ng/mL, hill_power: 1}')
    assert rc == 2
    assert "line 10" in err and "no target:BDNF" in err


def test_a_rule_that_agrees_with_its_numbers_validates(tmp_path, capsys):
    rc, err = _validate(tmp_path, capsys, '      - {signal: BDNF, direction: decreases, behaviour: death,'
                                          ' max_response: 1e-5 1/min, half_max: 1 ng/mL, hill_power: 1}')
    assert rc == 0, err
