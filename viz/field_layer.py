"""How a scene draws its field or tissue state: slices, isosurfaces or a volume.

A mixin of :class:`viz.scene.RunScene` (it uses the scene's plotter, run, lattice geometry and
field selection); the actors are made once per field or mode and updated in place.
"""

from __future__ import annotations

import math

import numpy as np

from .palette import FIELD_CMAP, ISO_OPACITY
from .selection import lattice_array, lattice_names, lattice_unit

__all__ = ["CONTOUR_MAX_DIM", "ISO_FRACTIONS", "MODES", "VOLUME_MAX_DIM"]

#: Isosurface levels as fractions of the colour range (lo + f (hi - lo)).
ISO_FRACTIONS = (0.1, 0.3, 0.6)
#: Volume mode downsamples a field with more voxels than this along an axis.
VOLUME_MAX_DIM = 128
#: Isosurfaces and tissue contours are computed on at most this many voxels per axis.
CONTOUR_MAX_DIM = 160

MODES = ("slices", "iso", "volume")


def _stride_to(shape, limit: int) -> int:
    """Smallest integer stride that leaves at most ``limit`` voxels along every axis."""
    return max(1, math.ceil(max(shape) / limit))


class _FieldLayer:
    """The field (or tissue state) actors of a :class:`~viz.scene.RunScene`."""

    def _bar_title(self, name: str) -> str:
        unit = lattice_unit(self.run, name)
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
        if name not in lattice_names(self.run):
            return
        try:
            arr = lattice_array(self.run, name, self.snapshot)
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
