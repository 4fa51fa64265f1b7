"""A PyVista scene of one snapshot of a run file, updated in place as the snapshot changes.

:class:`RunScene` draws, for snapshot ``i`` of a run file (read with
:func:`abm.runfile.open_run`, never from a running model):

* one **field** (cytokine, growth factor) as three orthogonal slices through the domain
  centre (``mode="slices"``, the default), as translucent isosurfaces (``"iso"``) or as a
  volume rendering (``"volume"``), coloured with :data:`FIELD_CMAP` over a colour range
  fixed for the whole run (see ``clim``), with a scalar bar titled ``"<name> [<unit>]"``;
* the **agents** as spheres, one colour per cell type and, for types with states (Microglia
  M0/M1/M2), one per state (:data:`CELL_PALETTE`, :data:`STATE_PALETTE`), with a legend;
* the **tissue regions** (every label but the default label 0: core, penumbra, lesion, ...)
  as translucent contour surfaces of their masks (:data:`TISSUE_PALETTE`);
* the simulated **time** (``"t = 12.0 h"``), the snapshot number, the agent counts and, when
  agents are subsampled, ``"showing 1 in k agents"``.

Geometry: positions are in µm; the axes x, y, z are the array indices ``[x, y, z]`` of
:meth:`RunReader.field`. Fields drawn as voxels (slices) live on an ``ImageData`` whose
points are the voxel **corners** (origin ``origin_um``, spacing ``dx_um``, cell data);
fields drawn as isosurfaces or volumes, and the tissue masks, on one whose points are the
voxel **centres** (origin ``origin_um + dx_um / 2``, point data). An agent in voxel
``(ix, iy, iz)`` is drawn at ``origin_um + (index + 0.5) * dx_um``.

Memory: the scene reads one snapshot at a time (one field array, the agent columns ``pos``
and ``state`` of the visible types, the label array) and keeps only what the current frame
draws plus one copy of the labels (to notice when they change); nothing grows with the number
of snapshots. For big runs, agents above ``max_points`` per frame are subsampled (every k-th
row of each type, the same k for all types: deterministic and proportional), and the volume
mode draws the field downsampled by an integer stride to at most :data:`VOLUME_MAX_DIM` voxels
per axis; isosurfaces and tissue contours are also computed on a grid downsampled to at most
:data:`CONTOUR_MAX_DIM` per axis.
"""

from __future__ import annotations

import difflib
import math
from typing import Iterable

import numpy as np

from abm.errors import ModelInputError

__all__ = [
    "BACKGROUND", "CAMERA_PRESETS", "CELL_PALETTE", "CONTOUR_MAX_DIM", "FIELD_CMAP", "MODES",
    "STATE_PALETTE", "TISSUE_PALETTE", "VOLUME_MAX_DIM", "RunScene", "apply_camera",
    "cell_colors", "field_range", "format_time", "resolve_field", "subsample_stride",
    "time_to_index",
]

# ----------------------------------------------------------------------------- palette
#: Colormap of the fields (perceptually uniform; dark purple = low, yellow = high).
FIELD_CMAP = "viridis"

#: Background of the render window (dark slate, so translucent tissue and lit spheres show).
BACKGROUND = "#15181e"

#: One fixed colour per built-in cell type (used for types without states, and as the
#: fallback of a type's states). Types not listed get the next unused colour of
#: :data:`_EXTRA_COLORS` in the order of ``run.cell_types``.
CELL_PALETTE: dict[str, str] = {
    "BMSC": "#e7298a",              # magenta: the transplanted stem cells
    "Microglia": "#b0b0b0",         # light grey (drawn per state, see STATE_PALETTE)
    "Astrocyte": "#ff7f00",         # orange
    "NeuralProgenitor": "#00c8d7",  # cyan
    "Osteoblast": "#c8a000",        # ochre
    "Osteoclast": "#8c510a",        # brown
}

#: One fixed colour per (cell type, state). States not listed take the colours of
#: :data:`_EXTRA_COLORS` by state index.
STATE_PALETTE: dict[tuple[str, str], str] = {
    ("Microglia", "M0"): "#b0b0b0",   # light grey: resting
    ("Microglia", "M1"): "#e41a1c",   # red: pro-inflammatory
    ("Microglia", "M2"): "#3a7fd5",   # blue: anti-inflammatory
    ("Osteoclast", "resting"): "#8c510a",
    ("Osteoclast", "resorbing"): "#f4a582",
}

#: Translucent surface colour per tissue region name; other regions take
#: :data:`_EXTRA_TISSUE` in label order.
TISSUE_PALETTE: dict[str, str] = {
    "core": "#ff4040",
    "lesion": "#ff6f61",
    "penumbra": "#ffd27f",
    "SVZ": "#7fff7f",
    "svz": "#7fff7f",
    "bone": "#f0f0e0",
    "cortical bone": "#f0f0e0",
    "trabecular bone": "#e0d8c0",
    "marrow": "#c080ff",
    "defect": "#80d0ff",
}

