"""3D pictures and playback of run files (viz/): off-screen on the CPU.

Rendering tests need an off-screen OpenGL context (EGL or OSMesa); without one they skip with
that reason (detected once, in a subprocess, so a crashing driver cannot take pytest down).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest

from abm.biology import BUILTIN_CELL_TYPES
from abm.errors import ModelInputError
from abm.run.runner import run_scenario
from abm.runfile import RunFileError, open_run

pv = pytest.importorskip("pyvista")

from viz.render import GifStreamWriter, render_run  # noqa: E402
from viz.scene import RunScene, cell_colors, subsample_stride, time_to_index  # noqa: E402
from viz.viewer import view_run  # noqa: E402

# The display colours the built-in cell types declare (viz itself reads them from run files).
CELL_PALETTE = {cls.__name__: cls.colour for cls in BUILTIN_CELL_TYPES if cls.colour}
STATE_PALETTE = {(cls.__name__, s): c for cls in BUILTIN_CELL_TYPES
                 for s, c in cls.state_colours.items()}
DECLARED = {cls.__name__: {"colour": cls.colour, "states": dict(cls.state_colours)}
            for cls in BUILTIN_CELL_TYPES}

# BMSC fill the left part (x < 180 µm) and Microglia (all M1) the right part (x > 220 µm).
HALVES = """
name: halves
domain:
  extent: [400 um, 400 um, 200 um]
  voxel: 20 um
  dt: 1 min
  duration: {duration}
  seed: 3
fields:
  SDF-1a: {{}}
cell_types:
  BMSC: {{}}
  Microglia: {{}}
populations:
  - {{cell_type: BMSC, count: 300 cells,
     region: {{shape: box, lower: [0 um, 0 um, 0 um], upper: [180 um, 400 um, 200 um]}}}}
  - {{cell_type: Microglia, count: 300 cells, state: M1,
     region: {{shape: box, lower: [220 um, 0 um, 0 um], upper: [400 um, 400 um, 200 um]}}}}
outputs:
  snapshot_every: {snap}
  checkpoint_every: {duration}
  readout_every: {snap}
"""

SMALL_WINDOW = (320, 240)


def _make_run(folder: Path, name: str, n_snapshots: int) -> Path:
    """A 20x20x10 run with ``n_snapshots`` snapshots, 1 min apart."""
    sc = folder / f"{name}.yaml"
    sc.write_text(HALVES.format(duration=f"{n_snapshots - 1} min", snap="1 min"))
    return run_scenario(sc, folder / f"{name}.h5", progress=False, backend="numpy")


@pytest.fixture(scope="module")
def halves_run(tmp_path_factory):
    return _make_run(tmp_path_factory.mktemp("viz"), "halves", 4)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """The 30³ stroke-like run of test_run.py (lesion label, SDF-1a, exosome, M0/M1/M2)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "run"))
    from test_run import small  # noqa: PLC0415

    d = tmp_path_factory.mktemp("vizsmall")
    return run_scenario(small(d), d / "small.h5", progress=False, backend="numpy")


def _rgb(c: str) -> np.ndarray:
    return np.array([int(c[k:k + 2], 16) for k in (1, 3, 5)], float)


# ------------------------------------------------------------------ palette, helpers
def test_palette_types_and_states_are_distinct():
    cols = cell_colors(["BMSC", "Microglia", "Astrocyte", "NeuralProgenitor", "Osteoblast",
                        "Custom1", "Custom2"],
                       {"Microglia": ["M0", "M1", "M2"]}, DECLARED)
    types = list(cols["types"].values())
    assert len(set(types)) == len(types)
    m = cols["states"]["Microglia"]
    assert m == [STATE_PALETTE[("Microglia", s)] for s in ("M0", "M1", "M2")]
    assert len(set(m)) == 3 and cols["types"]["BMSC"] == CELL_PALETTE["BMSC"]
    # the built-in colours are far apart (Euclidean RGB distance)
    fixed = [CELL_PALETTE[t] for t in ("BMSC", "Astrocyte", "NeuralProgenitor", "Osteoblast")] + m
    d = [np.linalg.norm(_rgb(a) - _rgb(b)) for k, a in enumerate(fixed) for b in fixed[k + 1:]]
    assert min(d) > 60


