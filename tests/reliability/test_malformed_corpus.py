"""A corpus of malformed scenario files, each what a biologist gets wrong (issue 16, item 6).

Units, typos, structure, encodings, sizes and values out of range (``corpus/``, written
for this project; the file name says what is wrong). Every file must give exit 2, one
short line on stderr naming the problem, no traceback, within a few seconds.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from abm.cli import main

CORPUS = Path(__file__).resolve().parent / "corpus"
FILES = sorted(CORPUS.glob("*.yaml"))


def check_refused(path: Path, capsys) -> str:
    t0 = time.monotonic()
    code = main(["validate", str(path)])
    took = time.monotonic() - t0
    out, err = capsys.readouterr()
    assert code == 2, f"{path.name}: exit {code}\n{out}{err}"
    assert "Traceback" not in out + err and "internal error" not in err, err
    assert err.startswith("abm: error: ") and err.count("\n") == 1, err
    assert len(err) < 600, err
    assert took < 5, f"{path.name} took {took:.1f} s"
    return err


def test_the_corpus_has_at_least_60_files():
    assert len(FILES) >= 60


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_a_malformed_scenario_gets_one_clear_line_and_exit_2(path, capsys):
    check_refused(path, capsys)


def test_a_scenario_over_the_size_limit(tmp_path, capsys):
    p = tmp_path / "size_5mb.yaml"
    p.write_text("name: big\n" + "# padding\n" * 500_000)
    assert "over the limit" in check_refused(p, capsys)
