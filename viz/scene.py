"""A PyVista scene of one snapshot of a run file, updated in place as the snapshot changes.

:class:`RunScene` draws, for snapshot ``i`` of a run file (read with
:func:`abm.runfile.open_run`, never from a running model):

* one **field** (cytokine, growth factor) or **tissue state** (neuron viability, mineral
  fraction: see :mod:`viz.selection`) as three orthogonal slices through the domain
  centre (``mode="slices"``, the default), as translucent isosurfaces (``"iso"``) or as a
  volume rendering (``"volume"``), coloured with :data:`FIELD_CMAP` over a colour range
  fixed for the whole run (see ``clim``), with a scalar bar titled ``"<name> [<unit>]"``;
* the **agents** as spheres, one colour per cell type and, for types with states (Microglia
  M0/M1/M2), one per state, with a legend: the colours the cell types declared, as the run
  file records them (:func:`viz.palette.cell_colors`; the scene imports nothing of the
  model);
* the **tissue regions** (every label but the default label 0: core, penumbra, lesion, ...)
  as translucent contour surfaces of their masks (:data:`TISSUE_PALETTE`);
* the simulated **time** (``"t = 12.0 h"``), the snapshot number, the agent counts and, when
  agents are subsampled, ``"showing 1 in k agents"``.

Geometry: positions are in µm; the axes x, y, z are the array indices ``[x, y, z]`` of
:meth:`RunReader.field`. Fields drawn as voxels (slices) live on an ``ImageData`` whose
points are the voxel **corners** (origin ``origin_um``, spacing ``dx_um``, cell data);
fields drawn as isosurfaces or volumes, and the tissue masks, on one whose points are the
voxel **centres** (origin ``origin_um + dx_um / 2``, point data). An agent in voxel
``(ix, iy, iz)`` is drawn at ``origin_um + (index + 0.5 + offset) * dx_um``, with a fixed
offset inside the voxel given by its id (:mod:`viz.jitter`).

The drawing is split by what is drawn: :mod:`viz.field_layer` (the field or tissue state),
:mod:`viz.agent_layer` (the agents) and :mod:`viz.tissue_layer` (the tissue regions), mixins
of :class:`RunScene`; the colours are in :mod:`viz.palette`, the choice of what to show in
:mod:`viz.selection` and the camera presets in :mod:`viz.camera`.

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

import numpy as np

from abm.errors import ModelInputError

from .agent_layer import _AgentLayer
from .camera import CAMERA_PRESETS, apply_camera
from .field_layer import CONTOUR_MAX_DIM, ISO_FRACTIONS, MODES, VOLUME_MAX_DIM, _FieldLayer
from .palette import BACKGROUND, FIELD_CMAP, TISSUE_PALETTE, cell_colors
from .selection import (
    field_range,
    format_time,
    lattice_array,
    lattice_names,
    lattice_unit,
    resolve_field,
    subsample_stride,
    time_to_index,
)
from .tissue_layer import _TissueLayer

# the scene's helpers are importable from here as before (viz.render, viz.viewer, scripts)
__all__ = [
    "BACKGROUND", "CAMERA_PRESETS", "CONTOUR_MAX_DIM", "FIELD_CMAP", "ISO_FRACTIONS", "MODES",
    "TISSUE_PALETTE", "VOLUME_MAX_DIM", "RunScene", "apply_camera", "cell_colors", "field_range",
    "format_time", "lattice_array", "lattice_names", "lattice_unit", "resolve_field",
    "subsample_stride", "time_to_index",
]

# ----------------------------------------------------------------------------- the scene
class RunScene(_FieldLayer, _AgentLayer, _TissueLayer):
    """One snapshot of a run in a PyVista plotter; actors are updated in place.

    Parameters
    ----------
    plotter : pyvista.Plotter
        Where to draw (on-screen or ``off_screen=True``).
    run : abm.runfile.RunReader or str or Path
        An open run file (the scene does not close it) or a path (opened and owned; closed
        by :meth:`close`).
    field : str or None
        Field or tissue state shown first (see :func:`viz.selection.lattice_names`); None:
        the first field of the run; ``"none"``: no field.
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
        Field or tissue state shown (None: none).
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
        cs = getattr(run, "cell_states", None) or {}
        self.states = {t: [str(s) for s in cs.get(t, [])] for t in self.cell_types}
        self.colors = cell_colors(self.cell_types, self.states,
                                  getattr(run, "cell_colours", None))
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
        """Show snapshot ``i`` (negative counts from the end), updating the actors in place.

        Reads the snapshot's field (or tissue state), agents and labels.

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
        """Show field or tissue state ``name`` (None / "none": none); one at a time."""
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

    # ------------------------------------------------------------------ geometry
    def _lattice_shape(self) -> tuple[int, int, int]:
        sh = self.run.attrs.get("shape")
        if sh is not None and len(np.atleast_1d(sh)) == 3:
            return tuple(int(s) for s in np.atleast_1d(sh))
        names = lattice_names(self.run)
        if names:
            return tuple(int(s) for s in lattice_array(self.run, names[0], -1).shape)
        return tuple(int(s) for s in self.run.labels(-1).shape)

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
