"""The parametric rodent forebrain: cortex, corpus callosum, striatum, lateral ventricle and SVZ.

Geometry (all lengths µm, at the species' size times ``scale``)
---------------------------------------------------------------
The anatomy is placed on the lattice by its **origin**, a physical position ``(ox, oy, oz)``:
``ox`` is the midline (sagittal plane), ``oy`` the top (dorsal-most point) of the cerebrum,
``oz`` the coronal plane at the chosen **level** (rostrocaudal position relative to bregma,
rostral positive). Lattice axes: ``+x`` is the animal's right, ``+y`` dorsal, ``+z`` rostral.
A point ``(x, y, z)`` has anatomical coordinates

* ``m`` = distance lateral of the midline into the chosen hemisphere
  (``x − ox`` on the right, ``ox − x`` on the left, ``|x − ox|`` for both);
* ``d = oy − y``, depth below the top of the cerebrum;
* ``a = level + (z − oz)``, rostrocaudal position relative to bregma.

The structures, from the dimensions in ``seeds/anatomy.csv`` (:mod:`.dimensions`):

* **brain**: the cerebral ellipsoid, centre ``(0, H, a_b)``, semi-axes ``(W, H, L)``, cut at
  the midline for one hemisphere and to ``|z − oz| ≤ slab/2`` for a coronal slab;
* **cortex**: the mantle of thickness ``t_c``: inside the brain ellipsoid, outside the
  ellipsoid whose semi-axes are ``t_c`` shorter (dorsal neocortex, lateral and ventral
  piriform cortex alike);
* **corpus_callosum**: the white-matter layer of thickness ``t_cc`` under the cortex in the
  dorsal half (``d ≤ H``): corpus callosum medially, external capsule laterally;
* **striatum**: the caudate-putamen, an ellipsoid ``E_s``;
* **svz**: the shell between ``E_s`` and the ellipsoid whose semi-axes are ``t_svz`` longer,
  on the medial face of the striatum (``m − m_s ≤ −cap · r_m``): a layer of the SVZ's
  thickness lining the lateral wall of the ventricle (at least one voxel: ``t_svz`` is raised to
  the voxel edge on coarser lattices);
* **lateral_ventricle**: the next shell outward, of the ventricle's width, on the same face;
* **other**: the rest of the brain (septum, pallidum, basal forebrain, thalamus, ...).

The structures are disjoint and together tile the brain (the slab or hemisphere): where the
simple shapes overlap, the first of cortex, corpus_callosum, lateral_ventricle, svz,
striatum, other wins. With the shipped dimensions the striatum lies wholly inside the
white-matter layer, so the striatum is exactly its ellipsoid minus nothing.

The per-voxel structure codes are computed once per (anatomy, lattice) over the anatomy's
bounding box, in slabs of a few million voxels, and cached.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .dimensions import ForebrainDims, species_dims

__all__ = ["STRUCTURES", "SIDES", "Forebrain", "structure_code", "voxel_centres"]

#: The structures, with their codes in :meth:`Forebrain.labels` (1, 2, ...; 0 is outside).
STRUCTURES = ("cortex", "corpus_callosum", "striatum", "lateral_ventricle", "svz", "other")
#: The hemispheres a forebrain can take.
SIDES = ("left", "right", "both")

#: Painting order (later wins where simple shapes overlap).
_PAINT_ORDER = ("other", "striatum", "svz", "lateral_ventricle", "corpus_callosum", "cortex")
#: Voxels evaluated at once (memory bound of the set-up).
_CHUNK = 4_000_000
_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 6


def structure_code(name: str) -> int:
    """The label code of structure ``name`` in :meth:`Forebrain.labels` (1-based)."""
    return STRUCTURES.index(name) + 1


def voxel_centres(n: int, dx: float, lo: float, hi: float):
    """Index range ``[a, b)`` of voxels whose centres may lie in ``[lo, hi]`` (µm), and the centres."""
    a = max(0, int(math.floor(lo / dx - 0.5)))
    b = min(n, int(math.ceil(hi / dx - 0.5)) + 1)
    b = max(a, b)
    return a, b, (np.arange(a, b) + 0.5) * dx


def _inside(m, d, a, c, r):
    return ((m - c[0]) / r[0]) ** 2 + ((d - c[1]) / r[1]) ** 2 + ((a - c[2]) / r[2]) ** 2 <= 1.0


@dataclass(frozen=True)
class Forebrain:
    """A rodent forebrain placed on the lattice.

    Parameters
    ----------
    species : str
        ``rat`` or ``mouse`` (the dimension preset).
    origin : tuple of 3 float
        Midline, top of the cerebrum, and the coronal plane of ``level`` (µm, lattice
        coordinates).
    scale : float
        Every length of the preset is multiplied by this (dimensionless, > 0).
    side : str
        ``left``, ``right`` or ``both`` hemispheres.
    level : float or None
        Rostrocaudal position of the plane ``z = oz`` relative to bregma, µm (rostral
        positive), in the scaled animal; None: the species' default level × scale.
    slab : float or None
        Thickness of a coronal slab centred on ``z = oz``, µm; None: the whole cerebrum.
    """

    species: str
    origin: tuple[float, float, float]
    scale: float = 1.0
    side: str = "left"
    level: float | None = None
    slab: float | None = None

    @property
    def dims(self) -> ForebrainDims:
        """The preset's dimensions times ``scale`` (µm)."""
        return species_dims(self.species).scaled(self.scale)

    @property
    def plane_level(self) -> float:
        """Bregma position of the plane ``z = oz``, µm (rostral positive)."""
        return self.dims.default_level if self.level is None else self.level

    # ------------------------------------------------------------ geometry
    def bounds(self):
        """Axis-aligned bounding box of the brain ``((xlo, xhi), (ylo, yhi), (zlo, zhi))``, µm.

        Along z, the cerebrum's rostrocaudal extent, cut to the slab when there is one; an
        empty range (lo > hi) when the slab misses the cerebrum.
        """
        g = self.dims
        ox, oy, oz = self.origin
        xs = {"left": (ox - g.brain_half_width, ox), "right": (ox, ox + g.brain_half_width),
              "both": (ox - g.brain_half_width, ox + g.brain_half_width)}[self.side]
        ys = (oy - 2.0 * g.brain_half_height, oy)
        shift = oz - self.plane_level
        zlo = shift + g.brain_center_ap - g.brain_half_length
        zhi = shift + g.brain_center_ap + g.brain_half_length
        if self.slab is not None:
            zlo, zhi = max(zlo, oz - self.slab / 2), min(zhi, oz + self.slab / 2)
        return (xs, ys, (zlo, zhi))

    def describe(self) -> str:
        """One line: species, side, slab or whole, level, origin and scale."""
        where = {"left": "left hemisphere", "right": "right hemisphere",
                 "both": "both hemispheres"}[self.side]
        form = "whole cerebrum" if self.slab is None else f"coronal slab {self.slab:g} µm thick"
        return (f"{self.species} forebrain ({where}, {form} at bregma {self.plane_level / 1000:+g} "
                f"mm, origin ({', '.join(f'{v:g}' for v in self.origin)}) µm, scale "
                f"{self.scale:g})")

    def index_box(self, shape, dx: float):
        """Slices of the lattice holding the anatomy, and the voxel centres along each axis (µm)."""
        slices, grids = [], []
        for n, (lo, hi) in zip(shape, self.bounds()):
            a, b, c = voxel_centres(int(n), float(dx), lo, hi)
            slices.append(slice(a, b))
            grids.append(c)
        return tuple(slices), grids

    def anatomical(self, x, y, z):
        """Anatomical coordinates ``(m, d, a)`` of lattice positions (µm; see the module)."""
        ox, oy, oz = self.origin
        m = {"left": ox - x, "right": x - ox, "both": np.abs(x - ox)}[self.side]
        return m, oy - y, self.plane_level + (z - oz)

    def _codes(self, x, y, z, dx: float) -> np.ndarray:
        """Structure codes of the positions ``x, y, z`` (broadcastable arrays, µm)."""
        g = self.dims
        m, d, a = self.anatomical(x, y, z)
        W, H, L = g.brain_half_width, g.brain_half_height, g.brain_half_length
        cb = (0.0, H, g.brain_center_ap)
        brain = _inside(m, d, a, cb, (W, H, L)) & (m >= 0)
        if self.slab is not None:
            brain &= np.abs(z - self.origin[2]) <= self.slab / 2
        tc, tw = g.cortex_thickness, g.cortex_thickness + g.callosum_thickness
        below_cortex = _inside(m, d, a, cb, (W - tc, H - tc, L - tc))
        deep = _inside(m, d, a, cb, (W - tw, H - tw, L - tw))
        cs = (g.striatum_center_lateral, g.striatum_center_depth, g.striatum_center_ap)
        rs = (g.striatum_radius_lateral, g.striatum_radius_dv, g.striatum_radius_ap)
        t_svz = max(g.svz_thickness, dx)
        striatum = _inside(m, d, a, cs, rs)
        svz_out = _inside(m, d, a, cs, tuple(r + t_svz for r in rs))
        vent_out = _inside(m, d, a, cs, tuple(r + t_svz + g.ventricle_width for r in rs))
        medial = (m - cs[0]) <= -g.ventricle_cap * rs[0]
        parts = {"cortex": ~below_cortex,
                 "corpus_callosum": below_cortex & ~deep & (d <= H),
                 "striatum": striatum,
                 "svz": svz_out & ~striatum & medial,
                 "lateral_ventricle": vent_out & ~svz_out & medial,
                 "other": True}
        out = np.zeros(np.broadcast_shapes(np.shape(m), np.shape(d), np.shape(a)), dtype=np.uint8)
        for name in _PAINT_ORDER:
            out[brain & parts[name]] = structure_code(name)
        return out

    def labels(self, shape, dx: float) -> np.ndarray:
        """Structure code of every voxel (uint8 array of ``shape``; 0 outside the brain).

        Computed once per lattice and cached (the array returned is read-only).
        """
        shape = tuple(int(n) for n in shape)
        key = (self, shape, float(dx))
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
        out = np.zeros(shape, dtype=np.uint8)
        slices, (cx, cy, cz) = self.index_box(shape, dx)
        if min(len(cx), len(cy), len(cz)) > 0:
            step = max(1, _CHUNK // (len(cy) * len(cz)))
            x0 = slices[0].start
            for s in range(0, len(cx), step):
                x, y, z = np.ix_(cx[s:s + step], cy, cz)
                out[x0 + s:x0 + s + len(x), slices[1], slices[2]] = self._codes(x, y, z, dx)
        out.setflags(write=False)
        _CACHE[key] = out
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return out
