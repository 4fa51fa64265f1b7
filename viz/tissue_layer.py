"""How a scene draws the tissue regions: translucent surfaces around every non-default label.

A mixin of :class:`viz.scene.RunScene`; the surfaces are recomputed only when the labels change.
"""

from __future__ import annotations

import numpy as np

from .field_layer import CONTOUR_MAX_DIM, _stride_to
from .palette import _EXTRA_TISSUE, TISSUE_OPACITY, TISSUE_PALETTE

__all__: list[str] = []


class _TissueLayer:
    """The tissue-region actors of a :class:`~viz.scene.RunScene`."""

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