_EXTRA_COLORS = ["#ffff33", "#a6d854", "#f781bf", "#66c2a5", "#8da0cb", "#e5c494",
                 "#fc8d62", "#b3de69", "#bc80bd", "#ffffff"]
_EXTRA_TISSUE = ["#80d0ff", "#c080ff", "#7fff7f", "#ffd27f", "#ff80c0", "#d0d0d0"]

#: Opacity of tissue-region surfaces and of isosurfaces.
TISSUE_OPACITY = 0.18
ISO_OPACITY = 0.45
#: Isosurface levels as fractions of the colour range (lo + f (hi - lo)).
ISO_FRACTIONS = (0.1, 0.3, 0.6)
#: Volume mode downsamples a field with more voxels than this along an axis.
VOLUME_MAX_DIM = 128
#: Isosurfaces and tissue contours are computed on at most this many voxels per axis.
CONTOUR_MAX_DIM = 160

MODES = ("slices", "iso", "volume")

#: Camera presets: name -> description (see :func:`apply_camera`).
CAMERA_PRESETS = {
    "iso": "isometric view from the (+x, +y, +z) octant, z up, perspective",
    "xy": "looking down the z axis from +z (top view): x to the right, y up, parallel projection",
    "xz": "looking along +y from the -y side (front view): x to the right, z up, parallel "
          "projection",
    "yz": "looking along -x from the +x side (side view): y to the right, z up, parallel "
          "projection",
}


def _rgb(color: str) -> np.ndarray:
    """'#rrggbb' -> uint8 (3,)."""
    c = color.lstrip("#")
    return np.array([int(c[k:k + 2], 16) for k in (0, 2, 4)], dtype=np.uint8)


# ----------------------------------------------------------------------------- helpers
def cell_colors(cell_types: Iterable[str], states: dict[str, list[str]]) -> dict:
    """The colour of every cell type and state of a run.

    Parameters
    ----------
    cell_types : iterable of str
        Cell type names in the run's order.
    states : dict of str to list of str
        Cell type -> its states (empty list for types without states).

    Returns
    -------
    dict
        ``{"types": {type: "#rrggbb"}, "states": {type: ["#rrggbb" per state index]}}``.
        Built-in types and states take their fixed colours (:data:`CELL_PALETTE`,
        :data:`STATE_PALETTE`); others the next unused colour of a fixed list, so the colours
        of one run are distinct between types.
    """
    cell_types = list(cell_types)
    used = {CELL_PALETTE[t] for t in cell_types if t in CELL_PALETTE}
    extra = iter([c for c in _EXTRA_COLORS if c not in used])
    types = {}
    for t in cell_types:
        types[t] = CELL_PALETTE.get(t) or next(extra, "#ffffff")
    st = {}
    for t in cell_types:
        cols = []
        for k, s in enumerate(states.get(t, [])):
            c = STATE_PALETTE.get((t, s))
            if c is None:
                c = types[t] if k == 0 else _EXTRA_COLORS[(k - 1) % len(_EXTRA_COLORS)]
            cols.append(c)
        st[t] = cols
    return {"types": types, "states": st}


def format_time(t_min: float, unit: str = "h") -> str:
    """Simulated time as shown on pictures: ``"t = 12.0 h"``.

    Parameters
    ----------
    t_min : float
        Time, min.
    unit : {"h", "min", "d"}
        Unit to show (the scene uses h for runs of 2 h or more, else min).

    Returns
    -------
    str
    """
    if unit == "min":
        return f"t = {t_min:g} min"
    if unit == "d":
        return f"t = {t_min / 1440.0:.2f} d"
    return f"t = {t_min / 60.0:.1f} h"


def resolve_field(run, field) -> str | None:
    """Check a field name against a run; ``None`` picks the first field.

    Parameters
    ----------
    run : abm.runfile.RunReader
    field : str or None
        Field name (case-insensitive match accepted), ``None`` for the first field of the
        run, or ``"none"`` / ``""`` for no field (cells and tissue only).

    Returns
    -------
    str or None
        The field name as stored, or None (no field to draw).

    Raises
    ------
    ModelInputError
        Unknown field, with the closest names and the list of the run's fields.
    """
    names = list(run.field_names)
    if field is None:
        return names[0] if names else None
    if isinstance(field, str) and field.strip().lower() in ("", "none"):
        return None
    if field in names:
        return field
    lower = {n.lower(): n for n in names}
    if str(field).lower() in lower:
        return lower[str(field).lower()]
    close = difflib.get_close_matches(str(field), names, n=3, cutoff=0.5)
    close += [lower[c] for c in difflib.get_close_matches(str(field).lower(), list(lower), n=3,
                                                           cutoff=0.5) if lower[c] not in close]
    hint = f"did you mean {' or '.join(repr(c) for c in close[:3])}? " if close else ""
    raise ModelInputError(f"no field {field!r} in {run.path}; {hint}fields in this run: "
                          f"{', '.join(names) or 'none'}")


