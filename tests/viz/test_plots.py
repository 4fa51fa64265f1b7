"""Readout time-series plots (viz.plots.plot_runs): the picture, the lines' data, and refusals."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

from abm.errors import ModelInputError
from abm.run.runner import run_scenario
from abm.runfile import RunFileError, RunWriter, open_run
from viz.plots import plot_runs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "run"))   # also when run alone
from test_run import small  # noqa: E402

SHORT = ("domain.duration=60 min",)
TREATED = SHORT + ("cell_types.Microglia.rules.0.max_response=0.02 1/min",)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A control and a treated run of the small scenario (1 h, readouts every 10 min)."""
    d = tmp_path_factory.mktemp("plots")
    sc = small(d)
    control = run_scenario(sc, d / "control.h5", progress=False, backend="numpy", overrides=SHORT)
    treated = run_scenario(sc, d / "treated.h5", progress=False, backend="numpy",
                           overrides=TREATED)
    return control, treated


def _synthetic(path: Path, columns: dict[str, str], rows: int = 5, seed: int = 1,
               name: str = "synthetic") -> Path:
    """A run file holding readouts only: ``columns`` maps readout -> unit; rows every 30 min."""
    w = RunWriter.create(path, metadata={"scenario_name": name, "seed": seed},
                         scenario_text="", units={}, field_units={}, tissue_names=["healthy"],
                         labels=np.zeros((2, 2, 2), np.uint8), cell_types={})
    rng = np.random.default_rng(seed)
    for i in range(rows):
        w.append_readouts(i * 30, i * 30.0, {c: float(rng.random()) for c in columns}, columns)
    w.close()
    return path


def _stored(path):
    with open_run(path) as r:
        return r.readouts(), r.readout_units


# ------------------------------------------------------------------ the picture and its data
def test_overlay_of_two_runs_writes_png_with_the_stored_series(pair, tmp_path):
    control, treated = pair
    out = tmp_path / "compare.png"
    fig = plot_runs([control, treated], out)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000

    series = [_stored(p) for p in pair]
    cols = [c for c in series[0][0] if c not in ("time_min", "step")]
    assert cols == ["count BMSC", "count Microglia M2", "count BMSC in lesion",
                    "total exosome", "mean SDF-1a in lesion"]
    assert len(fig.axes) == len(cols)
    for ax, c in zip(fig.axes, cols):
        lines = ax.get_lines()
        assert len(lines) == 2
        for line, (table, _) in zip(lines, series):
            assert np.array_equal(line.get_xdata(), table["time_min"] / 60)
            assert np.array_equal(line.get_ydata(), table[c])
        assert ax.get_ylabel() == f"{c} [{series[0][1][c]}]"
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert "count BMSC [cells]" in labels and "mean SDF-1a in lesion [ng/mL]" in labels
    assert "total exosome [particles]" in labels
    assert {ax.get_xlabel() for ax in fig.axes} >= {"time [h]"}
    # the bottom panel of each column names the time axis
    assert fig.axes[-1].get_xlabel() == "time [h]"
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["control", "treated"]
    assert "small" in fig.get_suptitle()
    # the treatment made a difference that the picture shows
    m2 = fig.axes[1].get_lines()
    assert m2[1].get_ydata()[-1] > m2[0].get_ydata()[-1]


def test_selected_readouts_labels_time_unit_and_formats(pair, tmp_path):
    control, treated = pair
    sel = ["mean SDF-1a in lesion", "count BMSC"]
    fig = plot_runs([control, treated], tmp_path / "sel.pdf", readouts=sel,
                    labels=["sham", "exosomes"], time_unit="min")
    assert (tmp_path / "sel.pdf").read_bytes()[:5] == b"%PDF-"
    assert [ax.get_ylabel() for ax in fig.axes] == ["mean SDF-1a in lesion [ng/mL]",
                                                   "count BMSC [cells]"]
    table, _ = _stored(treated)
    assert np.array_equal(fig.axes[0].get_lines()[1].get_xdata(), table["time_min"])
    assert np.array_equal(fig.axes[0].get_lines()[1].get_ydata(), table["mean SDF-1a in lesion"])
    assert fig.axes[-1].get_xlabel() == "time [min]"
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["sham", "exosomes"]

    fig = plot_runs([control], tmp_path / "one.svg", readouts=["count BMSC"])
    assert b"<svg" in (tmp_path / "one.svg").read_bytes()[:2000]
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 1


