"""The README's set-up commands and CI's command stay in step."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one():
    cmds = _readme_commands()
    assert len(cmds) == 2
    assert "abm run scenarios/quickstart.yaml" in cmds[0] and "pytest" in cmds[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert cmds[1] in ci, "the test command in .ci/run must be the README's, verbatim"


def test_demo_cli_refuses_to_overwrite_and_bad_input(tmp_path, capsys):
    from abm.cli import main

    out = tmp_path / "pic.png"
    out.write_bytes(b"earlier result")
    assert main(["demo", "--out", str(out)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"earlier result"
    assert main(["demo", "--hours", "-1", "--out", str(tmp_path / "x.png")]) == 2
    assert main(["demo", "--out", str(tmp_path / "x.gif")]) == 2


def test_demo_runs_and_balances_exosomes(tmp_path):
    """A short demo run: exosome depot + tissue + cleared = loaded, picture written."""
    from abm.demo import run_demo

    out = tmp_path / "demo.png"
    s = run_demo(hours=1.0, out=out, backend="numpy", quiet=True)
    assert out.stat().st_size > 10_000
    assert s["exosome_in_depot"] + s["exosome_released"] == __import__("pytest").approx(1e6, rel=1e-12)
    assert 0 < s["exosome_in_tissue"] <= s["exosome_released"]
    prof = [c for _, c in s["sdf_profile"]]
    assert prof[2] > prof[-1] > 0  # SDF-1a falls off away from the lesion border


def test_readme_cells_example_runs():
    """The Python example in the README's Cells section runs as written."""
    import contextlib
    import io
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = text.split("## Cells", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README-cells", "exec"), {})
    assert "M2" in out.getvalue()
