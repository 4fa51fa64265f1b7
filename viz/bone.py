"""Pictures of bone: the mineral isosurface with osteoblasts and osteoclasts on it (``abm render --bone``).

A bone picture shows, for one snapshot of a run file,

* the **bone surface**: the isosurface ``mineral = threshold`` of the run's ``mineral`` tissue
  state (the mineral volume fraction, 0–1; the threshold is the ``mineral`` process's, read
  from the scenario the run file stores, else the seeds' default 0.5), drawn ivory, opaque or
  translucent. A run without a ``mineral`` state (a geometry-only scenario) shows the surface
  of its mineralised tissue labels (:data:`BONE_LABELS`: ``trabecular``, ``cortex``);
* the **bone cells** as spheres in their voxels (each at a fixed offset given by its id, as
  in :mod:`viz.jitter`): by default the osteoblasts, coloured by state (the colours their type
  declares: active gold, lining dark ochre) and the osteoclasts (red, drawn larger: they are
  multinucleated cells several times an osteoblast's size); any other cell types on request;
* **axes** along the domain's edges with ticks in µm, and a **title** with the scenario (or a
  label), the simulated time and, when the run has it, the ``BV/TV`` readout of that time.

:func:`render_bone` writes one picture; :func:`render_bone_compare` puts two or more runs
side by side, one row per run with its first and a chosen (default last) snapshot, e.g. an
ovariectomised control and an EV-treated animal. :func:`bone_surface` gives the surface as a
:class:`pyvista.PolyData` (µm) for scripts. Everything reads the run file only.

How the surface is made: the per-voxel values (mineral fraction, or the 0/1 mask of the bone
labels) sit at the voxel centres of a :class:`pyvista.ImageData` padded with one layer of
zeros, so bone touching the domain's edge is closed there; VTK's contour filter (marching
cubes family) cuts it at the threshold. On a 0/1 mask the surface runs through the faces
between bone and soft voxels and cuts the edges and corners of the voxel staircase: it
encloses slightly less than the voxels (an ``a × b × c`` voxel box gives exactly
``abc − (a + b + c − 3)/2 − 5/6`` voxels; see the tests). On a mineral fraction the surface
falls between voxel centres where the fraction crosses the threshold (linear interpolation,
the partial-volume reading a micro-CT segmentation makes). Lattices with more than
``max_dim`` voxels along an axis are first averaged over blocks of ``s³`` voxels (block means
keep thin trabeculae that a stride would skip).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from abm.errors import ModelInputError

from .camera import CAMERA_PRESETS, apply_camera
from .jitter import drawn_positions
from .palette import BACKGROUND, cell_colors
from .selection import subsample_stride, time_to_index

__all__ = ["BONE_COLOUR", "BONE_LABELS", "BONE_CELL_TYPES", "BONE_MAX_DIM", "BoneScene",
           "add_bone_options", "bone_command", "bone_source", "bone_surface", "bone_threshold",
           "bone_values", "readout_at", "render_bone", "render_bone_compare"]

#: Tissue labels that are mineralised bone (the shared labels of the bone scenarios).
BONE_LABELS = ("trabecular", "cortex")

#: Colour of the bone surface: ivory.
BONE_COLOUR = "#efe8d0"

#: Cell types drawn on the bone by default (those of them the run has).
BONE_CELL_TYPES = ("Osteoblast", "Osteoclast")

#: Sphere radius of a cell glyph, in voxel edges; per type where it differs from the default.
GLYPH_RADIUS = {"default": 0.32, "Osteoclast": 0.48}

#: Largest lattice dimension contoured as is; above it, block means of s³ voxels.
BONE_MAX_DIM = 256

#: Seeds default of the ``mineral`` process's threshold (used when a run's scenario sets none).
DEFAULT_THRESHOLD = 0.5

_MINERAL = "mineral"


# ----------------------------------------------------------------------------- what is bone
def bone_threshold(run) -> float:
    """The mineral fraction from which a voxel is bone, as the run's ``mineral`` process used it.

    Read from the scenario text stored in the run file (``processes: {mineral: {threshold:
    ...}}``); a scenario that sets none used the seeds' default, read from
    ``seeds/processes.csv`` of the installed package (0.5, the partial-volume midpoint).

    Parameters
    ----------
    run : abm.runfile.RunReader

    Returns
    -------
    float
        Threshold, mineral volume fraction (1).
    """
    import yaml  # noqa: PLC0415

    try:
        doc = yaml.safe_load(run.scenario_text or "") or {}
    except yaml.YAMLError:
        doc = {}
    proc = doc.get("processes") if isinstance(doc, dict) else None
    raw = (proc.get(_MINERAL) or {}).get("threshold") if isinstance(proc, dict) and \
        isinstance(proc.get(_MINERAL), (dict, type(None))) else None
    if raw is not None:
        from abm.units import parse_quantity  # noqa: PLC0415
        try:
            q, _ = parse_quantity(raw)
            t = float(q.to("dimensionless").magnitude)
        except Exception:  # noqa: BLE001 - an unreadable value: say which
            raise ModelInputError(f"{run.path}: the scenario's processes.mineral.threshold "
                                  f"{raw!r} is not a fraction; the run file may be damaged") from None
        if 0.0 < t < 1.0:
            return t
    try:
        from abm.seeds import load_process_defaults  # noqa: PLC0415
        return float(load_process_defaults()[_MINERAL]["threshold"])
    except Exception:  # noqa: BLE001 - seeds unavailable: the shared decision
        return DEFAULT_THRESHOLD


def bone_source(run) -> str:
    """Where a run's bone comes from: ``"mineral"`` (tissue state) or ``"labels"``.

    Parameters
    ----------
    run : abm.runfile.RunReader

    Returns
    -------
    str

    Raises
    ------
    ModelInputError
        The run has neither a ``mineral`` tissue state nor a bone label.
    """
    if _MINERAL in (getattr(run, "tissue_state_names", None) or []):
        return "mineral"
    if any(n in BONE_LABELS for n in run.tissue_names):
        return "labels"
    raise ModelInputError(
        f"no bone in {run.path}: it has no 'mineral' tissue state and no "
        f"{' or '.join(repr(n) for n in BONE_LABELS)} tissue label (its tissues: "
        f"{', '.join(run.tissue_names) or 'none'}); --bone draws runs of bone scenarios "
        "(processes: {mineral: {}} or the bone labels); use abm render without --bone for others")


def bone_values(run, i: int = -1) -> tuple[np.ndarray, float, str]:
    """The per-voxel quantity whose isosurface is the bone surface, at snapshot ``i``.

    Parameters
    ----------
    run : abm.runfile.RunReader
    i : int
        Snapshot index (negative counts from the end).

    Returns
    -------
    values : ndarray (nx, ny, nz) of float32
        Mineral volume fraction (1), or 1 in bone-label voxels and 0 elsewhere.
    threshold : float
        Iso-value: the mineral threshold, or 0.5 for the label mask.
    source : {"mineral", "labels"}

    Raises
    ------
    ModelInputError
        No bone in the run (see :func:`bone_source`).
    """
    source = bone_source(run)
    if source == "mineral":
        return (np.asarray(run.tissue_state(_MINERAL, i), dtype=np.float32), bone_threshold(run),
                source)
    codes = [k for k, n in enumerate(run.tissue_names) if n in BONE_LABELS]
    lab = np.asarray(run.labels(i))
    return np.isin(lab, codes).astype(np.float32), 0.5, source


def _block_mean(a: np.ndarray, s: int) -> np.ndarray:
    """Mean over blocks of s³ voxels (the last partial block averages what it holds)."""
    if s <= 1:
        return a
    pad = [(0, (-n) % s) for n in a.shape]
    w = np.pad(np.ones(a.shape, np.float32), pad)
    v = np.pad(a.astype(np.float32), pad)
    sh = tuple(n // s for n in v.shape)
    sums = v.reshape(sh[0], s, sh[1], s, sh[2], s).sum(axis=(1, 3, 5))
    cnt = w.reshape(sh[0], s, sh[1], s, sh[2], s).sum(axis=(1, 3, 5))
    return sums / cnt


def _spacing_origin(run, shape) -> tuple[np.ndarray, np.ndarray]:
    a = run.attrs
    spacing = np.broadcast_to(np.asarray(a.get("dx_um", 1.0), float), (3,)).copy()
    org = a.get("origin_um")
    origin = np.broadcast_to(np.asarray(org, float), (3,)).copy() if org is not None \
        else np.zeros(3)
    return spacing, origin


def bone_surface(run, i: int = -1, *, max_dim: int = BONE_MAX_DIM):
    """The bone surface of snapshot ``i``: the closed isosurface at the bone threshold.

    Parameters
    ----------
    run : abm.runfile.RunReader
    i : int
        Snapshot index.
    max_dim : int
        Lattices longer than this along an axis are averaged over blocks of s³ voxels first
        (s the smallest integer that brings every axis to at most ``max_dim``).

    Returns
    -------
    pyvista.PolyData
        Triangulated surface, points in µm (lattice origin ``origin_um`` if the run has one);
        closed (bone at the domain's edge is capped there), so ``surface.volume`` is the bone
        volume it encloses, µm³. Its ``field_data`` holds ``threshold`` (1), ``source`` and
        ``block`` (s).

    Raises
    ------
    ModelInputError
        No bone in the run, or none at this snapshot.
    """
    import pyvista as pv  # noqa: PLC0415

    values, thr, source = bone_values(run, i)
    spacing, origin = _spacing_origin(run, values.shape)
    s = max(1, math.ceil(max(values.shape) / max(int(max_dim), 2)))
    v = _block_mean(values, s)
    if not (v >= thr).any():
        n = run.n_snapshots
        k = int(i) % n
        what = (f"mineral < {thr:g} everywhere" if source == "mineral"
                else f"no {'/'.join(BONE_LABELS)} voxel")
        raise ModelInputError(f"no bone in snapshot {k} of {run.path} (t = {run.times[k]:g} min): "
                              f"{what}; choose another --time (its snapshots span "
                              f"{run.times[0]:g} .. {run.times[-1]:g} min)")
    m = np.pad(v, 1)                                    # zeros around: surfaces close at the edge
    grid = pv.ImageData(dimensions=m.shape, spacing=tuple(spacing * s),
                        origin=tuple(origin + spacing * s * 0.5 - spacing * s))
    grid.point_data["bone"] = m.ravel(order="F")
    surf = grid.contour([thr], scalars="bone")
    surf = surf.triangulate()
    surf.field_data["threshold"] = np.array([thr])
    surf.field_data["source"] = np.array([source])
    surf.field_data["block"] = np.array([s])
    return surf


def readout_at(run, name: str, t_min: float) -> tuple[float, float] | None:
    """The value of readout ``name`` at the row nearest ``t_min`` (None if the run lacks it).

    Parameters
    ----------
    run : abm.runfile.RunReader
    name : str
        Readout name, e.g. ``"BV/TV"``.
    t_min : float
        Simulated time, min.

    Returns
    -------
    (value, time) or None
        The readout in its unit and the time of that row, min; None when the run has no such
        readout or it is NaN there.
    """
    ro = run.readouts()
    if name not in ro or len(ro.get("time_min", [])) == 0:
        return None
    t = np.asarray(ro["time_min"], float)
    k = int(np.argmin(np.abs(t - float(t_min))))
    val = float(ro[name][k])
    return None if not math.isfinite(val) else (val, float(t[k]))


def _time_unit(run) -> str:
    last = float(run.times[-1]) if len(run.times) else 0.0
    return "d" if last >= 2880.0 else "h" if last >= 120.0 else "min"


def _fmt_time(t_min: float, unit: str) -> str:
    if unit == "d":
        return f"t = {t_min / 1440.0:.1f} d"
    if unit == "h":
        return f"t = {t_min / 60.0:.1f} h"
    return f"t = {t_min:g} min"


# ----------------------------------------------------------------------------- the scene
class BoneScene:
    """The bone surface and the bone cells of one snapshot, in the active renderer of a plotter.

    Parameters
    ----------
    plotter : pyvista.Plotter
        Where to draw; for a multi-panel plotter, call ``plotter.subplot(r, c)`` first.
    run : abm.runfile.RunReader
        Open run file (not closed by the scene).
    cell_types : sequence of str, optional
        Cell types drawn as glyphs (default: those of :data:`BONE_CELL_TYPES` the run has; an
        empty list: none).
    opacity : float
        Opacity of the bone surface, 0 (invisible) .. 1 (opaque, the default).
    max_points : int
        Most cells drawn (every k-th of each type above it; the legend says so).
    max_dim : int
        See :func:`bone_surface`.
    label : str, optional
        Name in the title (default the scenario name).
    readouts : sequence of str
        Readouts shown in the title at the snapshot's time, when the run has them.

    Attributes
    ----------
    surface : pyvista.PolyData or None
        The bone surface drawn (µm).
    counts : dict of str to int
        Cells of each drawn type (and ``"<type> <state>"`` per state) at the snapshot.
    stride : int
        Cell subsampling k.
    title : str
        The title drawn.
    legend : list of (str, str)
        The legend drawn: (text, colour ``#rrggbb``) per line.
    bounds : tuple of 6 float
        Domain bounds, µm.
    """

    def __init__(self, plotter, run, *, cell_types=None, opacity=1.0, max_points=200_000,
                 max_dim=BONE_MAX_DIM, label=None, readouts=("BV/TV",)):
        import pyvista as pv  # noqa: PLC0415

        self._pv, self.plotter, self.run = pv, plotter, run
        bone_source(run)                                 # refuse a run without bone at once
        if not (isinstance(opacity, (int, float)) and 0.0 < float(opacity) <= 1.0):
            raise ModelInputError(f"bone opacity must be a number in (0, 1], got {opacity!r}")
        if not (isinstance(max_points, (int, np.integer)) and max_points >= 1):
            raise ModelInputError(f"max_points must be an integer >= 1, got {max_points!r}")
        if cell_types is None:
            cell_types = [t for t in BONE_CELL_TYPES if t in run.cell_types]
        unknown = [t for t in cell_types if t not in run.cell_types]
        if unknown:
            raise ModelInputError(f"unknown cell type(s) {', '.join(map(repr, unknown))} in "
                                  f"{run.path}; its cell types: {', '.join(run.cell_types) or 'none'}")
        self.cell_types = list(cell_types)
        self.opacity, self.max_points, self.max_dim = float(opacity), int(max_points), max_dim
        self.label = label or str(run.attrs.get("scenario_name", run.path.stem))
        self.readouts = tuple(readouts)
        cs = getattr(run, "cell_states", None) or {}
        self.states = {t: [str(s) for s in cs.get(t, [])] for t in run.cell_types}
        self.colors = cell_colors(run.cell_types, self.states, getattr(run, "cell_colours", None))
        sh = run.attrs.get("shape")
        shape = tuple(int(v) for v in np.atleast_1d(sh)) if sh is not None and \
            len(np.atleast_1d(sh)) == 3 else tuple(np.asarray(run.labels(0)).shape)
        self.spacing, self.origin = _spacing_origin(run, shape)
        ext = self.origin + self.spacing * np.asarray(shape)
        self.bounds = (self.origin[0], ext[0], self.origin[1], ext[1], self.origin[2], ext[2])
        self.surface = None
        self.counts: dict[str, int] = {}
        self.stride = 1
        self.title = ""
        self.legend: list[tuple[str, str]] = []
        self._actors: list = []

    def draw(self, i: int = -1) -> None:
        """Draw snapshot ``i``: bone surface, cell glyphs, axes in µm, legend and title.

        What an earlier call drew is removed first, so a scene can step through snapshots.

        Parameters
        ----------
        i : int
            Snapshot index (negative counts from the end).
        """
        pv, p, run = self._pv, self.plotter, self.run
        n = run.n_snapshots
        if not -n <= int(i) < n:
            raise ModelInputError(f"snapshot {i} is out of range: {run.path} holds {n} complete "
                                  f"snapshots (0..{n - 1})")
        i = int(i) % n
        self.clear()
        p.set_background(BACKGROUND)
        self._keep(p.add_mesh(pv.Box(bounds=self.bounds).outline(), color="#707070", line_width=1,
                   pickable=False))
        self.surface = bone_surface(run, i, max_dim=self.max_dim)
        thr = float(self.surface.field_data["threshold"][0])
        src = str(self.surface.field_data["source"][0])
        self._keep(p.add_mesh(self.surface, color=BONE_COLOUR, opacity=self.opacity, smooth_shading=True,
                   specular=0.2, show_scalar_bar=False))
        legend = [[f"bone (mineral >= {thr:g})" if src == "mineral"
                   else "bone (" + "/".join(n for n in BONE_LABELS if n in run.tissue_names) + ")",
                   BONE_COLOUR]]
        legend += self._draw_cells(i)
        self._keep(p.show_bounds(bounds=self.bounds, xtitle="x (um)", ytitle="y (um)", ztitle="z (um)",
                      color="#d0d0d0", font_size=9, location="outer", ticks="outside",
                      n_xlabels=3, n_ylabels=3, n_zlabels=3, fmt="%.0f"))
        if self.stride > 1:
            legend.append([f"(1 in {self.stride} cells drawn)", "#707070"])
        self.legend = [(str(k), str(c)) for k, c in legend]
        self._draw_legend()
        t = float(run.times[i])
        parts = [self.label, _fmt_time(t, _time_unit(run))]
        for name in self.readouts:
            got = readout_at(run, name, t)
            if got is not None:
                val, tr = got
                parts.append(f"{name} {val:.3g}" + ("" if abs(tr - t) <= 1e-6 * max(1.0, abs(t))
                                                    else f" (at {_fmt_time(tr, _time_unit(run))})"))
        self.title = "   ".join(parts)
        self._keep(p.add_text(self.title, position="upper_left", font_size=10, color="white"))

    def clear(self) -> None:
        """Remove what :meth:`draw` added (the plotter's lights and camera stay)."""
        for actor in self._actors:
            self.plotter.remove_actor(actor, render=False)
        self._actors = []

    def _keep(self, actor):
        self._actors.append(actor)
        return actor

    def _draw_legend(self, font_size: int = 9) -> None:
        """The legend: one line per entry in its own colour, right-aligned at the upper right.

        (VTK's legend box scales its text to the box height and clips it at the box width, so
        lines of text are placed instead, in pixels of the panel.)
        """
        p = self.plotter
        ws = p.window_size or (1024, 768)
        vp = p.renderer.GetViewport()                    # (x0, y0, x1, y1), share of window
        vw, vh = (vp[2] - vp[0]) * ws[0], (vp[3] - vp[1]) * ws[1]
        step = 1.9 * font_size
        for k, (text, colour) in enumerate(self.legend):
            actor = p.add_text(text, position=(vw - 8, vh - 32 - step * k), font_size=font_size,
                               color=colour)
            actor.prop.justification_horizontal = "right"
            self._keep(actor)

    def _draw_cells(self, i: int) -> list:
        pv, p, run = self._pv, self.plotter, self.run
        self.counts = {t: run.agent_count(t, i) for t in self.cell_types}
        k = subsample_stride([self.counts[t] for t in self.cell_types], self.max_points)
        self.stride = k
        legend = []
        dx = float(np.min(self.spacing))
        for t in self.cell_types:
            if self.counts[t] == 0:
                legend.append([f"{t} (0)", self.colors["types"][t]])
                continue
            want = ["pos", "id"] + (["state"] if self.states[t] else [])
            try:
                tab = run.agents(t, i, columns=want)
            except Exception:  # noqa: BLE001 - a file without ids or states
                tab = run.agents(t, i, columns=["pos"])
            pos = np.asarray(tab["pos"])[::k]
            ids = np.asarray(tab["id"])[::k] if "id" in tab else None
            xyz = drawn_positions(pos, ids, self.origin, self.spacing)
            cols = self.colors["states"].get(t) or []
            if "state" in tab and cols:
                st = np.asarray(tab["state"]).astype(np.int64)[::k]
                st_all = np.asarray(tab["state"]).astype(np.int64)
                groups = [(f"{t} {s}", st == j, c, int((st_all == j).sum()))
                          for j, (s, c) in enumerate(zip(self.states[t], cols))]
                for s in self.states[t]:
                    self.counts[f"{t} {s}"] = int((st_all == self.states[t].index(s)).sum())
            else:
                groups = [(t, np.ones(len(pos), bool), self.colors["types"][t], self.counts[t])]
            r = GLYPH_RADIUS.get(t, GLYPH_RADIUS["default"]) * dx
            ball = pv.Sphere(radius=r, theta_resolution=10, phi_resolution=8)
            for name, sel, colour, count in groups:
                legend.append([f"{name} ({count:,})", colour])
                if not sel.any():
                    continue
                glyphs = pv.PolyData(xyz[sel]).glyph(geom=ball, scale=False, orient=False)
                self._keep(p.add_mesh(glyphs, color=colour, smooth_shading=True,
                                      show_scalar_bar=False))
        return legend


# ----------------------------------------------------------------------------- pictures
def _check_png(out: Path, overwrite: bool, movie: bool = False) -> str:
    ext = out.suffix.lower()
    if ext != ".png" and not (movie and ext == ".gif"):
        shown = repr(out.suffix) if out.suffix else "(none)"
        more = " (one snapshot) or a .gif (one frame per snapshot)" if movie else \
            " (one snapshot per panel)"
        raise ModelInputError(f"cannot write a bone picture to {out}: unknown extension {shown}; "
                              f"--bone draws to a .png{more}")
    from .render import check_writable  # noqa: PLC0415

    check_writable(out, ext or ".png", overwrite)
    return ext


def _window(window_size) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in window_size)
    except (TypeError, ValueError):
        raise ModelInputError(f"window_size must be (width, height) in pixels, got "
                              f"{window_size!r}") from None
    if not (16 <= w <= 16384 and 16 <= h <= 16384):
        raise ModelInputError(f"window_size must be 16..16384 pixels each way, got {window_size!r}")
    return w, h


def _screenshot(plotter, out: Path) -> None:
    tmp = out.with_name(f".{out.stem}.partial-{os.getpid()}{out.suffix}")
    try:
        plotter.screenshot(str(tmp))
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def render_bone(path, out, *, time=None, camera="iso", window_size=(1024, 768), opacity=1.0,
                cell_types=None, max_points=200_000, max_dim=BONE_MAX_DIM, label=None,
                overwrite=False, fps=4.0) -> Path:
    """Picture of the bone surface with its osteoblasts and osteoclasts, off-screen to PNG (or GIF).

    Parameters
    ----------
    path : str or Path
        Run file (``RUN.h5``) of a bone scenario: a ``mineral`` tissue state, or the
        ``trabecular``/``cortex`` labels.
    out : str or Path
        Picture to write: ``.png`` one snapshot, ``.gif`` one frame per complete snapshot (the
        remodelling as a movie; camera of the first frame); written to a temporary file and
        renamed when complete.
    time : str or float, optional
        PNG: the snapshot nearest this simulated time (``"28 d"``, or minutes); default the
        last.
    camera : {"iso", "xy", "xz", "yz"}
        Camera preset (:data:`viz.camera.CAMERA_PRESETS`).
    window_size : (int, int)
        Picture size, pixels.
    opacity : float
        Bone surface opacity, (0, 1]; 1 opaque, e.g. 0.5 to see cells behind the bone.
    cell_types : sequence of str, optional
        Cell types drawn (default osteoblasts and osteoclasts, if the run has them).
    max_points : int
        Most cells drawn.
    max_dim : int
        See :func:`bone_surface`.
    label : str, optional
        Name in the title (default the scenario name).
    overwrite : bool
        Replace an existing ``out``.
    fps : float
        GIF frames per second.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ModelInputError
        No bone in the run or at the snapshot, unknown camera or cell type, time outside the
        run (or a time for a GIF), bad output path, existing output without ``overwrite``.
    """
    out = Path(out)
    ext = _check_png(out, overwrite, movie=True)
    if ext == ".gif" and time is not None:
        raise ModelInputError("time selects one snapshot for a .png; a .gif shows every snapshot: "
                              "leave time out")
    if not float(fps) > 0:
        raise ModelInputError(f"fps must be > 0, got {fps!r}")
    if camera not in CAMERA_PRESETS:
        raise ModelInputError(f"unknown camera preset {camera!r}; choose one of "
                              f"{', '.join(CAMERA_PRESETS)}")
    w, h = _window(window_size)
    import pyvista as pv  # noqa: PLC0415

    from abm.runfile import open_run  # noqa: PLC0415

    with open_run(path) as run:
        if run.n_snapshots == 0:
            raise ModelInputError(f"{run.path} holds no complete snapshot yet; wait for the run "
                                  "to write its first snapshot")
        index = time_to_index(run, time)
        plotter = pv.Plotter(off_screen=True, window_size=(w, h))
        try:
            scene = BoneScene(plotter, run, cell_types=cell_types, opacity=opacity,
                              max_points=max_points, max_dim=max_dim, label=label)
            if ext == ".png":
                scene.draw(index)
                apply_camera(plotter, camera, scene.bounds)
                _screenshot(plotter, out)
            else:
                _bone_movie(plotter, scene, camera, out, fps)
        finally:
            plotter.close()
    return out


def _bone_movie(plotter, scene: BoneScene, camera: str, out: Path, fps: float) -> None:
    """One GIF frame per complete snapshot, written as rendered (memory of one frame)."""
    from .render import GifStreamWriter  # noqa: PLC0415

    tmp = out.with_name(f".{out.stem}.partial-{os.getpid()}{out.suffix}")
    try:
        with GifStreamWriter(tmp, fps=fps) as gif:
            for i in range(scene.run.n_snapshots):
                scene.draw(i)
                if i == 0:
                    apply_camera(plotter, camera, scene.bounds)
                plotter.render()
                gif.append(plotter.screenshot(return_img=True))
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def render_bone_compare(paths, out, *, labels=None, time=None, camera="iso", window_size=None,
                        opacity=1.0, cell_types=None, max_points=100_000, max_dim=BONE_MAX_DIM,
                        overwrite=False) -> Path:
    """Before/after figure of the bone of two or more runs, one row per run, PNG.

    Each row shows a run's first snapshot (before) and the snapshot nearest ``time`` (after;
    default its last), with the run's label, the time and its ``BV/TV`` readout (when the run
    has one) in each panel's title: e.g. an ovariectomised control above an EV-treated animal.

    Parameters
    ----------
    paths : sequence of str or Path
        Two to four run files of bone scenarios.
    out : str or Path
        Picture to write (``.png``).
    labels : sequence of str, optional
        One label per run (default the file names without ``.h5``).
    time : str or float, optional
        The "after" snapshot of every run, nearest this time; default each run's last.
    camera : {"iso", "xy", "xz", "yz"}
    window_size : (int, int), optional
        Picture size, pixels (default 1400 wide, 560 per row).
    opacity, cell_types, max_points, max_dim
        As for :func:`render_bone`.
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ModelInputError
        Fewer than two or more than four runs, a label count that does not match, a run
        without bone, and the errors of :func:`render_bone`.
    """
    paths = [Path(p) for p in paths]
    if not 2 <= len(paths) <= 4:
        raise ModelInputError(f"a bone comparison takes 2 to 4 run files, got {len(paths)}; e.g. "
                              "abm render OVX.h5 EV.h5 --bone --compare --out compare.png")
    if labels is None:
        labels = [p.stem for p in paths]
    labels = [str(v) for v in labels]
    if len(labels) != len(paths):
        raise ModelInputError(f"give one label per run: {len(paths)} runs, {len(labels)} labels")
    out = Path(out)
    _check_png(out, overwrite)
    if camera not in CAMERA_PRESETS:
        raise ModelInputError(f"unknown camera preset {camera!r}; choose one of "
                              f"{', '.join(CAMERA_PRESETS)}")
    w, h = _window(window_size if window_size is not None else (1400, 560 * len(paths)))
    import pyvista as pv  # noqa: PLC0415

    from abm.runfile import open_run  # noqa: PLC0415

    runs = []
    plotter = None
    try:
        for p in paths:
            runs.append(open_run(p))
        for r in runs:
            bone_source(r)
            if r.n_snapshots == 0:
                raise ModelInputError(f"{r.path} holds no complete snapshot yet")
        after = [time_to_index(r, time) for r in runs]
        plotter = pv.Plotter(off_screen=True, window_size=(w, h), shape=(len(runs), 2),
                             border=False)
        for row, (r, lab, j) in enumerate(zip(runs, labels, after)):
            for col, idx in enumerate((0, j)):
                plotter.subplot(row, col)
                scene = BoneScene(plotter, r, cell_types=cell_types, opacity=opacity,
                                  max_points=max_points, max_dim=max_dim,
                                  label=f"{lab} ({'start' if col == 0 else 'end'})")
                scene.draw(idx)
                apply_camera(plotter, camera, scene.bounds)
        _screenshot(plotter, out)
    finally:
        if plotter is not None:
            plotter.close()
        for r in runs:
            r.close()
    return out


# ----------------------------------------------------------------------------- abm render
def add_bone_options(parser) -> None:
    """Add the bone options to the ``abm render`` parser.

    ``RUN2 ...`` (more run files, for ``--compare``), ``--bone``, ``--compare``, ``--label``
    (repeatable), ``--opacity``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    """
    parser.add_argument("more_runs", type=Path, nargs="*", metavar="RUN2",
                        help="with --bone --compare: further run files shown below the first "
                             "(give all run files before the options)")
    parser.add_argument("--bone", action="store_true",
                        help="draw the bone surface (mineral isosurface, or the trabecular/cortex "
                             "labels) with osteoblasts and osteoclasts on it (.png)")
    parser.add_argument("--compare", action="store_true",
                        help="with --bone and 2-4 run files: one row per run, its first and last "
                             "(or --time) snapshot, BV/TV in the titles")
    parser.add_argument("--label", dest="labels", action="append", default=None,
                        metavar="LABEL", help="with --compare: a label per run, in order")
    parser.add_argument("--opacity", type=float, default=1.0,
                        help="with --bone: opacity of the bone surface, (0, 1] (default 1)")


def bone_command(args) -> int:
    """Run ``abm render`` with the bone options (called by :mod:`abm.cli`).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``abm render`` arguments.

    Returns
    -------
    int
        0 when the picture is written.

    Raises
    ------
    ModelInputError
        Bone options without ``--bone``, options ``--bone`` does not take, and the errors of
        :func:`render_bone` / :func:`render_bone_compare`.
    """
    more = list(getattr(args, "more_runs", None) or [])
    if not args.bone:
        if args.compare or more:
            raise ModelInputError("--compare and more than one run file go with --bone: "
                                  "abm render A.h5 B.h5 --bone --compare --out compare.png")
        if args.labels or args.opacity != 1.0:
            raise ModelInputError("--label and --opacity go with --bone")
        return -1                                        # not a bone picture: the caller renders
    if args.section is not None:
        raise ModelInputError("--section draws a flat section and --bone a 3D bone surface: "
                              "give one of them")
    if args.field is not None:
        raise ModelInputError("--bone draws the bone surface and its cells, not a field: leave "
                              "--field out (or render the field without --bone)")
    try:
        size = tuple(int(v) for v in args.size.lower().split("x"))
        assert len(size) == 2
    except (ValueError, AssertionError):
        raise ModelInputError(f"--size must be WIDTHxHEIGHT in pixels, e.g. 1280x960, got "
                              f"{args.size!r}") from None
    if args.max_points < 1:
        raise ModelInputError(f"--max-points must be >= 1, got {args.max_points}")
    if args.compare:
        runs = [args.run] + more
        if len(runs) < 2:
            raise ModelInputError("--compare needs two to four run files, e.g. abm render OVX.h5 "
                                  "EV.h5 --bone --compare --out compare.png")
        size_given = args.size != "1024x768"
        render_bone_compare(runs, args.out, labels=args.labels, time=args.time,
                            camera=args.camera, window_size=size if size_given else None,
                            opacity=args.opacity, cell_types=args.cells,
                            max_points=args.max_points, overwrite=args.overwrite)
    else:
        if more:
            raise ModelInputError(f"{len(more) + 1} run files given: add --compare to put them "
                                  "side by side, or give one run file")
        if args.labels and len(args.labels) > 1:
            raise ModelInputError("one run, one --label")
        render_bone(args.run, args.out, time=args.time, camera=args.camera, window_size=size,
                    opacity=args.opacity, cell_types=args.cells, max_points=args.max_points,
                    label=args.labels[0] if args.labels else None, overwrite=args.overwrite,
                    fps=args.fps)
    print(f"wrote {args.out}")
    return 0
