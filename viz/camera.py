"""Camera presets of pictures and the viewer: an isometric view and three axis views."""

from __future__ import annotations

import numpy as np

from abm.errors import ModelInputError

__all__ = ["CAMERA_PRESETS", "apply_camera"]

#: Camera presets: name -> description (see :func:`apply_camera`).
CAMERA_PRESETS = {
    "iso": "isometric view from the (+x, +y, +z) octant, z up, perspective",
    "xy": "looking down the z axis from +z (top view): x to the right, y up, parallel projection",
    "xz": "looking along +y from the -y side (front view): x to the right, z up, parallel "
          "projection",
    "yz": "looking along -x from the +x side (side view): y to the right, z up, parallel "
          "projection",
}


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
