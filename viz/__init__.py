"""3D playback and pictures of runs; reads run files only, never a running model.

* :mod:`viz.scene`: :class:`~viz.scene.RunScene`, a PyVista scene of one snapshot (fields and
  tissue states as slices, isosurfaces or a volume; agents coloured by cell type and state;
  tissue regions; the simulated time), updated in place snapshot by snapshot.
* :mod:`viz.render`: :func:`~viz.render.render_run`, off-screen PNG / GIF / MP4
  (``abm render``).
* :mod:`viz.viewer`: :func:`~viz.viewer.view_run`, the interactive window with a time slider,
  play/pause and toggles (``abm view``).
* :mod:`viz.plots`: matplotlib plots of readout time series (``abm plot``).
* pieces of the scene: :mod:`viz.palette` (colours; cell colours come from the run file),
  :mod:`viz.selection` (fields and tissue states, times, colour ranges, subsampling),
  :mod:`viz.camera`, and the layers :mod:`viz.field_layer`, :mod:`viz.agent_layer`,
  :mod:`viz.tissue_layer`.

PyVista is imported only when a scene is built, so ``import viz`` is cheap. The names below
are loaded on first use.
"""

from __future__ import annotations

__all__ = ["RunScene", "RunViewer", "render_run", "view_run"]

_WHERE = {"RunScene": "scene", "render_run": "render", "view_run": "viewer",
          "RunViewer": "viewer"}


def __getattr__(name):
    if name in _WHERE:
        import importlib  # noqa: PLC0415
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'viz' has no attribute {name!r}")
