"""Interactive playback of a run file: ``view_run("RUN.h5")`` (``abm view RUN.h5``).

A PyVista window with the scene of :mod:`viz.scene` and these controls:

* a **time slider** along the bottom (snapshot index; the simulated time is shown in the
  upper-left corner);
* a **play/pause** button (bottom left, green when playing): advances one snapshot per timer
  tick (``fps`` per second) and loops;
* one **checkbox per field and per tissue state** (left, blue): one is shown at a time;
  ticking one shows it and unticks the others, unticking the shown one hides it;
* one **checkbox per cell type** (left, in the type's colour): shows or hides its agents.

The widget callbacks are plain methods of :class:`RunViewer` (``on_slider``, ``on_play``,
``on_timer``, ``on_field_toggle``, ``on_cell_type_toggle``), so a script or a test can drive
the viewer on an off-screen plotter: ``view_run(path, off_screen=True, show=False)`` returns
the controller without opening a window.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from abm.errors import ModelInputError

from .scene import CAMERA_PRESETS, MODES, RunScene, apply_camera
from .selection import lattice_names, lattice_unit

__all__ = ["RunViewer", "view_run"]

_BUTTON = 22          # checkbox size, pixels
_ROW = 28             # vertical spacing of the checkboxes, pixels


class RunViewer:
    """Controller of the interactive viewer: a :class:`~viz.scene.RunScene` plus widgets.

    Parameters
    ----------
    run : abm.runfile.RunReader
        Open run file (the viewer does not close it; :func:`view_run` does).
    field : str, optional
        Field shown first (default the first; ``"none"``: no field).
    mode : {"slices", "iso", "volume"}
        How the field is drawn.
    max_points : int
        Most agents drawn per frame.
    off_screen : bool
        Draw into an off-screen buffer (scripts, tests).
    window_size : (int, int)
        Window size, pixels.
    fps : float
        Playback speed, snapshots per second.
    camera : {"iso", "xy", "xz", "yz"}
        Initial camera preset.

    Attributes
    ----------
    plotter : pyvista.Plotter
    scene : viz.scene.RunScene
    playing : bool
    slider, play_button : vtk widgets (None when widgets could not be created)
    field_buttons, cell_type_buttons : dict of str to vtk widget
    """

    def __init__(self, run, *, field=None, mode="slices", max_points=200_000, off_screen=False,
                 window_size=(1280, 860), fps=4.0, camera="iso"):
        import pyvista as pv  # noqa: PLC0415

        if not float(fps) > 0:
            raise ModelInputError(f"fps must be > 0, got {fps!r}")
        self.run = run
        self.fps = float(fps)
        self.plotter = pv.Plotter(off_screen=off_screen, window_size=tuple(window_size),
                                  title=f"bmsc-abm: {run.path.name}")
        self.scene = RunScene(self.plotter, run, field=field, mode=mode, max_points=max_points)
        self.playing = False
        self._timer_added = False
        self.scene.show_snapshot(run.n_snapshots - 1)
        apply_camera(self.plotter, camera, self.scene.bounds)
        self.slider = None
        self.play_button = None
        self.field_buttons: dict = {}
        self.cell_type_buttons: dict = {}
        self._add_widgets()

    # ---------------------------------------------------------------- callbacks
    @property
    def snapshot(self) -> int:
        """Index of the snapshot shown."""
        return self.scene.snapshot

    def on_slider(self, value: float) -> None:
        """Time slider moved: show the snapshot nearest ``value`` (a snapshot index)."""
        n = self.run.n_snapshots
        i = min(max(int(round(float(value))), 0), n - 1)
        if i != self.scene.snapshot:
            self.scene.show_snapshot(i)

    def on_play(self, state: bool) -> None:
        """Play/pause button: ``True`` plays (from the start when at the last snapshot)."""
        self.playing = bool(state)
        if self.playing and self.scene.snapshot == self.run.n_snapshots - 1:
            self._go(0)
        self._set_button(self.play_button, self.playing)

    def on_timer(self, step: int | None = None) -> None:
        """Timer tick: while playing, advance one snapshot (looping at the end)."""
        if not self.playing:
            return
        self._go((self.scene.snapshot + 1) % self.run.n_snapshots)

    def on_field_toggle(self, name: str, state: bool) -> None:
        """Field checkbox: show field ``name`` (and untick the others) or hide it."""
        self.scene.set_field_visible(name, bool(state))
        for other, w in self.field_buttons.items():
            self._set_button(w, self.scene.field_visible and other == self.scene.field)

    def on_cell_type_toggle(self, name: str, state: bool) -> None:
        """Cell-type checkbox: show or hide the agents of ``name``."""
        self.scene.set_cell_type_visible(name, bool(state))
        self._set_button(self.cell_type_buttons.get(name), bool(state))

    def show(self) -> None:
        """Open the window and block until it is closed (starts the playback timer)."""
        if not self._timer_added and not self.plotter.off_screen:
            self.plotter.add_timer_event(max_steps=2**31 - 1,
                                         duration=max(1, int(1000 / self.fps)),
                                         callback=self.on_timer)
            self._timer_added = True
        self.plotter.show()

    def close(self) -> None:
        """Close the window / free the render window."""
        self.plotter.close()

    # ---------------------------------------------------------------- internals
    def _go(self, i: int) -> None:
        self.scene.show_snapshot(i)
        if self.slider is not None:
            self.slider.GetRepresentation().SetValue(float(i))

    @staticmethod
    def _set_button(widget, state: bool) -> None:
        if widget is not None:
            widget.GetRepresentation().SetState(int(bool(state)))

    def _add_widgets(self) -> None:
        p, run, scene = self.plotter, self.run, self.scene
        n = run.n_snapshots
        if p.iren is None:          # no interactor: callbacks still work, no widgets
            return
        if n > 1:
            self.slider = p.add_slider_widget(
                self.on_slider, [0, n - 1], value=float(scene.snapshot), title="snapshot",
                pointa=(0.30, 0.08), pointb=(0.78, 0.08), style="modern", fmt="%.0f",
                interaction_event="always", title_height=0.02)
        self.play_button = p.add_checkbox_button_widget(
            self.on_play, value=False, position=(10, 10), size=30, color_on="#2ca02c",
            color_off="#505050", background_color="#dddddd")
        p.add_text("play / pause", position=(46, 16), font_size=9, color="white",
                   name="label-play")
        y = 60
        for t in reversed(scene.cell_types):
            color = scene.colors["types"][t]
            self.cell_type_buttons[t] = p.add_checkbox_button_widget(
                lambda state, t=t: self.on_cell_type_toggle(t, state), value=True,
                position=(10, y), size=_BUTTON, border_size=3, color_on=color,
                color_off="#303030", background_color="#aaaaaa")
            p.add_text(t, position=(40, y + 3), font_size=9, color="white", name=f"label-ct-{t}")
            y += _ROW
        y += 8
        for f in reversed(lattice_names(run)):
            on = scene.field_visible and f == scene.field
            self.field_buttons[f] = p.add_checkbox_button_widget(
                lambda state, f=f: self.on_field_toggle(f, state), value=on,
                position=(10, y), size=_BUTTON, border_size=3, color_on="#3a7fd5",
                color_off="#303030", background_color="#aaaaaa")
            unit = lattice_unit(run, f)
            p.add_text(f"{f} [{unit}]" if unit else f, position=(40, y + 3), font_size=9,
                       color="white", name=f"label-field-{f}")
            y += _ROW


def view_run(path, *, field=None, mode="slices", max_points=200_000, camera="iso", fps=4.0,
             window_size=(1280, 860), off_screen=False, show=True) -> RunViewer:
    """Play a run file in an interactive 3D window.

    Parameters
    ----------
    path : str or Path
        The run file (``RUN.h5``); a file still being written shows the snapshots complete
        when it was opened.
    field : str, optional
        Field shown first (default the first field; ``"none"``: none).
    mode : {"slices", "iso", "volume"}
        How fields are drawn (see :class:`viz.scene.RunScene`).
    max_points : int
        Most agents drawn per frame (every k-th row above it).
    camera : {"iso", "xy", "xz", "yz"}
        Initial camera preset (the mouse moves it afterwards).
    fps : float
        Playback speed, snapshots per second.
    window_size : (int, int)
        Window size, pixels.
    off_screen : bool
        Render off-screen (no window; for scripts and tests).
    show : bool
        Open the window and block until it is closed, then close the run file. With
        ``show=False`` the viewer is returned with the file open: call ``viewer.show()``
        later, or ``viewer.close()`` and ``viewer.run.close()``.

    Returns
    -------
    RunViewer
        The controller (its callbacks drive the scene).

    Raises
    ------
    ModelInputError
        Unknown field, mode or camera; no display for a window; a run with no snapshot.
    abm.runfile.RunFileError
        Missing or corrupt run file.
    """
    if mode not in MODES:
        raise ModelInputError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if camera not in CAMERA_PRESETS:
        raise ModelInputError(f"unknown camera preset {camera!r}; choose one of "
                              f"{', '.join(CAMERA_PRESETS)}")
    from abm.runfile import open_run  # noqa: PLC0415

    run = open_run(path)          # a missing or corrupt file is reported first
    if (not off_screen and sys.platform.startswith("linux")
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))):
        run.close()
        raise ModelInputError("no display to open a window on (DISPLAY is not set); on a "
                              "headless machine render pictures or movies instead: abm render "
                              f"{Path(path).name} --out movie.gif (or ssh -X for a remote window)")
    try:
        viewer = RunViewer(run, field=field, mode=mode, max_points=max_points,
                           off_screen=off_screen, window_size=window_size, fps=fps, camera=camera)
    except BaseException:
        run.close()
        raise
    if show:
        try:
            viewer.show()
        finally:
            viewer.close()
            run.close()
    return viewer
