"""Arms of animals in one picture (viz.arms): mean and band per arm, checked against NumPy/SciPy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from abm.cli import main
from abm.errors import ModelInputError
from abm.runfile import RunWriter
from viz.arms import arm_statistics, parse_arm, plot_arms


def _animal(path: Path, values: dict[str, list[float]], times=None, name="trial") -> Path:
    """A run file with readouts only (``values``: readout -> one value per row, rows 30 min apart)."""
    w = RunWriter.create(path, metadata={"scenario_name": name, "seed": 1}, scenario_text="",
                         units={}, field_units={}, tissue_names=["healthy"],
                         labels=np.zeros((2, 2, 2), np.uint8), cell_types={})
    n = len(next(iter(values.values())))
    times = times if times is not None else [30.0 * i for i in range(n)]
    units = {c: "cells" for c in values}
    for i in range(n):
        w.append_readouts(i, float(times[i]), {c: float(v[i]) for c, v in values.items()}, units)
    w.close()
    return path


@pytest.fixture
def trial(tmp_path):
    rng = np.random.default_rng(7)
    data = {"control": rng.normal(10, 2, (5, 4)), "BMSC": rng.normal(16, 3, (6, 4))}
    files = {}
    for arm, rows in data.items():
        files[arm] = [_animal(tmp_path / f"{arm}_{k}.h5", {"count BMSC in penumbra": list(r)})
                      for k, r in enumerate(rows)]
    return data, files


@pytest.mark.parametrize("band", ["sd", "sem", "ci95"])
def test_bands_are_the_statistics_of_the_animals(trial, tmp_path, band):
    data, files = trial
    fig = plot_arms(files, tmp_path / f"arms_{band}.png", band=band)
    for arm, rows in data.items():
        st = fig.arm_stats["count BMSC in penumbra"][arm]
        n = rows.shape[0]
        mean, sd = rows.mean(axis=0), rows.std(axis=0, ddof=1)
        half = {"sd": sd, "sem": sd / np.sqrt(n),
                "ci95": stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)}[band]
        assert np.allclose(st["mean"], mean) and np.allclose(st["sd"], sd)
        assert np.allclose(st["lo"], mean - half) and np.allclose(st["hi"], mean + half)
        assert np.array_equal(st["time"], np.arange(4) * 0.5)           # hours
    ci = stats.t.interval(0.95, 4, loc=data["control"].mean(0),
                          scale=stats.sem(data["control"], axis=0))
    if band == "ci95":
        st = fig.arm_stats["count BMSC in penumbra"]["control"]
        assert np.allclose(st["lo"], ci[0]) and np.allclose(st["hi"], ci[1])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["control (n = 5)", "BMSC (n = 6)"]


def test_nan_rows_are_left_out_and_single_animals_have_no_band():
    v = np.array([[1.0, np.nan, 3.0], [3.0, 5.0, np.nan]])
    st = arm_statistics(v)
    assert st["n"].tolist() == [2, 1, 1]
    assert np.allclose(st["mean"], [2.0, 5.0, 3.0])
    assert np.isclose(st["sd"][0], np.sqrt(2.0)) and np.isnan(st["sd"][1])
    assert st["lo"][1] == st["hi"][1] == 5.0


def test_cli_and_refusals(trial, tmp_path, capsys):
    _, files = trial
    d = files["control"][0].parent
    out = tmp_path / "cli.png"
    assert main(["plot", "--arm", f"control={d}/control_*.h5", "--arm", f"BMSC={d}/BMSC_*.h5",
                 "--out", str(out), "--band", "ci95"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["plot", "--arm", f"control={d}/nothing_*.h5", "--out",
                 str(tmp_path / "x.png")]) == 2
    assert "no run file matches" in capsys.readouterr().err
    assert main(["plot", str(files["BMSC"][0]), "--arm", f"control={d}/control_*.h5",
                 "--out", str(tmp_path / "y.png")]) == 2
    assert "not both" in capsys.readouterr().err
    with pytest.raises(ModelInputError, match="LABEL=FILES"):
        parse_arm("control")
    odd = _animal(tmp_path / "odd.h5", {"count BMSC in penumbra": [1, 2, 3, 4]},
                  times=[0, 20, 40, 60])
    with pytest.raises(ModelInputError, match="other times"):
        plot_arms({"control": files["control"] + [odd]}, tmp_path / "z.png")
