"""Sweeps: designs, their runs on a real LocalCluster, Sobol' and Morris sensitivity (SALib)."""

import sys
from pathlib import Path

import numpy as np
import pytest

from abm.cli import main
from abm.scenario import ScenarioError
from abm.trial.designs import design_points, parse_axis
from abm.trial.sweep import check_sweep, load_sweep, plan_runs, run_sweep

sys.path.insert(0, str(Path(__file__).parent))

from trial_helpers import SCENARIO  # noqa: E402

pytest.importorskip("SALib")

SWEEP = """\
sweep:
  name: sw
  scenario: tiny.yaml
  seed: 5
  set: [arm=treated]
  design: {design}
{samples}  axes:
    events.0.injection.dose: {dose}
    events.1.bolus.amount: {bolus}
  outcomes: [{{readout: count BMSC, at: 30 min}}]
"""
RANGES = dict(dose="{low: 4 cells, high: 30 cells, whole: true}", bolus="{low: 0.5 ng, high: 2 ng}")


def _write(tmp_path, design, samples=None, **axes) -> Path:
    (tmp_path / "tiny.yaml").write_text(SCENARIO.format(duration="40 min"))
    spec = {**RANGES, **axes}
    text = SWEEP.format(design=design, samples=f"  samples: {samples}\n" if samples else "", **spec)
    p = tmp_path / "sweep.yaml"
    p.write_text(text)
    return p


def test_grid_and_list_designs_are_the_product_and_the_pairs():
    a = parse_axis("a", {"values": ["1 h", "2 h"]}, "grid")
    b = parse_axis("b", {"values": ["10 um", "0.02 mm", "30 um"]}, "grid")
    assert b.values == (10.0, 20.0, 30.0) and b.unit == "um"
    x = design_points("grid", [a, b])
    assert sorted(map(tuple, x)) == sorted((i, j) for i in (1, 2) for j in (10, 20, 30))
    c = parse_axis("c", {"values": ["5 cells", "6 cells", "7 cells"]}, "list")
    assert design_points("list", [b, c]).tolist() == [[10, 5], [20, 6], [30, 7]]


def test_a_latin_hypercube_puts_one_point_in_each_stratum_of_each_axis():
    axes = [parse_axis("a", {"low": "0 um", "high": "100 um"}, "lhs"),
            parse_axis("b", {"low": "1 h", "high": "3 h"}, "lhs")]
    x = design_points("lhs", axes, samples=10, seed=3)
    assert x.shape == (10, 2)
    assert sorted(np.floor(x[:, 0] / 10).astype(int)) == list(range(10))
    assert sorted(np.floor((x[:, 1] - 1) / 0.2).astype(int)) == list(range(10))


def test_sobol_indices_find_the_only_value_that_matters(tmp_path, dask_client):
    sweep = load_sweep(_write(tmp_path, "sobol", samples=4))
    x, runs = plan_runs(sweep, tmp_path / "out")
    assert x.shape == (4 * (2 + 2), 2) and len(runs) == 16
    res = run_sweep(sweep, tmp_path / "out", client=dask_client, progress=False, echo=lambda *_: None)
    assert (res["points"]["status"] == "finished").all()
    s = res["sensitivity"].set_index("axis")
    # 20 min after the injection the BMSC count is (nearly) the dose injected; the SDF-1a
    # bolus does not change it: its total index is ~0, the dose's is large
    assert s.loc["events.1.bolus.amount", "ST"] == pytest.approx(0.0, abs=0.05)
    assert s.loc["events.1.bolus.amount", "S1"] == pytest.approx(0.0, abs=0.05)
    assert s.loc["events.0.injection.dose", "ST"] > 0.5
    assert (tmp_path / "out" / "sensitivity.parquet").exists()
    assert (tmp_path / "out" / "sensitivity_count_BMSC_30_min.png").exists()


def test_morris_effects_rank_the_dose_above_the_bolus(tmp_path, dask_client):
    sweep = load_sweep(_write(tmp_path, "morris", samples=3))
    res = run_sweep(sweep, tmp_path / "out", client=dask_client, progress=False, echo=lambda *_: None)
    assert len(res["points"]) == 3 * 3
    s = res["sensitivity"].set_index("axis")
    assert s.loc["events.0.injection.dose", "mu_star"] > 10      # ~ the dose range, 26 cells
    assert s.loc["events.1.bolus.amount", "mu_star"] < 1


@pytest.mark.parametrize("design, samples, axes, words", [
    ("sobol", 6, {}, "power of 2"),
    ("sobl", None, {}, "did you mean 'sobol'"),
    ("lhs", 4, {"dose": "{values: [1 cells, 2 cells]}"}, "takes low and high"),
    ("list", None, {"dose": "{values: [1 cells, 2 cells]}", "bolus": "{values: [1 ng]}"},
     "the same number of values"),
    ("grid", None, {"dose": "{values: [1 cells, 2 um]}", "bolus": "{values: [1 ng]}"},
     "does not have the dimension"),
])
def test_bad_sweep_files_are_one_located_message(tmp_path, design, samples, axes, words):
    with pytest.raises(ScenarioError, match="sweep.yaml, line") as e:
        load_sweep(_write(tmp_path, design, samples, **axes))
    assert words in str(e.value)


def test_a_sweep_value_the_scenario_refuses_is_found_before_running(tmp_path):
    sweep = load_sweep(_write(tmp_path, "lhs", 4, dose="{low: 4 cells, high: 3000 cells}"))
    with pytest.raises(ScenarioError, match="line 8, sweep.axes: the scenario refuses the largest "
                                            "values of the axes: .*3000 BMSC cells cannot fit"):
        check_sweep(sweep)


def test_abm_validate_summarises_a_sweep(tmp_path, capsys):
    assert main(["validate", str(_write(tmp_path, "sobol", samples=8))]) == 0
    out = capsys.readouterr().out
    assert "sobol design, 32 points x 1 seed(s) = 32 runs" in out and "Sobol indices" in out


def test_the_example_sweep_is_valid(capsys):
    example = Path(__file__).parents[2] / "scenarios" / "trials" / "quickstart_sweep.yaml"
    assert main(["validate", str(example)]) == 0
    assert "32 runs of quickstart.yaml" in capsys.readouterr().out
