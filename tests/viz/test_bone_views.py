"""Pictures of bone (viz/bone.py, ``abm render --bone [--compare]``): off-screen on the CPU.

The isosurface is checked against geometry of known answer. On a 0/1 bone mask the surface at
0.5 through the voxel centres runs along the faces between bone and soft voxels and cuts the
staircase's edges and corners: along a convex edge (one bone voxel of the four around it) it
keeps half of the quarter-voxel prism (loses dx³/8 per voxel of edge length), along a concave
edge (three of four) it adds as much, and at a convex corner (one of the eight voxels around a
lattice vertex) it gives back dx³/12 of what the three edges took (a concave corner the
opposite). For an ``a × b × c`` box that is exactly ``abc − (a + b + c − 3)/2 − 5/6`` voxels;
for the trabecular network of the rat-tibia example the same edge and corner counts predict
the enclosed volume to the diagonal and saddle configurations only (measured 8e-5 of it; the
test allows 1e-3). A partial mineral fraction puts the surface where linear interpolation
between voxel centres crosses the threshold the run's scenario set.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from abm.errors import ModelInputError
from abm.run.runner import run_scenario
from abm.runfile import RunWriter, open_run

pv = pytest.importorskip("pyvista")

from abm.cli import main  # noqa: E402
from viz.bone import (  # noqa: E402
    BoneScene,
    bone_source,
    bone_surface,
    bone_threshold,
    render_bone,
    render_bone_compare,
)

DX = 20.0
REPO = Path(__file__).resolve().parents[2]

# A 10 x 10 x 10 voxel trabecular block (x, y 100..300 um, the full z 0..200 um) in a 20 x 20 x 10
# marrow lattice: BV/TV = 1000 / 4000 = 0.25 at the start. Active osteoblasts on its y = 100 face,
# lining cells on its y = 300 face, osteoclasts on its x = 300 face.
BLOCK = """
name: bone_block
domain: {{extent: [400 um, 400 um, 200 um], voxel: 20 um, dt: 6 h, duration: 2 d, seed: 2}}
tissue:
  default: {{name: marrow}}
  labels:
    - name: trabecular
      region: {{shape: box, lower: [100 um, 100 um, 0 um], upper: [300 um, 300 um, 200 um]}}
      permeable: false
      capacity: 0
fields: {{TGF-b: {{}}}}
processes: {{mineral: {{{mineral}}}}}
cell_types:
  Osteoblast: {{}}
  Osteoclast: {{}}
populations:
  - {{cell_type: Osteoblast, count: 40 cells, state: active,
     region: {{shape: box, lower: [80 um, 80 um, 0 um], upper: [320 um, 100 um, 200 um]}}}}
  - {{cell_type: Osteoblast, count: 20 cells, state: lining,
     region: {{shape: box, lower: [80 um, 300 um, 0 um], upper: [320 um, 320 um, 200 um]}}}}
  - {{cell_type: Osteoclast, count: 10 cells,
     region: {{shape: box, lower: [300 um, 100 um, 0 um], upper: [320 um, 300 um, 200 um]}}}}
outputs:
  snapshot_every: 1 d
  checkpoint_every: 2 d
  readout_every: 1 d
  readouts: [BV/TV]
"""

SMALL = (400, 300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The block run with cells, a second one (another threshold), and the tibia geometry."""
    d = tmp_path_factory.mktemp("bone")
    (d / "block.yaml").write_text(BLOCK.format(mineral=""))
    (d / "block_t04.yaml").write_text(BLOCK.format(mineral="threshold: 0.4"))
    geo = d / "rat_tibia_geometry.yaml"
    shutil.copy(REPO / "scenarios/examples/rat_tibia_geometry.yaml", geo)
    return {
        "block": run_scenario(d / "block.yaml", d / "block.h5", progress=False, backend="numpy"),
        "block_t04": run_scenario(d / "block_t04.yaml", d / "block_t04.h5", progress=False,
                                  backend="numpy"),
        # abm run of a copy of the geometry-only example, one 1 h step
        "geo": _abm_run(geo, d / "geo.h5"),
        "dir": d,
    }


def _abm_run(scenario: Path, out: Path) -> Path:
    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--backend", "numpy",
                 "--set", "domain.duration=1 h"]) == 0
    return out


