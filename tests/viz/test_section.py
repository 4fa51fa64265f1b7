"""Flat tissue sections (viz.section) and where cells are drawn inside their voxels (viz.jitter)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from abm.cli import main
from abm.errors import ModelInputError
from abm.run.runner import run_scenario
from abm.runfile import open_run
from viz.jitter import drawn_positions, within_voxel_offsets
from viz.section import parse_section, render_section

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """The 30³ stroke-like run of tests/run/test_run.py (lesion label, M0/M1/M2 microglia)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "run"))
    from test_run import small  # noqa: PLC0415

    d = tmp_path_factory.mktemp("section")
    return run_scenario(small(d), d / "small.h5", progress=False, backend="numpy")


def test_offsets_stay_inside_the_voxel_are_fixed_per_id_and_spread_evenly():
    ids = np.arange(20_000)
    off = within_voxel_offsets(ids)
    assert off.shape == (20_000, 3)
    assert off.min() >= -0.4 and off.max() < 0.4
    assert np.array_equal(off, within_voxel_offsets(ids))            # same id, same place
    assert np.array_equal(off[5:9], within_voxel_offsets(ids[5:9]))  # independent of the others
    # uniform on [-0.4, 0.4): mean 0, SD 0.8/sqrt(12); standard errors ~0.0016 and ~0.0012
    assert np.abs(off.mean(axis=0)).max() < 0.01
    assert np.allclose(off.std(axis=0), 0.8 / np.sqrt(12), rtol=0.02)
    # axes are not copies of each other, and cells of one voxel are drawn apart
    assert abs(np.corrcoef(off[:, 0], off[:, 1])[0, 1]) < 0.03
    pts = drawn_positions(np.zeros((8, 3), int), np.arange(8), (0, 0, 0), (25.0,) * 3)
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)[np.triu_indices(8, 1)]
    assert d.min() > 0.0
    with pytest.raises(ValueError):
        within_voxel_offsets(ids, spread=1.5)


def test_section_draws_the_cells_of_the_plane_inside_their_own_voxels(small_run, tmp_path):
    out = tmp_path / "sec.png"
    with open_run(small_run) as run:
        dx = float(run.attrs["dx_um"])
        shape = run.attrs["shape"]
        k = int(shape[2]) // 2
        expected = {}
        for t in run.cell_types:
            if run.agent_count(t) == 0:
                continue
            tab = run.agents(t, -1)
            sel = np.asarray(tab["pos"])[:, 2] == k
            states = list(run.cell_states.get(t, []))
            if states:
                for j, s in enumerate(states):
                    n = int((sel & (np.asarray(tab["state"]) == j)).sum())
                    if n:
                        expected[f"{t} {s}"] = (n, np.asarray(tab["pos"])[sel & (np.asarray(
                            tab["state"]) == j)])
            elif sel.any():
                expected[t] = (int(sel.sum()), np.asarray(tab["pos"])[sel])
        names = [n for v, n in enumerate(run.tissue_names)
                 if v and (np.asarray(run.labels(-1))[:, :, k] == v).any()]
    fig = render_section(small_run, out, section=f"z={(k + 0.5) * dx:g} um", field="SDF-1a")
    assert out.stat().st_size > 10_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert expected, "the test run has no cells in the middle plane"
    assert set(fig.section_cells) == set(expected)
    for label, (n, pos) in expected.items():
        xy_um = fig.section_cells[label] * 1000.0
        assert len(xy_um) == n
        # every point lies inside its own voxel, and the voxels drawn are the cells' voxels
        vox = np.floor(xy_um / dx).astype(int)
        assert sorted(map(tuple, vox)) == sorted(map(tuple, pos[:, :2]))
        assert not np.any(np.isclose(xy_um / dx % 1.0, 0.5)), "drawn at voxel centres"
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    for nm in names:
        assert nm in legend
    assert f"{list(expected)[0]} ({expected[list(expected)[0]][0]})" in legend


def test_section_cli_and_refusals(small_run, tmp_path, capsys):
    out = tmp_path / "cli.png"
    assert main(["render", str(small_run), "--section", "z=3", "--out", str(out),
                 "--field", "none", "--thickness", "1"]) == 0
    assert out.exists()
    assert main(["render", str(small_run), "--section", "z=3", "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    for bad, msg in [("q=3", "AXIS=POSITION"), ("z=3 kg", "cannot read the section"), ("z=3 parsecs", "outside the lattice"),
                     ("z=10 mm", "outside the lattice"), ("z", "AXIS=POSITION"),
                     ("z=-1", "outside the lattice")]:
        with pytest.raises(ModelInputError, match=msg):
            parse_section(bad, 20.0, (30, 30, 30))
    assert parse_section("y=0.1 mm", 20.0, (30, 30, 30)) == (1, 5)
    assert main(["render", str(small_run), "--section", "z=9 mm", "--out",
                 str(tmp_path / "b.png")]) == 2
    err = capsys.readouterr().err
    assert "outside the lattice" in err and "Traceback" not in err
