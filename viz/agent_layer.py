"""How a scene draws the agents: spheres inside their voxels, coloured by cell type and state.

Each cell is drawn at a fixed offset from its voxel centre given by its id
(:mod:`viz.jitter`), so the cells sharing a voxel do not stack on one point.

A mixin of :class:`viz.scene.RunScene`; one point actor per cell type, refilled per snapshot
(every k-th row of each visible type above ``max_points``).
"""

from __future__ import annotations

import numpy as np

from .jitter import drawn_positions
from .palette import _rgb
from .selection import subsample_stride

__all__: list[str] = []


class _AgentLayer:
    """The agent actors of a :class:`~viz.scene.RunScene`."""

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
            tab = {}
            for want in (cols + ["id"], cols, ["pos"]):   # files without ids or states
                try:
                    tab = run.agents(t, i, columns=want)
                    break
                except Exception:  # noqa: BLE001, S112 - a column missing: try fewer
                    continue
            if "pos" not in tab:
                mesh.copy_from(self._pv.PolyData())
                continue
            pos = np.asarray(tab["pos"])[::k]
            ids = np.asarray(tab["id"])[::k] if "id" in tab else None
            xyz = drawn_positions(pos, ids, self.origin, self.spacing)
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
