"""The golden harness itself: it finds the scenario files, and it sees a one-ulp change.

Checked on a tiny two-arm scenario in a temporary scenarios folder, so that these tests do
not depend on the shipped scenarios.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "experiment"))

import regen  # noqa: E402
from goldens import Case, cases, check_case, golden_run  # noqa: E402
from tiny_experiment import TEXT  # noqa: E402

from abm.experiment import write_exact_table  # noqa: E402
from abm.scenario import load_scenario  # noqa: E402


@pytest.fixture()
def tree(tmp_path):
    root = tmp_path / "scenarios"
    (root / "brain").mkdir(parents=True)
    (root / "trials").mkdir()
    (root / "brain" / "tiny.yaml").write_text(TEXT)
    (root / "trials" / "sweep.yaml").write_text(TEXT)                     # skipped: trials/
    (root / "notes.yaml").write_text("title: not a scenario\nitems: [1, 2]\n")  # no domain:
    (root / "broken.yml").write_text("domain: [unclosed\n")               # kept: fails loudly
    gold = tmp_path / "golden"
    gold.mkdir()
    return root, gold


def test_scenario_files_and_arms_are_found_and_the_rest_skipped(tree):
    root, gold = tree
    found = [(c.rel, c.arm) for c in cases(root, gold)]
    assert found == [("brain/tiny.yaml", "treated"), ("brain/tiny.yaml", "control"),
                     ("broken.yml", None)]
    c = cases(root, gold)[1]
    assert c.golden == gold / "brain__tiny__control.csv"
    assert c.regen == "python -m tests.golden.regen --only brain/tiny"


def test_a_missing_golden_says_the_command_to_run(tree):
    root, gold = tree
    case = Case("brain/tiny.yaml", "treated", root, gold)
    columns, meta = golden_run(case)
    msg = check_case(case, columns, meta)
    assert "no golden table for brain/tiny.yaml[treated]" in msg
    assert "python -m tests.golden.regen --only brain/tiny" in msg


def test_the_golden_run_is_shortened_and_records_every_step(tree):
    root, gold = tree
    case = Case("brain/tiny.yaml", "treated", root, gold)
    columns, meta = golden_run(case)
    # injection at 10 min, dt 2 min: fires at step 5, then 5 steps more
    assert list(columns["step"]) == list(range(11))
    assert columns["count BMSC"][-1] > 0 and columns["count BMSC"][4] == 0
    assert meta["overrides"][0] == "domain.duration=20.0 min" and meta["seed"] == 1
    write_exact_table(case.golden, columns, meta)
    again, meta2 = golden_run(case)
    assert check_case(case, again, meta2) is None                         # reproducible


@pytest.mark.parametrize("what", ["bolus amount, 1 ulp", "decay, relative 1e-12"])
def test_a_slightly_changed_parameter_fails_the_comparison(tree, what):
    root, gold = tree
    case = Case("brain/tiny.yaml", "treated", root, gold)
    columns, meta = golden_run(case)
    write_exact_table(case.golden, columns, meta)
    if what.startswith("bolus"):
        # the bolus (event 1 in the file) of 1 ng, one ulp more
        extra = [f"events.1.bolus.amount={float(np.nextafter(1.0, 2.0))!r} ng"]
    else:
        decay = load_scenario(root / case.rel).fields[0].decay               # 1/min
        extra = [f"fields.SDF-1a.decay={decay * (1 + 1e-12)!r} 1/min"]
    changed, _ = golden_run(case, extra=extra)
    msg = check_case(case, changed, meta)         # compared under the golden's own settings
    assert msg is not None and "'total SDF-1a' differs first at row" in msg
    assert "no longer reproduces its golden table brain__tiny__treated.csv" in msg
    assert "regenerate with `python -m tests.golden.regen --only brain/tiny`" in msg


def test_a_one_ulp_change_in_a_run_table_is_seen(tree):
    root, gold = tree
    case = Case("brain/tiny.yaml", "treated", root, gold)
    columns, meta = golden_run(case)
    write_exact_table(case.golden, columns, meta)
    col = columns["total SDF-1a"].copy()
    col[-1] = np.nextafter(col[-1], np.inf)
    msg = check_case(case, {**columns, "total SDF-1a": col}, meta)
    assert msg is not None and "1 ulp" in msg and "1 of 11 rows differ" in msg


def test_other_shortening_settings_ask_for_a_regeneration(tree):
    root, gold = tree
    case = Case("brain/tiny.yaml", "control", root, gold)
    columns, meta = golden_run(case)
    write_exact_table(case.golden, columns, meta)
    table = {"brain/tiny.yaml": {"steps_after": 2}}
    columns2, meta2 = golden_run(case, shorten_table=table)
    msg = check_case(case, columns2, meta2)
    assert "was made with overrides" in msg and "--only brain/tiny" in msg


def test_regen_writes_the_golden_and_names_unknown_scenarios(tree, monkeypatch, capsys):
    root, gold = tree
    monkeypatch.setattr(regen, "cases", lambda: cases(root, gold)[:2])
    monkeypatch.setattr(regen, "GOLDEN_DIR", gold)
    (gold / "old__gone.csv").write_text('# format: "bmsc-abm exact readout table 1"\na\n')
    assert regen.main([]) == 0
    assert sorted(p.name for p in gold.glob("*.csv")) == ["brain__tiny__control.csv",
                                                          "brain__tiny__treated.csv"]
    for c in cases(root, gold)[:2]:
        columns, meta = golden_run(c)
        assert check_case(c, columns, meta) is None
    assert regen.main(["--only", "tiyn"]) == 2
    assert "no scenario matches tiyn; the scenarios are: brain/tiny" in capsys.readouterr().err


def test_regen_only_removes_the_stale_tables_of_that_scenario(tree, monkeypatch):
    root, gold = tree
    monkeypatch.setattr(regen, "cases", lambda: cases(root, gold)[:2])
    monkeypatch.setattr(regen, "GOLDEN_DIR", gold)
    head = '# format: "bmsc-abm exact readout table 1"\na\n'
    (gold / "brain__tiny.csv").write_text(head)           # the table from before it had arms
    (gold / "other.csv").write_text(head)                 # another scenario's: kept
    assert regen.main(["--only", "brain/tiny"]) == 0
    assert sorted(p.name for p in gold.glob("*.csv")) == [
        "brain__tiny__control.csv", "brain__tiny__treated.csv", "other.csv"]