def _synthetic(path: Path, mineral: np.ndarray, scenario_text: str, labels=None,
               names=("marrow", "trabecular"), states=True) -> Path:
    """A one-snapshot run file with a given mineral array (and labels), no cells."""
    shape = mineral.shape
    lab = labels if labels is not None else (mineral >= 0.5).astype(np.uint8)
    w = RunWriter.create(path, metadata={"scenario_name": "synthetic", "dx_um": DX,
                                         "shape": list(shape)},
                         scenario_text=scenario_text, units={"length": "um"}, field_units={},
                         tissue_names=list(names), labels=lab, cell_types={},
                         tissue_state_units={"mineral": "1"} if states else None)
    w.write_snapshot(0, 0.0, {}, {}, labels=lab,
                     tissue_states={"mineral": mineral} if states else None)
    w.close()
    return path


def _image(path: Path) -> np.ndarray:
    from PIL import Image  # noqa: PLC0415
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def _share(img: np.ndarray, test) -> float:
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return float(test(r, g, b).mean())


def _ivory(r, g, b):
    return (r > 120) & (g > 110) & (b > 80) & (r >= b + 12) & (abs(r - g) < 40)


def _red(r, g, b):
    return (r > 120) & (g < 70) & (b < 70)


def _gold(r, g, b):
    return (r > 170) & (g > 140) & (b < 60) & (r - g < 60)


def _edge_corner_prediction(mask: np.ndarray) -> float:
    """Volume (voxels) the 0.5 surface of a 0/1 mask encloses, from its edges and corners."""
    m = np.pad(mask.astype(np.int16), 1)
    e1 = e3 = 0
    for ax in range(3):
        a, b = (k for k in range(3) if k != ax)

        def sl(i, j, a=a, b=b):
            return tuple(slice(i, m.shape[k] - 1 + i) if k == a else
                         slice(j, m.shape[k] - 1 + j) if k == b else slice(None)
                         for k in range(3))
        s = m[sl(0, 0)] + m[sl(1, 0)] + m[sl(0, 1)] + m[sl(1, 1)]
        e1 += int((s == 1).sum())
        e3 += int((s == 3).sum())
    c = sum(m[i:m.shape[0] - 1 + i, j:m.shape[1] - 1 + j, k:m.shape[2] - 1 + k]
            for i in (0, 1) for j in (0, 1) for k in (0, 1))
    c1, c7 = int((c == 1).sum()), int((c == 7).sum())
    return float(mask.sum()) - (e1 - e3) / 8.0 + (c1 - c7) / 12.0


# ----------------------------------------------------------------------------- geometry
def test_block_surface_encloses_the_analytic_marching_cubes_volume(runs):
    with open_run(runs["block"]) as run:
        assert bone_source(run) == "mineral" and bone_threshold(run) == 0.5
        surf = bone_surface(run, 0)
        n_bone = int((run.tissue_state("mineral", 0) >= 0.5).sum())
    a = b = c = 10
    assert n_bone == a * b * c
    want = (a * b * c - (a + b + c - 3) / 2 - 5 / 6) * DX**3
    assert surf.volume == pytest.approx(want, rel=1e-9)
    assert surf.volume / (n_bone * DX**3) == pytest.approx(0.98567, abs=1e-5)   # 1.4 % under
    # capped where the block meets the lattice's z faces, faces exactly on the voxel faces
    assert surf.bounds[0:4] == pytest.approx((100, 300, 100, 300), abs=1e-6)
    assert surf.bounds[4:6] == pytest.approx((0, 200), abs=1e-6)
    assert surf.is_manifold


def test_geometry_example_surface_against_its_bone_voxels(runs):
    with open_run(runs["geo"]) as run:
        assert bone_source(run) == "labels"
        lab = run.labels(-1)
        codes = [k for k, n in enumerate(run.tissue_names) if n in ("trabecular", "cortex")]
        mask = np.isin(lab, codes)
        surf = bone_surface(run, -1)
    n = int(mask.sum())
    v = surf.volume / DX**3
    assert n > 20_000
    assert abs(v / n - 1) < 0.01                              # measured 0.33 % under
    assert abs(v - _edge_corner_prediction(mask)) < 1e-3 * n  # measured 8e-5


def test_partial_mineral_surface_sits_where_the_scenario_threshold_is_crossed(tmp_path):
    m = np.zeros((12, 6, 6), np.float32)
    m[:3] = 1.0
    m[3] = 0.75
    for thr, text in ((0.6, "processes:\n  mineral: {threshold: 0.6}\n"),
                      (0.5, "processes: {mineral: {}}\n")):
        path = _synthetic(tmp_path / f"t{thr}.h5", m, "name: synthetic\n" + text)
        with open_run(path) as run:
            assert bone_threshold(run) == pytest.approx(thr)
            surf = bone_surface(run, 0)
        # voxel 3 (centre 3.5 dx) holds 0.75, voxel 4 (4.5 dx) 0: crossed at 3.5 + (0.75 - t)/0.75
        assert surf.bounds[1] == pytest.approx((3.5 + (0.75 - thr) / 0.75) * DX, rel=1e-6)


