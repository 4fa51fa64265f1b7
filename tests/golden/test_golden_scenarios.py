"""Every shipped scenario, shortened, reproduces its stored golden readout table bit for bit.

One test per scenario file and arm (:mod:`goldens` says which runs and how they are
shortened; its ``SHORTEN`` table holds the per-file settings). A change that alters any
readout at any step fails here with the first row that differs; a new scenario without a
golden table fails with the command that makes it. Regenerate only for an intended change:
``python -m tests.golden.regen [--only NAME]``.
"""

import difflib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from goldens import GOLDEN_DIR, SCENARIOS, SHORTEN, cases, check_case, golden_run  # noqa: E402

CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_scenario_reproduces_its_golden_table(case):
    if not case.golden.exists():       # said before the run, which may take seconds
        pytest.fail(check_case(case, {}, {}), pytrace=False)
    columns, meta = golden_run(case)
    problem = check_case(case, columns, meta)
    if problem:
        pytest.fail(problem, pytrace=False)


def test_every_golden_table_belongs_to_a_scenario():
    made = {c.golden for c in CASES}
    stale = [p.name for p in sorted(GOLDEN_DIR.glob("*.csv")) if p not in made]
    assert not stale, (f"golden tables no scenario writes: {', '.join(stale)}; remove them "
                       "(python -m tests.golden.regen removes them)")


def test_every_shorten_entry_names_a_scenario():
    known = {c.rel for c in CASES}
    bad = []
    for key in SHORTEN:
        if key in known:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)
        if close:                                   # a misspelt file name
            bad.append(f"{key} (did you mean {close[0]}?)")
        elif (SCENARIOS / key).exists():            # a file that is not a scenario
            bad.append(f"{key} (not a scenario file: no domain:)")
    # an entry for a file not there at all (a scenario still to be committed) is harmless
    assert not bad, f"SHORTEN entries that name no scenario: {', '.join(bad)}"