def time_to_index(run, time) -> int:
    """Index of the snapshot nearest a simulated time.

    Parameters
    ----------
    run : abm.runfile.RunReader
    time : str, float or None
        A time with its unit (``"12 h"``, ``"90 min"``, ``"1.5 d"``), a number of minutes
        (float, or a string without unit), or None for the last snapshot.

    Returns
    -------
    int
        Index among the complete snapshots (ties go to the earlier one).

    Raises
    ------
    ModelInputError
        Not a time, or outside the snapshots of the run (with the range to choose from).
    """
    times = np.asarray(run.times, dtype=float)
    if len(times) == 0:
        raise ModelInputError(f"{run.path} holds no complete snapshot yet; wait for the run to "
                              "write its first snapshot")
    if time is None:
        return len(times) - 1
    if isinstance(time, str):
        from abm.units import parse_quantity, ureg  # noqa: PLC0415
        try:
            q, bare = parse_quantity(time)
            t = float(q.magnitude) if bare else float(q.to(ureg.minute).magnitude)
        except Exception as e:  # UnitProblem, pint DimensionalityError
            raise ModelInputError(f"cannot read time {time!r} ({e}); give a time with its unit, "
                                  "e.g. '12 h' or '90 min'") from None
    else:
        try:
            t = float(time)
        except (TypeError, ValueError):
            raise ModelInputError(f"time must be a time with its unit (e.g. '12 h') or minutes, "
                                  f"got {time!r}") from None
    if not math.isfinite(t):
        raise ModelInputError(f"time must be finite, got {time!r}")
    span = max(times[-1] - times[0], 1.0)
    if t < times[0] - 1e-9 * span or t > times[-1] + 1e-9 * span:
        raise ModelInputError(
            f"time {time!r} ({t / 60:g} h) is outside the run {run.path}: its snapshots span "
            f"t = {times[0] / 60:g} .. {times[-1] / 60:g} h ({times[0]:g} .. {times[-1]:g} min); "
            "choose a time in that range")
    return int(np.argmin(np.abs(times - t)))


def field_range(run, name: str, which="all") -> tuple[float, float]:
    """Colour range of a field, fixed for a whole run so that frames are comparable.

    Parameters
    ----------
    run : abm.runfile.RunReader
    name : str
        Field name.
    which : {"all", "last"} or int
        ``"all"``: min and max over every complete snapshot, read one snapshot at a time
        (memory of one field); ``"last"``: the last snapshot only; an int: that snapshot.

    Returns
    -------
    (float, float)
        ``(lo, hi)`` in the field's unit, ``hi > lo`` (a constant field gets
        ``(v, v + max(|v|, 1))``). Non-finite values are ignored.
    """
    idx = range(run.n_snapshots) if which == "all" else [-1 if which == "last" else int(which)]
    lo, hi = math.inf, -math.inf
    for i in idx:
        a = run.field(name, i)
        fin = a[np.isfinite(a)] if not np.all(np.isfinite(a)) else a
        if fin.size:
            lo, hi = min(lo, float(fin.min())), max(hi, float(fin.max()))
        del a, fin
    if not math.isfinite(lo):
        lo, hi = 0.0, 1.0
    if not hi > lo:
        hi = lo + (abs(lo) if lo != 0 else 1.0)
    return lo, hi


def subsample_stride(counts: Iterable[int], max_points: int) -> int:
    """Smallest k such that taking every k-th row of each population draws at most
    ``max_points`` agents.

    Parameters
    ----------
    counts : iterable of int
        Agents per (visible) cell type.
    max_points : int
        Most agents to draw per frame (>= 1).

    Returns
    -------
    int
        k >= 1 (1: all drawn).
    """
    counts = [int(c) for c in counts]
    total = sum(counts)
    max_points = max(1, int(max_points))
    if total <= max_points:
        return 1
    k = max(1, math.ceil(total / max_points))
    while sum(math.ceil(c / k) for c in counts) > max_points:
        k += 1
    return k


