"""Lesions placed in the parametric forebrain: an MCAO infarct and a cortical contusion.

MCAO (transient filament occlusion of the middle cerebral artery)
-----------------------------------------------------------------
The infarct core is the part of the MCA territory of the model (the ipsilateral cortex,
corpus callosum/external capsule and striatum; the medial tissue, ventricle and SVZ are
spared) within a distance ``R`` of a point on the lateral edge of the striatum (lateral
of its centre by one mediolateral semi-axis, at its centre's depth and level). It therefore
takes the lateral striatum and the overlying lateral cortex first. ``R`` is chosen on the
lattice so that the core holds ``infarct_fraction`` of the voxels of the ipsilateral
hemisphere (of the slab, when the anatomy is a slab): the k-th smallest distance among the
territory's voxels with ``k = round(fraction × hemisphere voxels)``. The **penumbra** is the
ipsilateral tissue (brain minus ventricle) that is not core and lies within
``penumbra_width`` of a core voxel centre (Euclidean distance transform).

Contusion (controlled cortical impact)
--------------------------------------
The impactor of diameter ``tip_diameter`` hits the brain surface at ``site`` (lateral of
the midline, rostrocaudal relative to bregma). The **contusion** is the brain under it within
the half-ellipsoid of horizontal radius ``tip_diameter/2`` and depth ``depth`` below the
surface point; the **pericontusion** is the ipsilateral tissue (brain minus ventricle) within
``rim_width`` of it.

Both are computed once per (lesion, lattice), vectorised, and cached.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .forebrain import Forebrain, structure_code

__all__ = ["MCAOLesion", "Contusion", "TERRITORY"]

#: Structures of the model's MCA territory.
TERRITORY = ("cortex", "corpus_callosum", "striatum")
_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 6
_CHUNK = 4_000_000


def _cached(key, make):
    hit = _CACHE.get(key)
    if hit is None:
        hit = make()
        for a in hit:
            a.setflags(write=False)
        _CACHE[key] = hit
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return hit


def _over_box(fb: Forebrain, shape, dx, func, fill, dtype):
    """``func(m, d, a)`` on every voxel of the anatomy's box, a few million voxels at a time.

    Voxels outside the box hold ``fill``.
    """
    slices, (cx, cy, cz) = fb.index_box(shape, dx)
    out = np.full(shape, fill, dtype=dtype)
    if min(len(cx), len(cy), len(cz)) == 0:
        return out
    step = max(1, _CHUNK // (len(cy) * len(cz)))
    x0 = slices[0].start
    for s in range(0, len(cx), step):
        m, d, a = fb.anatomical(*np.ix_(cx[s:s + step], cy, cz))
        out[x0 + s:x0 + s + len(m), slices[1], slices[2]] = func(m, d, a)
    return out


def _distance_from(fb: Forebrain, shape, dx, centre):
    """Euclidean distance (µm) of every voxel centre of the anatomy's box from an anatomical point."""
    return _over_box(fb, shape, dx, lambda m, d, a: np.sqrt(
        (m - centre[0]) ** 2 + (d - centre[1]) ** 2 + (a - centre[2]) ** 2), np.inf, float)