def test_threshold_of_a_run_follows_its_scenario(runs):
    with open_run(runs["block_t04"]) as run:
        assert bone_threshold(run) == pytest.approx(0.4)
        assert bone_surface(run, -1).field_data["threshold"][0] == pytest.approx(0.4)


# ----------------------------------------------------------------------------- pictures
def test_bone_picture_with_its_cells(runs, offscreen, tmp_path):
    out = render_bone(runs["block"], tmp_path / "block.png", window_size=SMALL)
    img = _image(out)
    assert img.shape == (SMALL[1], SMALL[0], 3)
    assert img.std() > 20
    assert _share(img, _ivory) > 0.05          # the block fills about a fifth of the picture
    assert _share(img, _red) > 2e-4            # osteoclasts
    assert _share(img, _gold) > 2e-4           # active osteoblasts
    with open_run(runs["block"]) as run:
        p = pv.Plotter(off_screen=True, window_size=SMALL)
        try:
            scene = BoneScene(p, run)
            scene.draw(0)
        finally:
            p.close()
        st = run.agents("Osteoblast", 0)["state"]
    assert scene.counts["Osteoblast active"] == int((st == 0).sum()) == 40
    assert scene.counts["Osteoblast lining"] == int((st == 1).sum()) == 20
    assert scene.counts["Osteoclast"] == 10
    assert "t = 0.0 d" in scene.title and "BV/TV 0.25" in scene.title
    colours = dict(scene.legend)
    assert colours["Osteoblast active (40)"] == "#ffd700"       # as the type declares
    assert colours["Osteoblast lining (20)"] == "#8c6d00"
    assert colours["Osteoclast (10)"] == "#d62728"


def test_without_cells_the_bone_has_no_red_or_gold(runs, offscreen, tmp_path):
    out = render_bone(runs["block"], tmp_path / "bare.png", window_size=SMALL, cell_types=[])
    img = _image(out)
    assert _share(img, _red) == 0 and _share(img, _gold) == 0
    assert _share(img, _ivory) > 0.05


def test_geometry_only_run_renders_from_the_command_line(runs, offscreen, tmp_path, capsys):
    out = tmp_path / "geo.png"
    assert main(["render", str(runs["geo"]), "--bone", "--out", str(out), "--size", "400x300",
                 "--camera", "xy"]) == 0
    img = _image(out)
    assert img.shape == (300, 400, 3) and img.std() > 20
    assert _share(img, _ivory) > 0.05
    assert "wrote" in capsys.readouterr().out


def test_compare_figure_has_four_panels_with_bone(runs, offscreen, tmp_path):
    out = tmp_path / "compare.png"
    assert main(["render", str(runs["block"]), str(runs["block_t04"]), "--bone", "--compare",
                 "--label", "OVX", "--label", "EV", "--size", "640x480", "--out",
                 str(out)]) == 0
    img = _image(out)
    assert img.shape == (480, 640, 3)
    for r in (slice(0, 240), slice(240, 480)):
        for c in (slice(0, 320), slice(320, 640)):
            panel = img[r, c]
            assert panel.std() > 15 and _share(panel, _ivory) > 0.03


def test_compare_titles_carry_the_bv_tv_of_each_snapshot(runs):
    with open_run(runs["block"]) as run:
        ro = run.readouts()
        p = pv.Plotter(off_screen=True, window_size=SMALL)
        try:
            scene = BoneScene(p, run, label="OVX (end)")
            scene.draw(-1)
        finally:
            p.close()
    assert scene.title.startswith("OVX (end)   t = 2.0 d")
    assert f"BV/TV {ro['BV/TV'][-1]:.3g}" in scene.title