def test_subsample_stride_caps_points():
    assert subsample_stride([10, 20], 100) == 1
    for counts, cap in [([2000, 400], 100), ([10**6], 200_000), ([999_999, 1, 7], 1000)]:
        k = subsample_stride(counts, cap)
        assert sum(-(-c // k) for c in counts) <= cap
        assert k == 1 or sum(-(-c // (k - 1)) for c in counts) > cap     # the smallest such k


def test_time_selection_and_field_names(halves_run, tmp_path):
    with open_run(halves_run) as run:           # snapshots at 0, 1, 2, 3 min
        assert time_to_index(run, None) == 3
        assert time_to_index(run, "2 min") == 2
        assert time_to_index(run, 1.4) == 1
        assert time_to_index(run, "0.05 h") == 3
        with pytest.raises(ModelInputError, match=r"outside the run.*0 \.\. 3 min"):
            time_to_index(run, "2 h")
        with pytest.raises(ModelInputError, match="with its unit"):
            time_to_index(run, "3 um")
    with pytest.raises(ModelInputError, match=r"no field 'SDF1a'.*did you mean 'SDF-1a'"):
        render_run(halves_run, tmp_path / "x.png", field="SDF1a")
    assert not (tmp_path / "x.png").exists()


# ------------------------------------------------------------------ bad input (no rendering)
def test_bad_output_and_run_files_raise_clear_errors(halves_run, tmp_path):
    with pytest.raises(ModelInputError, match=r"unknown extension '\.jpg'.*\.png.*\.gif.*\.mp4"):
        render_run(halves_run, tmp_path / "x.jpg")
    existing = tmp_path / "old.png"
    existing.write_bytes(b"keep me")
    with pytest.raises(ModelInputError, match="exists; pass --overwrite"):
        render_run(halves_run, existing)
    assert existing.read_bytes() == b"keep me"
    with pytest.raises(ModelInputError, match="folder .* does not exist"):
        render_run(halves_run, tmp_path / "nope" / "x.png")
    with pytest.raises(ModelInputError, match="camera preset 'top'.*iso, xy, xz, yz"):
        render_run(halves_run, tmp_path / "x.png", camera="top")
    with pytest.raises(RunFileError, match="no run file at .*check the path"):
        render_run(tmp_path / "missing.h5", tmp_path / "x.png")
    bad = tmp_path / "corrupt.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 100)
    with pytest.raises(RunFileError, match="not a readable HDF5 file.*incomplete or corrupt"):
        render_run(bad, tmp_path / "x.png")
    trunc = tmp_path / "truncated.h5"
    trunc.write_bytes(Path(halves_run).read_bytes()[:2000])
    with pytest.raises(RunFileError, match="incomplete or corrupt"):
        render_run(trunc, tmp_path / "x.png")
    assert not list(tmp_path.glob("*.png.*")) and not (tmp_path / "x.png").exists()


def test_mp4_without_imageio_ffmpeg_names_the_install(halves_run, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "imageio_ffmpeg" else real(name, *a))
    with pytest.raises(ModelInputError, match="pip install imageio-ffmpeg"):
        render_run(halves_run, tmp_path / "x.mp4")


def test_gif_stream_writer_frames(tmp_path):
    iio = pytest.importorskip("imageio.v3")
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (30, 40, 3), dtype=np.uint8) for _ in range(3)]
    frames[1][:] = (255, 0, 0)
    with GifStreamWriter(tmp_path / "t.gif", fps=5) as w:
        for f in frames:
            w.append(f)
    back = iio.imread(tmp_path / "t.gif", index=None)
    assert back.shape[:3] == (3, 30, 40)
    assert np.all(back[1][..., :3] == (255, 0, 0))


# ------------------------------------------------------------------ rendering
def _classify(img: np.ndarray):
    r, g, b = (img[..., k].astype(float) for k in range(3))
    bright = r > 110
    magenta = bright & (b > 0.42 * r) & (g < 0.6 * b)       # BMSC #e7298a
    red = bright & (b < 0.3 * r) & (g < 0.3 * r)             # Microglia M1 #e41a1c
    return magenta, red


def test_png_not_blank_and_each_type_in_its_half(offscreen, halves_run, tmp_path):
    out = render_run(halves_run, tmp_path / "top.png", camera="xy", window_size=(640, 480))
    iio = pytest.importorskip("imageio.v3")
    img = iio.imread(out)[..., :3]
    assert img.shape == (480, 640, 3)
    assert img.std() > 15                                       # not blank
    # the domain is where the field slice (all zero: viridis' darkest, #440154) shows
    slice_px = np.all(np.abs(img.astype(int) - (68, 1, 84)) < 12, axis=-1)
    per_col, per_row = slice_px.sum(axis=0), slice_px.sum(axis=1)
    cols = np.nonzero(per_col > 0.3 * per_col.max())[0]      # (not the scalar bar's dark end)
    rows = np.nonzero(per_row > 0.3 * per_row.max())[0]
    x0, x1 = cols.min(), cols.max()
    mid = (x0 + x1) // 2
    assert x1 - x0 > 150
    body = slice(max(rows.min(), int(0.25 * img.shape[0])), rows.max())   # below the legend
    magenta, red = _classify(img)
    left = (body, slice(x0, mid))
    right = (body, slice(mid, x1))
    ml, mr = magenta[left].sum(), magenta[right].sum()
    rl, rr = red[left].sum(), red[right].sum()
    assert ml > 300 and rr > 300, (ml, mr, rl, rr)
    assert mr < 0.05 * ml and rl < 0.05 * rr, (ml, mr, rl, rr)


def test_render_can_show_only_some_cell_types(offscreen, halves_run, tmp_path):
    """--cells BMSC: the BMSC colour stays, the Microglia M1 colour is gone (legend aside)."""
    iio = pytest.importorskip("imageio.v3")
    out = render_run(halves_run, tmp_path / "b.png", camera="xy", window_size=(640, 480),
                     cell_types=["BMSC"])
    img = iio.imread(out)[..., :3]
    body = (slice(int(0.45 * img.shape[0]), img.shape[0]), slice(0, int(0.8 * img.shape[1])))
    magenta, red = _classify(img)
    assert magenta[body].sum() > 300
    assert red[body].sum() < 20
    with pytest.raises(ModelInputError, match="unknown cell type"):
        render_run(halves_run, tmp_path / "c.png", cell_types=["Osteoclast"])


def test_modes_and_cameras_render(offscreen, small_run, tmp_path):
    for mode, cam in [("slices", "iso"), ("iso", "xz"), ("volume", "yz")]:
        out = render_run(small_run, tmp_path / f"{mode}.png", mode=mode, camera=cam,
                         time="1 h", window_size=SMALL_WINDOW)
        img = pytest.importorskip("imageio.v3").imread(out)
        assert img.shape[:2] == (240, 320) and img[..., :3].std() > 10
    # overwrite replaces, atomically (no partial file left behind)
    render_run(small_run, tmp_path / "slices.png", overwrite=True, window_size=SMALL_WINDOW)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iso.png", "slices.png", "volume.png"]


def test_scene_titles_states_tissue_and_time(offscreen, small_run):
    with open_run(small_run) as run:
        p = pv.Plotter(off_screen=True, window_size=SMALL_WINDOW)
        scene = RunScene(p, run)
        assert scene.field == "SDF-1a"
        assert list(p.scalar_bars.keys()) == ["SDF-1a [ng/mL]"]
        assert scene.states["Microglia"] == ["M0", "M1", "M2"]
        scene.show_snapshot(-1)
        assert scene.time_text.startswith("small   t = 3.0 h")
        assert "lesion" in scene._tissue_actors                 # translucent lesion surface
        # Microglia points are coloured by state: each row's colour is its state's colour
        mg = run.agents("Microglia", -1, columns=["state"])["state"]
        rgb = scene._agent_meshes["Microglia"].point_data["rgb"]
        lut = np.array([_rgb(STATE_PALETTE[("Microglia", s)]) for s in ("M0", "M1", "M2")])
        assert np.array_equal(rgb, lut[mg].astype(np.uint8))
        scene.show_snapshot(1)
        assert "t = 1.0 h" in scene.time_text
        scene.set_field("exosome")
        assert list(p.scalar_bars.keys()) == ["exosome [1e9 particles/mL]"]
        p.close()


def test_subsampling_caps_points_drawn(offscreen, small_run):
    with open_run(small_run) as run:
        n = sum(run.agent_count(t, -1) for t in run.cell_types)
        assert n > 1000
        p = pv.Plotter(off_screen=True, window_size=SMALL_WINDOW)
        scene = RunScene(p, run, max_points=100)
        scene.show_snapshot(-1)
        drawn = sum(scene._agent_meshes[t].n_points for t in run.cell_types)
        assert drawn == scene.n_points_drawn <= 100
        assert scene.stride == subsample_stride([run.agent_count(t, -1) for t in run.cell_types],
                                                100) > 1
        assert f"showing 1 in {scene.stride} agents" in scene.time_text
        p.close()


def test_gif_has_one_frame_per_snapshot(offscreen, halves_run, tmp_path):
    iio = pytest.importorskip("imageio.v3")
    out = render_run(halves_run, tmp_path / "m.gif", window_size=SMALL_WINDOW)
    frames = iio.imread(out, index=None)
    with open_run(halves_run) as run:
        assert frames.shape[0] == run.n_snapshots == 4
    assert frames.shape[1:3] == (240, 320)


def test_mp4_written_when_imageio_ffmpeg_present(offscreen, halves_run, tmp_path):
    if importlib.util.find_spec("imageio_ffmpeg") is None:
        pytest.skip("imageio-ffmpeg is not installed (pip install imageio-ffmpeg)")
    iio = pytest.importorskip("imageio.v3")
    out = render_run(halves_run, tmp_path / "m.mp4", window_size=(320, 240))
    assert out.stat().st_size > 1000
    frames = iio.imread(out, index=None)
    assert frames.shape[0] == 4


def test_interrupted_run_renders_complete_snapshots(offscreen, halves_run, tmp_path):
    iio = pytest.importorskip("imageio.v3")
    cut = tmp_path / "cut.h5"
    shutil.copy(halves_run, cut)
    with h5py.File(cut, "r+") as f:
        last = sorted(f["snapshots"].keys())[-1]
        del f["snapshots"][last].attrs["complete"]
        del f.attrs["status"]
    frames = iio.imread(render_run(cut, tmp_path / "cut.gif", window_size=SMALL_WINDOW),
                        index=None)
    assert frames.shape[0] == 3
    render_run(cut, tmp_path / "cut.png", window_size=SMALL_WINDOW)       # the last complete one
    with pytest.raises(ModelInputError, match="outside the run"):
        render_run(cut, tmp_path / "cut3.png", time="3 min", window_size=SMALL_WINDOW)


def test_movie_memory_does_not_grow_with_snapshots(offscreen, tmp_path):
    short = _make_run(tmp_path, "short", 5)
    long = _make_run(tmp_path, "long", 20)
    peaks = {}
    for name, path in [("short", short), ("long", long), ("short2", short)]:
        tracemalloc.start()
        render_run(path, tmp_path / f"{name}.gif", window_size=SMALL_WINDOW)
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    base = min(peaks["short"], peaks["short2"])
    assert peaks["long"] < 1.5 * base, peaks


# ------------------------------------------------------------------ viewer
def test_viewer_callbacks_drive_the_scene(offscreen, small_run):
    v = view_run(small_run, off_screen=True, show=False, window_size=(480, 360))
    try:
        s = v.scene
        assert v.snapshot == 3 and "t = 3.0 h" in s.time_text
        v.on_slider(1.2)
        assert v.snapshot == 1 and "t = 1.0 h" in s.time_text
        v.on_timer()                                  # paused: nothing moves
        assert v.snapshot == 1
        v.on_play(True)
        v.on_timer()
        assert v.snapshot == 2 and "t = 2.0 h" in s.time_text
        assert v.slider.GetRepresentation().GetValue() == 2
        v.on_timer()
        v.on_timer()                                  # loops to the start
        assert v.snapshot == 0
        v.on_play(False)
        v.on_timer()
        assert v.snapshot == 0
        # field toggles: one field at a time
        v.on_field_toggle("exosome", True)
        assert s.field == "exosome" and s.field_visible
        states = {f: w.GetRepresentation().GetState() for f, w in v.field_buttons.items()}
        assert states == {"SDF-1a": 0, "exosome": 1}
        assert all(a.GetVisibility() for a in s.field_actors())
        v.on_field_toggle("exosome", False)
        assert not s.field_visible and not any(a.GetVisibility() for a in s.field_actors())
        assert not v.plotter.scalar_bars.keys()
        # cell-type toggles
        v.on_cell_type_toggle("Microglia", False)
        assert not s.agent_actor("Microglia").GetVisibility()
        assert s.agent_actor("BMSC").GetVisibility()
        assert s._agent_meshes["Microglia"].n_points == 0 and "(hidden)" in s.time_text
        v.on_cell_type_toggle("Microglia", True)
        assert s.agent_actor("Microglia").GetVisibility()
        assert s._agent_meshes["Microglia"].n_points == s.counts["Microglia"]
        img = v.plotter.screenshot(return_img=True)
        assert img.std() > 10
    finally:
        v.close()
        v.run.close()


def test_view_run_without_display_says_what_to_do(monkeypatch, small_run):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(ModelInputError, match="no display.*abm render"):
        view_run(small_run)


@pytest.mark.parametrize("cmd", [["render", "{f}", "--out", "{d}/x.png"],
                                 ["render", "{f}", "--out", "{d}/x.gif"],
                                 ["plot", "{f}", "--out", "{d}/x.png"],
                                 ["view", "{f}"]])
def test_cli_missing_or_corrupt_run_file_exits_2_with_one_line(cmd, tmp_path, capsys):
    from abm.cli import main

    bad = tmp_path / "corrupt.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)   # an HDF5 signature, then junk
    for f in (tmp_path / "missing.h5", bad):
        rc = main([a.format(f=f, d=tmp_path) for a in cmd])
        err = capsys.readouterr().err
        assert rc == 2, err
        assert err.count("abm: error:") == 1 and "Traceback" not in err
        assert str(f.name) in err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.gif").exists()


def test_cli_without_the_viz_extra_says_what_to_install(monkeypatch, small_run, tmp_path, capsys):
    """No PyVista installed: exit 2 and the pip command, not an internal error."""
    import builtins

    from abm.cli import main

    real_import = builtins.__import__

    def no_pyvista(name, *a, **k):
        if name == "pyvista" or name.startswith("pyvista."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_pyvista)
    rc = main(["render", str(small_run), "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert rc == 2 and "bmsc-abm[viz]" in err and "internal error" not in err


_WINDOW_SCRIPT = r"""
import sys, time
from viz.viewer import view_run
v = view_run(sys.argv[1], show=False)
p = v.plotter
assert not p.off_screen
v.on_slider(0)
v.on_play(True)
t0, seen = time.time(), {}
def watchdog(step):
    # wait until play has moved on by itself (at most 30 s: a loaded CI machine renders slowly)
    waited = time.time() - t0
    if "img" not in seen and waited > 1.0 and (v.scene.snapshot > 0 or waited > 30.0):
        seen["img"] = p.screenshot(return_img=True)
        seen["snap"] = v.scene.snapshot
        seen["window"] = type(p.ren_win).__name__
        p.iren.interactor.TerminateApp()
p.add_timer_event(max_steps=10**6, duration=100, callback=watchdog)
v.show()
print("WINDOW", seen["window"], seen["snap"], float(seen["img"].std()))
"""


def test_interactive_window_plays_on_an_x_display(small_run, tmp_path):
    """`abm view`'s window works on a real X server (Xvfb).

    It opens, play advances the snapshots on the viewer's own timer, and the window
    shows a picture.
    """
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb); the off-screen tests cover "
                    "the scene and the callbacks")
    display = f":{90 + (os.getpid() % 500)}"
    server = subprocess.Popen([xvfb, display, "-screen", "0", "1280x900x24"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # wait for the server's socket rather than a fixed time: on a loaded machine Xvfb
        # can take several seconds to listen, and VTK then finds no display
        sock = Path("/tmp/.X11-unix") / f"X{display[1:]}"
        deadline = time.monotonic() + 60.0
        while not sock.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        script = tmp_path / "window.py"
        script.write_text(_WINDOW_SCRIPT)
        env = dict(os.environ, DISPLAY=display,
                   PYTHONPATH=str(Path(__file__).resolve().parents[2]))
        res = subprocess.run([sys.executable, str(script), str(small_run)], env=env,
                             capture_output=True, text=True, timeout=120)
    finally:
        server.terminate()
        server.wait()
    line = [x for x in res.stdout.splitlines() if x.startswith("WINDOW")]
    assert res.returncode == 0 and line, res.stderr[-2000:]
    _, window, snap, std = line[0].split()
    assert "OpenGLRenderWindow" in window and "EGL" not in window   # an on-screen window
    assert int(snap) > 0                  # play moved on from snapshot 0 by itself
    assert float(std) > 15                # not blank


def test_cli_render_size_and_bad_size(offscreen, halves_run, tmp_path, capsys):
    from abm.cli import main

    iio = pytest.importorskip("imageio.v3")
    out = tmp_path / "s.png"
    assert main(["render", str(halves_run), "--out", str(out), "--size", "320x240",
                 "--max-points", "50", "--camera", "xy"]) == 0
    assert iio.imread(out).shape[:2] == (240, 320)
    assert main(["render", str(halves_run), "--out", str(tmp_path / "t.png"), "--size", "big"]) == 2
    assert "--size must be WIDTHxHEIGHT" in capsys.readouterr().err