def apply_camera(plotter, preset: str, bounds) -> None:
    """Point the camera with a preset and fit the domain in view.

    Parameters
    ----------
    plotter : pyvista.Plotter
    preset : {"iso", "xy", "xz", "yz"}
        See :data:`CAMERA_PRESETS`: ``iso`` isometric from the (+x, +y, +z) octant (perspective);
        ``xy`` top view down z (x right, y up); ``xz`` front view along +y (x right, z up);
        ``yz`` side view along -x (y right, z up). The three axis views use a parallel
        projection, so a position maps to the same place in the picture at any depth.
    bounds : sequence of 6 float
        Domain bounds (xmin, xmax, ymin, ymax, zmin, zmax), µm.

    Raises
    ------
    ModelInputError
        Unknown preset.
    """
    if preset not in CAMERA_PRESETS:
        raise ModelInputError(f"unknown camera preset {preset!r}; choose one of "
                              f"{', '.join(CAMERA_PRESETS)}")
    b = [float(v) for v in bounds]
    c = np.array([(b[0] + b[1]) / 2, (b[2] + b[3]) / 2, (b[4] + b[5]) / 2])
    d = max(b[1] - b[0], b[3] - b[2], b[5] - b[4])
    direction, up = {
        "iso": ((1.0, 1.0, 1.0), (0.0, 0.0, 1.0)),
        "xy": ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
        "xz": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
        "yz": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    }[preset]
    direction = np.array(direction) / np.linalg.norm(direction)
    cam = plotter.camera
    cam.focal_point = tuple(c)
    cam.position = tuple(c + direction * 3.0 * d)
    cam.up = up
    if preset == "iso":
        plotter.disable_parallel_projection()
    else:
        plotter.enable_parallel_projection()
    plotter.reset_camera(bounds=b)
    if preset == "iso":
        return
    # parallel views: fit the domain's face in the left ~70 % of the picture (the legend and the
    # scalar bar take the right quarter)
    ax = {"xy": (0, 1), "xz": (0, 2), "yz": (1, 2)}[preset]
    width, height = b[2 * ax[0] + 1] - b[2 * ax[0]], b[2 * ax[1] + 1] - b[2 * ax[1]]
    ws = plotter.window_size or (1024, 768)
    aspect = float(ws[0]) / float(ws[1])
    scale = 0.5 * max(height * 1.18, width * 1.04 / (aspect * 0.70))
    right = np.zeros(3)
    right[ax[0]] = 1.0
    shift = (0.5 - 0.38) * 2.0 * scale * aspect
    cam = plotter.camera
    fp = np.asarray(cam.focal_point, float) + right * shift
    pos = np.asarray(cam.position, float) + right * shift
    cam.focal_point, cam.position = tuple(fp), tuple(pos)
    cam.parallel_scale = scale


def _states_of(run, cell_type: str) -> list[str]:
    """States of a cell type as recorded in the run file (``/cell_types/<type>`` attribute
    ``states``; empty for types without states)."""
    cs = getattr(run, "cell_states", None)
    if isinstance(cs, dict) and cell_type in cs:
        return [str(s) for s in cs[cell_type]]
    try:
        from abm.biology import BUILTIN_CELL_TYPES  # noqa: PLC0415
        for cls in BUILTIN_CELL_TYPES:
            if cls.__name__ == cell_type:
                return list(cls.states)
    except ImportError:
        pass
    return []


def _stride_to(shape, limit: int) -> int:
    return max(1, math.ceil(max(shape) / limit))