def _rim(core: np.ndarray, allowed: np.ndarray, width: float, dx: float) -> np.ndarray:
    """Voxels of ``allowed`` outside ``core`` whose centres lie within ``width`` (µm) of a core centre."""
    out = np.zeros(core.shape, dtype=bool)
    idx = np.argwhere(core)
    if len(idx) == 0:
        return out
    pad = int(math.ceil(width / dx)) + 1
    lo = np.maximum(idx.min(axis=0) - pad, 0)
    hi = np.minimum(idx.max(axis=0) + pad + 1, core.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    dist = ndimage.distance_transform_edt(~core[box], sampling=dx)
    out[box] = (dist <= width) & ~core[box] & allowed[box]
    return out


@dataclass(frozen=True)
class MCAOLesion:
    """An MCAO infarct (core and penumbra) in a one-hemisphere forebrain.

    Parameters
    ----------
    forebrain : Forebrain
        The anatomy (``side`` left or right).
    infarct_fraction : float
        Core voxels over ipsilateral hemisphere voxels (dimensionless, 0–1).
    penumbra_width : float
        Width of the rim around the core, µm.
    """

    forebrain: Forebrain
    infarct_fraction: float
    penumbra_width: float

    def centre(self):
        """Anatomical point ``(m, d, a)`` (µm) the core grows from: the lateral edge of the striatum."""
        g = self.forebrain.dims
        return (g.striatum_center_lateral + g.striatum_radius_lateral, g.striatum_center_depth,
                g.striatum_center_ap)

    def territory_fraction(self, shape, dx) -> float:
        """Largest possible infarct fraction: territory voxels over hemisphere voxels."""
        lab = self.forebrain.labels(shape, dx)
        terr = np.isin(lab, [structure_code(s) for s in TERRITORY])
        n = np.count_nonzero(lab)
        return float(np.count_nonzero(terr) / n) if n else 0.0

    def parts(self, shape, dx):
        """``(core, penumbra, radius)``: two boolean arrays of ``shape`` and the core radius R (µm)."""
        shape = tuple(int(n) for n in shape)
        key = (self, shape, float(dx))
        core, pen, radius = _cached(key, lambda: self._make(shape, float(dx)))
        return core, pen, float(radius)

    def _make(self, shape, dx):
        lab = self.forebrain.labels(shape, dx)
        terr = np.isin(lab, [structure_code(s) for s in TERRITORY])
        dist = _distance_from(self.forebrain, shape, dx, self.centre())
        k = int(round(self.infarct_fraction * np.count_nonzero(lab)))
        tvals = dist[terr]
        k = min(max(k, 1), len(tvals))
        radius = float(np.partition(tvals, k - 1)[k - 1]) if len(tvals) else 0.0
        core = terr & (dist <= radius)
        tissue = (lab > 0) & (lab != structure_code("lateral_ventricle"))
        pen = _rim(core, tissue, self.penumbra_width, dx)
        return core, pen, np.array(radius)


@dataclass(frozen=True)
class Contusion:
    """A cortical contusion under an impactor tip, and its pericontusional rim.

    Parameters
    ----------
    forebrain : Forebrain
        The anatomy (``side`` left or right).
    site : tuple of 2 float
        Impact centre: lateral of the midline and rostrocaudal relative to bregma, µm.
    tip_diameter, depth, rim_width : float
        Impactor tip diameter, depth of the contusion below the surface, width of the rim; µm.
    """

    forebrain: Forebrain
    site: tuple[float, float]
    tip_diameter: float
    depth: float
    rim_width: float

    def surface_depth(self) -> float:
        """Depth of the brain surface below the top of the cerebrum at the impact site, µm.

        NaN when the site is off the brain.
        """
        g = self.forebrain.dims
        m, a = self.site
        q = 1.0 - (m / g.brain_half_width) ** 2 - ((a - g.brain_center_ap) / g.brain_half_length) ** 2
        if q < 0:
            return math.nan
        return g.brain_half_height * (1.0 - math.sqrt(q))

    def parts(self, shape, dx):
        """``(contusion, pericontusion)``: boolean arrays of ``shape``."""
        shape = tuple(int(n) for n in shape)
        key = (self, shape, float(dx))
        return _cached(key, lambda: self._make(shape, float(dx)))

    def _make(self, shape, dx):
        fb = self.forebrain
        lab = fb.labels(shape, dx)
        r, top = self.tip_diameter / 2, self.surface_depth()

        def under_tip(m, d, a):
            return (((m - self.site[0]) / r) ** 2 + ((d - top) / self.depth) ** 2
                    + ((a - self.site[1]) / r) ** 2) <= 1.0

        core = _over_box(fb, shape, dx, under_tip, False, bool) & (lab > 0)
        tissue = (lab > 0) & (lab != structure_code("lateral_ventricle"))
        return core, _rim(core, tissue, self.rim_width, dx)
