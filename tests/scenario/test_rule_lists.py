"""A cell type's ``rules:`` as a list of rule rows and rules tables (opt-in tables).

``rules: [seeds:rules/macrophage.csv, seeds:rules/macrophage_acidification.csv, {row}]`` adds
each table's rows and each row where it stands, so a scenario can opt into an extra table
(the acidification tables need the ``H+`` field, which other scenarios need not declare).
Problems are reported at the list item's line.
"""

from __future__ import annotations

import pytest

from abm.cli import main
from abm.rules import load_rules
from abm.scenario import ScenarioError, load_scenario_text
from abm.seeds import rules_table

BASE = """\
name: lists
domain: {extent: [100 um, 100 um, 100 um], voxel: 20 um, dt: 1 h, duration: 1 d, seed: 1}
fields:
  RANKL: {}
  TNF-a: {}
  BMP-2: {}
  exosome: {}
  H+: {}
processes:
  estrogen: {}
cell_types:
  Osteoclast: {}
  Macrophage:
    rules:
      - "seeds:rules/macrophage.csv"
      - "seeds:rules/macrophage_acidification.csv"
      - {signal: RANKL, direction: increases, behaviour: speed, max_response: 0.5 um/min, half_max: 1 ng/mL, hill_power: 1}
"""


def load(text=BASE):
    return load_scenario_text(text, name="lists.yaml")


def test_a_list_adds_each_table_and_each_row_in_order():
    _, mac = load().cell_types
    base = load_rules(rules_table("macrophage"))
    acid = load_rules(rules_table("macrophage_acidification"))
    assert len(mac.rules) == len(base) + len(acid) + 1 == 11
    assert [r[3] for r in mac.rules[len(base):]] == ["target:H+", "secretion:H+", "speed"]
    # the acidification rows, in internal units: nM of excess H+ and 1/min
    (_, sig, direction, beh, mx, hm, n) = mac.rules[len(base)]
    assert (sig, direction, beh, mx, hm, n) == ("state:M1", "increases", "target:H+", 276.0,
                                                0.5, 10.0)
    assert mac.rules[len(base) + 1][4] == 6.0
    assert mac.rules[-1][4] == pytest.approx(0.5) and mac.rules[-1][5] == 1.0


def test_a_single_table_still_loads_as_before():
    text = BASE.split("    rules:\n")[0] + '    rules: "seeds:rules/macrophage.csv"\n'
    _, mac = load(text).cell_types
    assert len(mac.rules) == len(load_rules(rules_table("macrophage"))) == 8


@pytest.mark.parametrize("old, new, line, path, words", [
    # the same table twice would count its rows twice
    ('      - {signal: RANKL', '      - "seeds:rules/macrophage.csv"\n      - {signal: RANKL', 17,
     "cell_types.Macrophage.rules[2]",
     "rules table 'seeds:rules/macrophage.csv' is named twice; its rows would count twice"),
    # a table of another cell type, at its item's line
    ('      - "seeds:rules/macrophage_acidification.csv"',
     '      - "seeds:rules/osteoclast_acidification.csv"', 16, "cell_types.Macrophage.rules[1]",
     "osteoclast_acidification.csv line 10: the row is for 'Osteoclast'"),
    ('      - "seeds:rules/macrophage_acidification.csv"',
     '      - "seeds:rules/macrophage_acidfication.csv"', 16, "cell_types.Macrophage.rules[1]",
     "did you mean 'seeds:rules/macrophage_acidification.csv'"),
    # neither a row nor a table
    ('      - "seeds:rules/macrophage_acidification.csv"', "      - 3", 16,
     "cell_types.Macrophage.rules[1]",
     "expected a rule row (a mapping) or the path of a rules CSV, got 3"),
    # the acidification table without the H+ field: the fix is named
    ("  H+: {}\n", "", 15, "cell_types.Macrophage.rules[1]",
     "macrophage_acidification.csv line 10: Macrophage has no behaviour 'target:H+'; the field "
     "'H+' is not declared: add it under fields (e.g. 'H+: {}' for its seeds/fields.csv row)"),
])
def test_list_problems_are_one_line_at_the_item(tmp_path, capsys, old, new, line, path, words):
    text = BASE.replace(old, new, 1)
    assert text != BASE
    with pytest.raises(ScenarioError) as ei:
        load(text)
    e = ei.value
    assert (e.line, e.path) == (line, path), str(e)
    assert words in e.problem, str(e)
    p = tmp_path / "lists.yaml"
    p.write_text(text)
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("abm: error: lists.yaml, line ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_an_inline_row_naming_an_undeclared_field_names_the_fix():
    text = BASE.replace("  H+: {}\n", "").replace(
        '      - "seeds:rules/macrophage_acidification.csv"\n', "").replace(
        "behaviour: speed, max_response: 0.5 um/min",
        'behaviour: "secretion:H+", max_response: 1 1/min')
    with pytest.raises(ScenarioError) as ei:
        load(text)
    assert ei.value.path == "cell_types.Macrophage.rules[1].behaviour", str(ei.value)
    assert ei.value.problem == ("Macrophage has no behaviour 'secretion:H+'; the field 'H+' is not "
                                "declared: add it under fields (e.g. 'H+: {}' for its "
                                "seeds/fields.csv row)")