def test_fractions_colliding_stems_common_columns_and_overwrite(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    r1 = _synthetic(tmp_path / "a" / "run.h5",
                    {"fraction Microglia M2": "1", "count BMSC": "cells"}, seed=3)
    r2 = _synthetic(tmp_path / "b" / "run.h5", {"count BMSC": "cells", "fraction Microglia M2": "1",
                                                "count BMSC in penumbra": "cells"}, seed=4)
    out = tmp_path / "frac.png"
    fig = plot_runs([r1, r2], out)
    # default: the columns common to all runs, in the first run's order
    assert [ax.get_ylabel() for ax in fig.axes] == ["fraction Microglia M2 [1]",
                                                   "count BMSC [cells]"]
    # same stems -> scenario name and seed
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "synthetic, seed 3", "synthetic, seed 4"]
    t2, _ = _stored(r2)
    assert np.array_equal(fig.axes[0].get_lines()[1].get_ydata(), t2["fraction Microglia M2"])
    before = out.read_bytes()
    plot_runs([r1], out, overwrite=True)
    assert out.read_bytes() != before


# ------------------------------------------------------------------ refusals
def test_bad_inputs_are_refused_with_the_fix(pair, tmp_path):
    control, treated = pair

    with pytest.raises(ModelInputError, match="no run files to plot"):
        plot_runs([], tmp_path / "x.png")

    existing = tmp_path / "old.png"
    existing.write_bytes(b"not really a png")
    digest = hashlib.sha256(existing.read_bytes()).hexdigest()
    with pytest.raises(ModelInputError, match="exists; pass --overwrite"):
        plot_runs([control], existing)
    assert hashlib.sha256(existing.read_bytes()).hexdigest() == digest

    with pytest.raises(ModelInputError, match=r"unsupported picture format \('\.jpg'\).*\.png"):
        plot_runs([control], tmp_path / "x.jpg")
    with pytest.raises(ModelInputError, match="unsupported picture format"):
        plot_runs([control], tmp_path / "x")
    with pytest.raises(ModelInputError, match="folder .*nope does not exist; create it"):
        plot_runs([control], tmp_path / "nope" / "x.png")

    with pytest.raises(ModelInputError, match=r"unknown readout 'count BMCS'; did you mean "
                                              r"'count BMSC'\?"):
        plot_runs([control, treated], tmp_path / "x.png", readouts=["count BMCS"])

    lacking = _synthetic(tmp_path / "lacking.h5", {"count BMSC": "cells"})
    with pytest.raises(ModelInputError, match=r"lacking\.h5 has no readout 'total exosome'"):
        plot_runs([control, lacking], tmp_path / "x.png", readouts=["count BMSC", "total exosome"])

    empty = _synthetic(tmp_path / "empty.h5", {"count BMSC": "cells"}, rows=0)
    with pytest.raises(ModelInputError, match=r"empty\.h5 has no readout rows"):
        plot_runs([control, empty], tmp_path / "x.png")

    with pytest.raises(RunFileError, match="no run file at"):
        plot_runs([tmp_path / "missing.h5"], tmp_path / "x.png")
    with pytest.raises(ModelInputError, match="2 labels for 1 run files"):
        plot_runs([control], tmp_path / "x.png", labels=["a", "b"])
    with pytest.raises(ModelInputError, match="unknown time unit 'hours'"):
        plot_runs([control], tmp_path / "x.png", time_unit="hours")

    other = _synthetic(tmp_path / "other.h5", {"count BMSC": "1e3 cells"})
    with pytest.raises(ModelInputError, match="'count BMSC' has different units"):
        plot_runs([control, other], tmp_path / "x.png", readouts=["count BMSC"])
    # nothing was written by any refused call
    assert not (tmp_path / "x.png").exists() and not list(tmp_path.glob(".x.*"))