# ----------------------------------------------------------------------------- the scene
class RunScene:
    """One snapshot of a run in a PyVista plotter; actors are updated in place.

    Parameters
    ----------
    plotter : pyvista.Plotter
        Where to draw (on-screen or ``off_screen=True``).
    run : abm.runfile.RunReader or str or Path
        An open run file (the scene does not close it) or a path (opened and owned; closed
        by :meth:`close`).
    field : str or None
        Field shown first; None: the first field of the run; ``"none"``: no field.
    mode : {"slices", "iso", "volume"}
        How the field is drawn: three orthogonal slices through the centre of the domain
        (voxels, cell data), isosurfaces at :data:`ISO_FRACTIONS` of the colour range
        (translucent, coloured by value), or a volume rendering (downsampled above
        :data:`VOLUME_MAX_DIM` voxels per axis).
    max_points : int
        Most agents drawn per frame; above it every k-th row of each visible type is drawn and
        the text says ``"showing 1 in k agents"``.
    clim : {"all", "last"}, (float, float) or dict
        Colour range of the fields, in each field's unit, fixed for the run: ``"all"`` (default)
        min..max over every snapshot, read one snapshot at a time when a field is first
        shown; ``"last"`` from the last snapshot only (faster for huge runs); a pair for every
        field; or a dict field -> pair (others ``"all"``).
    show_tissue : bool
        Draw the non-default tissue regions as translucent surfaces.
    point_size : float, optional
        Agent sphere diameter, pixels; default from the window and lattice size (2..14).
    slice_index : (int, int, int), optional
        Voxel indices of the x, y and z slices (default the domain centre).

    Attributes
    ----------
    snapshot : int
        Index of the snapshot shown (-1 before the first :meth:`show_snapshot`).
    field : str or None
        Field shown (None: none).
    time_min : float
        Simulated time of the snapshot shown, min.
    stride : int
        Agent subsampling factor k of the current frame (1: all drawn).
    n_points_drawn : int
        Agents drawn in the current frame.
    colors : dict
        See :func:`cell_colors`.
    bounds : tuple of 6 float
        Domain bounds, µm.
    """

    def __init__(self, plotter, run, field=None, mode="slices", max_points=200_000, *,
                 clim="all", show_tissue=True, point_size=None, slice_index=None):
        import pyvista as pv  # noqa: PLC0415

        self._pv = pv
        if mode not in MODES:
            raise ModelInputError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if not (isinstance(max_points, (int, np.integer)) and max_points >= 1):
            raise ModelInputError(f"max_points must be an integer >= 1, got {max_points!r}")
        self._own_run = False
        if not hasattr(run, "field_names"):
            from abm.runfile import open_run  # noqa: PLC0415
            run = open_run(run)
            self._own_run = True
        if run.n_snapshots == 0:
            if self._own_run:
                run.close()
            raise ModelInputError(f"{run.path} holds no complete snapshot yet; wait for the run "
                                  "to write its first snapshot")
        self.plotter, self.run, self.mode = plotter, run, mode
        self.max_points = int(max_points)
        self.field = resolve_field(run, field)
        self._clim_spec = clim
        self._clims: dict[str, tuple[float, float]] = {}
        self.show_tissue = bool(show_tissue)

        a = run.attrs
        self.shape = self._lattice_shape()
        self.spacing = np.broadcast_to(np.asarray(a.get("dx_um", 1.0), float), (3,)).copy()
        org = a.get("origin_um")
        self.origin = (np.broadcast_to(np.asarray(org, float), (3,)).copy() if org is not None
                       else np.zeros(3))
        ext = self.origin + self.spacing * np.asarray(self.shape)
        self.bounds = (self.origin[0], ext[0], self.origin[1], ext[1], self.origin[2], ext[2])
        self.slice_index = (tuple(int(s) for s in slice_index) if slice_index is not None
                            else tuple(int(s) // 2 for s in self.shape))

        self.cell_types = list(run.cell_types)
        self.states = {t: _states_of(run, t) for t in self.cell_types}
        self.colors = cell_colors(self.cell_types, self.states)
        self._lut = {t: self._color_table(t) for t in self.cell_types}
        self.cell_type_visible = {t: True for t in self.cell_types}
        self.field_visible = self.field is not None
        self._time_unit = "h" if float(run.times[-1]) >= 120.0 else "min"
        if point_size is None:
            h = plotter.window_size[1] if plotter.window_size is not None else 768
            point_size = float(np.clip(0.55 * h / max(self.shape), 2.0, 14.0))
        self.point_size = float(point_size)

        self.snapshot = -1
        self.time_min = float("nan")
        self.stride = 1
        self.n_points_drawn = 0
        self.counts: dict[str, int] = {}
        self._field_actors: list = []
        self._field_meshes: list = []
        self._scalar_bar_title: str | None = None
        self._agent_meshes: dict = {}
        self._agent_actors: dict = {}
        self._tissue_actors: dict = {}
        self._prev_labels: np.ndarray | None = None
        self._tissue_present: list[tuple[str, str]] = []

        plotter.set_background(BACKGROUND)
        self._outline = plotter.add_mesh(pv.Box(bounds=self.bounds).outline(), color="#707070",
                                         line_width=1, name="domain", pickable=False)
        for t in self.cell_types:
            mesh = self._points_mesh(np.zeros((0, 3)), np.zeros((0, 3), np.uint8))
            self._agent_meshes[t] = mesh
            self._agent_actors[t] = self._add_points_actor(t, mesh)
        self._text_str = ""
        self._text = plotter.add_text("", position="upper_left", font_size=10, color="white",
                                      name="time")
        self._build_field_actors()
        self._update_legend()

    # ------------------------------------------------------------------ public
    @property
    def n_snapshots(self) -> int:
        """Number of complete snapshots in the run."""
        return int(self.run.n_snapshots)

    @property
    def time_text(self) -> str:
        """The text shown in the upper-left corner (time, snapshot, counts, subsampling)."""
        return self._text_str

    def clim(self, name: str) -> tuple[float, float]:
        """Colour range of field ``name`` (see the ``clim`` parameter), in its unit."""
        if name not in self._clims:
            spec = self._clim_spec
            if isinstance(spec, dict):
                spec = spec.get(name, "all")
            if isinstance(spec, (tuple, list)) and len(spec) == 2:
                lo, hi = float(spec[0]), float(spec[1])
                if not hi > lo:
                    raise ModelInputError(f"colour range of {name} must have hi > lo, got {spec}")
                self._clims[name] = (lo, hi)
            elif spec in ("all", "last"):
                self._clims[name] = field_range(self.run, name, spec)
            else:
                raise ModelInputError(f"clim must be 'all', 'last', a (lo, hi) pair or a dict of "
                                      f"them, got {spec!r}")
        return self._clims[name]

    def show_snapshot(self, i: int) -> None:
        """Show snapshot ``i`` (negative counts from the end): read its field, agents and labels
        and update the actors in place.

        Parameters
        ----------
        i : int
            Index among the complete snapshots.
        """
        n = self.n_snapshots
        if not -n <= int(i) < n:
            raise ModelInputError(f"snapshot {i} is out of range: {self.run.path} holds {n} "
                                  f"complete snapshots (0..{n - 1})")
        i = int(i) % n
        self.snapshot = i
        self.time_min = float(self.run.times[i])
        self._update_field()
        self._update_agents()
        if self.show_tissue:
            self._update_tissue()
        self._update_text()
        self.plotter.render()

    def set_field(self, name) -> None:
        """Show field ``name`` (None / "none": no field); one field is shown at a time."""
        name = resolve_field(self.run, name) if name is not None else None
        if name == self.field and self.field_visible == (name is not None):
            return
        self.field = name
        self.field_visible = name is not None
        self._build_field_actors()
        if self.snapshot >= 0:
            self._update_field()
            self.plotter.render()

    def set_field_visible(self, name: str, visible: bool) -> None:
        """Show (``True``: instead of the current one) or hide field ``name``.

        Parameters
        ----------
        name : str
            A field of the run.
        visible : bool
        """
        name = resolve_field(self.run, name)
        if visible:
            self.set_field(name)
        elif name == self.field and self.field_visible:
            self.field_visible = False
            for a in self._field_actors:
                a.SetVisibility(False)
            self._remove_scalar_bar()
            self.plotter.render()

    def set_cell_type_visible(self, name: str, visible: bool) -> None:
        """Show or hide the agents of cell type ``name`` (hidden types are not read).

        Parameters
        ----------
        name : str
        visible : bool
        """
        if name not in self.cell_type_visible:
            close = difflib.get_close_matches(name, self.cell_types, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ModelInputError(f"no cell type {name!r} in {self.run.path}; {hint}cell types: "
                                  f"{', '.join(self.cell_types) or 'none'}")
        self.cell_type_visible[name] = bool(visible)
        self._agent_actors[name].SetVisibility(bool(visible))
        if self.snapshot >= 0:
            self._update_agents()
            self._update_text()
            self.plotter.render()

    def field_actors(self) -> list:
        """The actors drawing the current field (empty if none)."""
        return list(self._field_actors)

    def agent_actor(self, cell_type: str):
        """The actor drawing the agents of ``cell_type``."""
        return self._agent_actors[cell_type]

    def close(self) -> None:
        """Close the run file if the scene opened it."""
        if self._own_run:
            self.run.close()

    # ------------------------------------------------------------------ fields
    def _lattice_shape(self) -> tuple[int, int, int]:
        sh = self.run.attrs.get("shape")
        if sh is not None and len(np.atleast_1d(sh)) == 3:
            return tuple(int(s) for s in np.atleast_1d(sh))
        if self.run.field_names:
            return tuple(int(s) for s in self.run.field(self.run.field_names[0], -1).shape)
        return tuple(int(s) for s in self.run.labels(-1).shape)

    def _bar_title(self, name: str) -> str:
        unit = self.run.field_units.get(name, "")
        return f"{name} [{unit}]" if unit else name

    def _remove_scalar_bar(self) -> None:
        if self._scalar_bar_title is not None:
            try:
                self.plotter.remove_scalar_bar(self._scalar_bar_title, render=False)
            except (KeyError, ValueError, AttributeError):
                pass

    def _centre_grid(self, stride: int = 1):
        pv = self._pv
        dims = tuple(len(range(0, s, stride)) for s in self.shape)
        return pv.ImageData(dimensions=dims, spacing=tuple(self.spacing * stride),
                            origin=tuple(self.origin + self.spacing / 2))

    def _build_field_actors(self) -> None:
        """(Re)create the actors of the current field (on a field or mode change)."""
        pv, p = self._pv, self.plotter
        for a in self._field_actors:
            p.remove_actor(a, render=False)
        self._remove_scalar_bar()
        self._field_actors, self._field_meshes = [], []
        self._scalar_bar_title = None
        name = self.field
        if name is None or not self.field_visible:
            return
        lo, hi = self.clim(name)
        title = self._bar_title(name)
        bar = dict(title=title, color="white", vertical=True, position_x=0.84, position_y=0.06,
                   height=0.45, width=0.05, title_font_size=12, label_font_size=11, fmt="%.3g")
        nx, ny, nz = self.shape
        ox, oy, oz = self.origin
        dx, dy, dz = self.spacing
        if self.mode == "slices":
            ix, iy, iz = (min(max(0, k), s - 1) for k, s in zip(self.slice_index, self.shape))
            planes = [
                ("x", pv.ImageData(dimensions=(1, ny + 1, nz + 1), spacing=(dx, dy, dz),
                                   origin=(ox + (ix + 0.5) * dx, oy, oz)), ix),
                ("y", pv.ImageData(dimensions=(nx + 1, 1, nz + 1), spacing=(dx, dy, dz),
                                   origin=(ox, oy + (iy + 0.5) * dy, oz)), iy),
                ("z", pv.ImageData(dimensions=(nx + 1, ny + 1, 1), spacing=(dx, dy, dz),
                                   origin=(ox, oy, oz + (iz + 0.5) * dz)), iz),
            ]
            for k, (axis, plane, _) in enumerate(planes):
                plane.cell_data[name] = np.full(plane.n_cells, lo, dtype=np.float32)
                act = p.add_mesh(plane, scalars=name, cmap=FIELD_CMAP, clim=(lo, hi),
                                 show_scalar_bar=(k == 0), scalar_bar_args=bar,
                                 name=f"field-slice-{axis}", lighting=False, render=False)
                self._field_actors.append(act)
                self._field_meshes.append((axis, plane))
            self._slices = [k for _, _, k in planes]
        elif self.mode == "iso":
            self._iso_stride = _stride_to(self.shape, CONTOUR_MAX_DIM)
            mesh = self._points_placeholder()
            mesh.point_data[name] = np.zeros(mesh.n_points, np.float32)
            act = p.add_mesh(mesh, scalars=name, cmap=FIELD_CMAP, clim=(lo, hi),
                             opacity=ISO_OPACITY,
                             show_scalar_bar=True, scalar_bar_args=bar, name="field-iso",
                             smooth_shading=True, render=False)
            mesh.copy_from(pv.PolyData())
            self._field_actors.append(act)
            self._field_meshes.append(("iso", mesh))
        else:  # volume
            self._vol_stride = _stride_to(self.shape, VOLUME_MAX_DIM)
            grid = self._centre_grid(self._vol_stride)
            grid.point_data[name] = np.full(grid.n_points, lo, dtype=np.float32)
            act = p.add_volume(grid, scalars=name, cmap=FIELD_CMAP, clim=(lo, hi),
                               opacity="sigmoid", scalar_bar_args=bar, name="field-volume",
                               render=False)
            self._field_actors.append(act)
            self._field_meshes.append(("volume", act.mapper.dataset))
        self._scalar_bar_title = title

    def _update_field(self) -> None:
        name = self.field
        if name is None or not self.field_visible or not self._field_actors:
            return
        if name not in self.run.field_names:
            return
        try:
            arr = self.run.field(name, self.snapshot)
        except Exception:                                    # field not in this snapshot
            for a in self._field_actors:
                a.SetVisibility(False)
            return
        for a in self._field_actors:
            a.SetVisibility(True)
        if self.mode == "slices":
            for (axis, plane), k in zip(self._field_meshes, self._slices):
                if axis == "x":
                    v = arr[k, :, :]
                elif axis == "y":
                    v = arr[:, k, :]
                else:
                    v = arr[:, :, k]
                plane.cell_data[name] = np.asarray(v, dtype=np.float32).ravel(order="F")
        elif self.mode == "iso":
            s = self._iso_stride
            grid = self._centre_grid(s)
            grid.point_data[name] = np.asarray(arr[::s, ::s, ::s], np.float32).ravel(order="F")
            del arr
            lo, hi = self.clim(name)
            levels = [lo + f * (hi - lo) for f in ISO_FRACTIONS]
            surf = grid.contour(levels, scalars=name)
            del grid
            mesh = self._field_meshes[0][1]
            mesh.copy_from(surf if surf.n_points else self._pv.PolyData())
        else:
            s = self._vol_stride
            grid = self._field_meshes[0][1]
            grid.point_data[name] = np.asarray(arr[::s, ::s, ::s], np.float32).ravel(order="F")
            grid.Modified()

    # ------------------------------------------------------------------ agents
    def _color_table(self, t: str) -> np.ndarray:
        cols = self.colors["states"].get(t) or []
        return np.array([_rgb(c) for c in cols] + [_rgb(self.colors["types"][t])], np.uint8)

    def _points_placeholder(self):
        return self._pv.PolyData(np.array([[float(self.bounds[0]), float(self.bounds[2]),
                                            float(self.bounds[4])]]))

    def _points_mesh(self, pts: np.ndarray, rgb: np.ndarray):
        pv = self._pv
        mesh = pv.PolyData(np.asarray(pts, dtype=np.float32).reshape(-1, 3)) if len(pts) \
            else pv.PolyData()
        if len(pts):
            mesh.point_data["rgb"] = rgb
        return mesh

    def _add_points_actor(self, t: str, mesh):
        one = self._points_placeholder()
        one.point_data["rgb"] = np.array([_rgb(self.colors["types"][t])], np.uint8)
        act = self.plotter.add_mesh(one, scalars="rgb", rgb=True, render_points_as_spheres=True,
                                    point_size=self.point_size, name=f"agents-{t}",
                                    show_scalar_bar=False, render=False)
        self._agent_meshes[t] = act.mapper.dataset
        self._agent_meshes[t].copy_from(mesh)
        return act

    def _update_agents(self) -> None:
        run, i = self.run, self.snapshot
        self.counts = {t: run.agent_count(t, i) for t in self.cell_types}
        visible = [t for t in self.cell_types if self.cell_type_visible[t]]
        k = subsample_stride([self.counts[t] for t in visible], self.max_points)
        self.stride = k
        drawn = 0
        for t in self.cell_types:
            mesh = self._agent_meshes[t]
            if not self.cell_type_visible[t] or self.counts[t] == 0:
                mesh.copy_from(self._pv.PolyData())
                continue
            cols = ["pos"] + (["state"] if self.states[t] else [])
            try:
                tab = run.agents(t, i, columns=cols)
            except Exception:
                tab = run.agents(t, i, columns=["pos"])
            if "pos" not in tab:
                mesh.copy_from(self._pv.PolyData())
                continue
            pos = np.asarray(tab["pos"])[::k]
            xyz = self.origin + (pos.astype(np.float64) + 0.5) * self.spacing
            lut = self._lut[t]
            if "state" in tab and len(lut) > 1:
                st = np.asarray(tab["state"])[::k].astype(np.int64)
                st = np.where((st >= 0) & (st < len(lut) - 1), st, len(lut) - 1)
                rgb = lut[st]
            else:
                rgb = np.broadcast_to(lut[-1], (len(pos), 3)).copy()
            mesh.copy_from(self._points_mesh(xyz, rgb))
            drawn += len(pos)
            del tab, pos, xyz, rgb
        self.n_points_drawn = drawn

    # ------------------------------------------------------------------ tissue
    def _update_tissue(self) -> None:
        lab = np.asarray(self.run.labels(self.snapshot))
        if self._prev_labels is not None and np.array_equal(lab, self._prev_labels):
            return
        self._prev_labels = np.array(lab, copy=True)
        p = self.plotter
        for a in self._tissue_actors.values():
            p.remove_actor(a, render=False)
        self._tissue_actors = {}
        present = []
        names = list(self.run.tissue_names)
        s = _stride_to(self.shape, CONTOUR_MAX_DIM)
        sub = lab[::s, ::s, ::s]
        used = [int(v) for v in np.unique(sub) if int(v) != 0]
        extra = iter(_EXTRA_TISSUE * 4)
        for v in used:
            name = names[v] if v < len(names) else f"label {v}"
            color = TISSUE_PALETTE.get(name) or next(extra)
            # pad with a layer of zeros so that regions touching the domain boundary close
            m = np.pad((sub == v).astype(np.float32), 1)
            grid = self._pv.ImageData(dimensions=m.shape, spacing=tuple(self.spacing * s),
                                      origin=tuple(self.origin + self.spacing / 2
                                                   - self.spacing * s))
            grid.point_data["mask"] = m.ravel(order="F")
            surf = grid.contour([0.5], scalars="mask")
            if surf.n_points == 0:
                continue
            act = p.add_mesh(surf, color=color, opacity=TISSUE_OPACITY, name=f"tissue-{name}",
                             smooth_shading=True, show_scalar_bar=False, render=False)
            self._tissue_actors[name] = act
            present.append((name, color))
        if present != self._tissue_present:
            self._tissue_present = present
            self._update_legend()

    # ------------------------------------------------------------------ text, legend
    def _update_legend(self) -> None:
        entries = []
        for t in self.cell_types:
            sts = self.states[t]
            if sts:
                for s, c in zip(sts, self.colors["states"][t]):
                    entries.append([f"{t} {s}", c])
            else:
                entries.append([t, self.colors["types"][t]])
        for name, c in self._tissue_present:
            entries.append([f"{name} (tissue)", c])
        if not entries:
            return
        h = min(0.6, 0.045 * len(entries) + 0.02)
        self.plotter.add_legend(labels=entries, bcolor="#15181e", border=False, size=(0.2, h),
                                loc="upper right", face="circle", background_opacity=0.6)

    def _update_text(self) -> None:
        run = self.run
        name = run.attrs.get("scenario_name", run.path.stem)
        lines = [f"{name}   {format_time(self.time_min, self._time_unit)}   "
                 f"(snapshot {self.snapshot + 1} of {self.n_snapshots}, step "
                 f"{int(run.steps[self.snapshot])})"]
        counts = "  ".join(f"{t} {self.counts.get(t, 0):,}" + ("" if self.cell_type_visible[t]
                                                                else " (hidden)")
                           for t in self.cell_types)
        if counts:
            lines.append(counts)
        if self.stride > 1:
            lines.append(f"showing 1 in {self.stride} agents ({self.n_points_drawn:,} drawn)")
        self._text_str = "\n".join(lines)
        self._text.set_text("upper_left", self._text_str)