# ----------------------------------------------------------------------------- errors
def test_a_run_without_bone_is_refused_with_one_message(tmp_path, capsys):
    path = _synthetic(tmp_path / "brain.h5", np.zeros((4, 4, 4), np.float32), "name: brain\n",
                      names=("parenchyma", "core"), states=False)
    with pytest.raises(ModelInputError, match="no bone in .*no 'mineral' tissue state"):
        render_bone(path, tmp_path / "x.png")
    assert main(["render", str(path), "--bone", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no bone in" in err[0] and "without --bone" in err[0]
    assert not (tmp_path / "x.png").exists()


def test_a_snapshot_without_bone_is_refused(tmp_path):
    path = _synthetic(tmp_path / "gone.h5", np.full((4, 4, 4), 0.2, np.float32),
                      "processes: {mineral: {}}\n")
    with pytest.raises(ModelInputError, match=r"no bone in snapshot 0 .*mineral < 0.5 everywhere"):
        bone_surface(open_run(path), 0)


@pytest.mark.parametrize("argv, message", [
    (["--compare"], "--compare and more than one run file go with --bone"),
    (["--bone", "--compare"], "--compare needs two to four run files"),
    (["--bone", "--field", "TGF-b"], "not a field"),
    (["--bone", "--section", "z=3"], "give one of them"),
    (["--bone", "--opacity", "0"], "opacity must be a number in (0, 1]"),
    (["--bone", "--cells", "Neuron"], "unknown cell type(s) 'Neuron'"),
    (["--bone", "--time", "30 d"], "outside the run"),
])
def test_bad_bone_options_end_in_one_message(runs, argv, message, tmp_path, capsys):
    out = tmp_path / "bad.png"
    assert main(["render", str(runs["block"]), "--out", str(out)] + argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


def test_an_unknown_option_or_format_is_refused(runs, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["render", str(runs["block"]), "--bone", "--bogus", "--out", str(tmp_path / "b.png")])
    assert e.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    with pytest.raises(ModelInputError, match="unknown extension '.mp4'"):
        render_bone(runs["block"], tmp_path / "b.mp4")
    with pytest.raises(ModelInputError, match="unknown extension '.gif'.*one snapshot per panel"):
        render_bone_compare([runs["block"], runs["geo"]], tmp_path / "c.gif")
    with pytest.raises(ModelInputError, match="unknown camera preset 'top'"):
        render_bone(runs["block"], tmp_path / "b.png", camera="top")
    with pytest.raises(ModelInputError, match="2 to 4 run files"):
        render_bone_compare([runs["block"]], tmp_path / "c.png")
    with pytest.raises(ModelInputError, match="one label per run"):
        render_bone_compare([runs["block"], runs["geo"]], tmp_path / "c.png", labels=["a"])


def test_a_long_lattice_is_block_averaged_before_contouring(tmp_path):
    # 16^3 voxels with an 8^3 box at voxels 4..11, contoured at most 8 per axis: blocks of 2^3
    # voxels, so a 4^3 box of 40 um voxels, with the same analytic volume in those voxels
    m = np.zeros((16, 16, 16), np.float32)
    m[4:12, 4:12, 4:12] = 1.0
    path = _synthetic(tmp_path / "long.h5", m, "processes: {mineral: {}}\n")
    with open_run(path) as run:
        fine, coarse = bone_surface(run, 0), bone_surface(run, 0, max_dim=8)
    assert int(coarse.field_data["block"][0]) == 2 and int(fine.field_data["block"][0]) == 1
    assert fine.volume == pytest.approx((512 - 21 / 2 - 5 / 6) * DX**3, rel=1e-9)
    assert coarse.volume == pytest.approx((64 - 9 / 2 - 5 / 6) * (2 * DX)**3, rel=1e-9)
    assert coarse.bounds == pytest.approx((80, 240) * 3, abs=1e-6)


def test_bone_movie_has_one_true_frame_per_snapshot(runs, offscreen, tmp_path):
    iio = pytest.importorskip("imageio.v3")
    gif = render_bone(runs["block"], tmp_path / "remodelling.gif", window_size=SMALL)
    png = render_bone(runs["block"], tmp_path / "first.png", window_size=SMALL, time=0)
    last = render_bone(runs["block"], tmp_path / "last.png", window_size=SMALL)
    frames = iio.imread(gif, index=None)[..., :3].astype(int)
    with open_run(runs["block"]) as run:
        assert frames.shape == (run.n_snapshots, SMALL[1], SMALL[0], 3)
    # the first frame is the first snapshot's picture, row for row, up to the 256-colour palette
    # (measured 0.17; an interlaced frame written as a plain one shuffles its rows: ~11)
    assert np.abs(frames[0] - _image(png)).mean() < 1.0
    assert np.abs(frames[-1] - _image(last)).mean() < 1.0    # each frame drawn afresh
    assert np.abs(frames[-1] - frames[0]).mean() > 0.5          # the cells and bone changed
    with pytest.raises(ModelInputError, match="leave time out"):
        render_bone(runs["block"], tmp_path / "t.gif", time="1 d")
