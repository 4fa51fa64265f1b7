"""Pictures take what they show from the run file alone.

The colours cell types declare, the tissue states with their units, and older files without
either (run files made with RunWriter directly, so no model is involved).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

from abm.errors import ModelInputError
from abm.runfile import RunWriter, open_run

pv = pytest.importorskip("pyvista")

from viz.palette import _EXTRA_COLORS, cell_colors  # noqa: E402
from viz.render import render_run  # noqa: E402
from viz.scene import RunScene, resolve_field  # noqa: E402
from viz.viewer import view_run  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runfile"))
from test_runfile_declared import strip_declarations  # noqa: E402

SHAPE = (20, 20, 10)
DX = 20.0
GREEN = "#00ff00"


def _viability() -> np.ndarray:
    """0 at x = 0 rising to 1 at the far x face, the same for every y and z."""
    return np.broadcast_to(np.linspace(0.0, 1.0, SHAPE[0])[:, None, None], SHAPE).copy()


def _write_run(path: Path, colour: str | None = GREEN, n: int = 2) -> Path:
    """A run file whose Custom cells (declared colour ``colour``) fill the left half.

    Also a field F of zeros, the tissue state viability [1] and a type Other with states
    s0, s1 (only s1 has a declared colour).
    """
    rng = np.random.default_rng(7)
    pos = np.stack([rng.integers(0, 9, 1500), rng.integers(0, 20, 1500),
                    rng.integers(0, 10, 1500)], axis=1).astype(np.int32)
    with RunWriter.create(path, metadata={"scenario_name": "declared", "dx_um": DX,
                                          "shape": list(SHAPE)},
                          scenario_text="name: declared\n", units={"length": "um"},
                          field_units={"F": "nM"}, tissue_names=["healthy"],
                          labels=np.zeros(SHAPE, np.uint8),
                          cell_types={"Custom": {"colour": colour},
                                      "Other": {"states": ["s0", "s1"],
                                                "state_colours": {"s1": "#0000ff"}}},
                          tissue_state_units={"viability": "1"}) as w:
        for k in range(n):
            w.write_snapshot(k, 60.0 * k, {"F": np.zeros(SHAPE, np.float32)},
                             {"Custom": {"pos": pos},
                              "Other": {"pos": np.array([[15, 5, 5], [16, 6, 5]], np.int32),
                                        "state": np.array([0, 1], np.int8)}},
                             tissue_states={"viability": _viability() * (k + 1) / n})
    return path


def _green(img: np.ndarray) -> np.ndarray:
    r, g, b = (img[..., k].astype(float) for k in range(3))
    return (g > 120) & (r < 0.45 * g) & (b < 0.45 * g)


def _yellow(img: np.ndarray) -> np.ndarray:                # viridis' top end, #fde725
    r, g, b = (img[..., k].astype(float) for k in range(3))
    return (r > 190) & (g > 190) & (b < 110)


def _body(img: np.ndarray) -> np.ndarray:
    """The picture without the legend (upper right) and the colour bar (right)."""
    h, w = img.shape[:2]
    return img[int(0.3 * h):, :int(0.78 * w)]


# ------------------------------------------------------------------ colours
def test_cell_colors_take_declared_colours_then_free_ones():
    declared = {"A": {"colour": "#ffff33", "states": {}},             # = the first free colour
                "S": {"colour": "#123456", "states": {"on": "#abcdef"}}}
    cols = cell_colors(["A", "B", "S", "C"], {"S": ["off", "on", "odd"]}, declared)
    assert cols["types"] == {"A": "#ffff33", "B": _EXTRA_COLORS[1], "S": "#123456",
                             "C": _EXTRA_COLORS[2]}
    # undeclared states: the type's colour for the first, the fixed list by index after
    assert cols["states"]["S"] == ["#123456", "#abcdef", _EXTRA_COLORS[1]]
    # nothing declared (a file written before colours were recorded): the fixed list in order
    old = cell_colors(["A", "B"], {"B": ["x", "y"]})
    assert old["types"] == {"A": _EXTRA_COLORS[0], "B": _EXTRA_COLORS[1]}
    assert old["states"]["B"] == [_EXTRA_COLORS[1], _EXTRA_COLORS[0]]


def test_scene_colours_come_from_the_run_file(offscreen, tmp_path):
    path = _write_run(tmp_path / "r.h5")
    old = _write_run(tmp_path / "old.h5")
    strip_declarations(old)                       # an older file: no colours, no tissue states
    for f, custom, s0 in [(path, GREEN, _EXTRA_COLORS[0]), (old, _EXTRA_COLORS[0], _EXTRA_COLORS[1])]:
        with open_run(f) as run:
            p = pv.Plotter(off_screen=True, window_size=(320, 240))
            scene = RunScene(p, run)
            assert scene.colors["types"]["Custom"] == custom
            assert scene.colors["states"]["Other"][0] == s0
            scene.show_snapshot(-1)
            rgb = scene._agent_meshes["Other"].point_data["rgb"]
            s1 = "#0000ff" if f == path else _EXTRA_COLORS[0]
            assert rgb[1].tolist() == [int(s1[k:k + 2], 16) for k in (1, 3, 5)]
            p.close()


def test_declared_colour_shows_in_the_picture(offscreen, tmp_path):
    iio = pytest.importorskip("imageio.v3")
    path = _write_run(tmp_path / "r.h5")
    old = _write_run(tmp_path / "old.h5")
    strip_declarations(old)
    counts = {}
    for name, f in [("declared", path), ("old", old)]:
        out = render_run(f, tmp_path / f"{name}.png", camera="xy", window_size=(640, 480))
        img = iio.imread(out)[..., :3]
        assert img.std() > 15                                   # renders, not blank
        counts[name] = int(_green(img).sum())
    assert counts["declared"] > 1000, counts
    assert counts["old"] < 20, counts             # there Custom takes the first free colour


# ------------------------------------------------------------------ tissue states
def test_tissue_state_drawn_like_a_field_with_its_unit(offscreen, tmp_path):
    path = _write_run(tmp_path / "r.h5")
    with open_run(path) as run:
        assert resolve_field(run, "Viability") == "viability"
        with pytest.raises(ModelInputError, match=r"did you mean 'viability'.*tissue states: "
                                                  r"viability"):
            resolve_field(run, "viabilty")
        for mode in ("slices", "iso", "volume"):
            p = pv.Plotter(off_screen=True, window_size=(320, 240))
            scene = RunScene(p, run, field="viability", mode=mode)
            assert list(p.scalar_bars.keys()) == ["viability [1]"]
            assert scene.clim("viability") == (0.0, 1.0)          # over both snapshots
            scene.show_snapshot(0)
            if mode == "slices":
                axis, plane = scene._field_meshes[2]               # the z slice
                k = scene.slice_index[2]
                assert axis == "z"
                want = (_viability() * 0.5)[:, :, k].astype(np.float32).ravel(order="F")
                assert np.array_equal(plane.cell_data["viability"], want)
            elif mode == "iso":
                assert scene._field_meshes[0][1].n_points > 0     # levels 0.1, 0.3 cut it
            assert p.screenshot(return_img=True).std() > 10
            p.close()


def test_render_of_a_tissue_state_shows_its_values(offscreen, tmp_path):
    iio = pytest.importorskip("imageio.v3")
    path = _write_run(tmp_path / "r.h5")
    yellow = {}
    for field in ("viability", "F"):
        out = render_run(path, tmp_path / f"{field}.png", field=field, camera="xy",
                         window_size=(640, 480), cell_types=[])
        yellow[field] = int(_yellow(_body(iio.imread(out)[..., :3])).sum())
    # viability reaches the top of its range at the far x face; F is zero everywhere
    assert yellow["viability"] > 200 and yellow["F"] < 20, yellow


def test_cli_render_field_names_a_tissue_state(offscreen, tmp_path, capsys):
    from abm.cli import main

    path = _write_run(tmp_path / "r.h5")
    out = tmp_path / "v.png"
    assert main(["render", str(path), "--out", str(out), "--field", "viability",
                 "--size", "320x240"]) == 0
    assert out.stat().st_size > 1000
    assert main(["render", str(path), "--out", str(tmp_path / "w.png"), "--field",
                 "viabilty"]) == 2
    assert "did you mean 'viability'" in capsys.readouterr().err


def test_viewer_toggles_tissue_states_like_fields(offscreen, tmp_path):
    v = view_run(_write_run(tmp_path / "r.h5"), off_screen=True, show=False,
                 window_size=(480, 360))
    try:
        v.on_field_toggle("viability", True)
        assert v.scene.field == "viability" and v.scene.field_visible
        assert list(v.plotter.scalar_bars.keys()) == ["viability [1]"]
        if v.field_buttons:                         # widgets exist (an interactor was made)
            assert list(v.field_buttons) == ["viability", "F"]
            states = {f: w.GetRepresentation().GetState() for f, w in v.field_buttons.items()}
            assert states == {"viability": 1, "F": 0}
    finally:
        v.close()
        v.run.close()


# ------------------------------------------------------------------ viz reads files only
def test_viz_imports_nothing_of_the_model():
    # abm.seeds: the bone view falls back on the seeded mineral threshold (package data, no model)
    allowed = {"abm.errors", "abm.units", "abm.runfile", "abm.atomic", "abm.seeds"}
    found = {}
    for src in sorted((Path(__file__).resolve().parents[2] / "viz").glob("*.py")):
        for node in ast.walk(ast.parse(src.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            for n in names:
                if n == "abm" or n.startswith("abm."):
                    found.setdefault(n, []).append(src.name)
    assert found and set(found) <= allowed, found
