"""Bone mineral as a tissue process: deposited by osteoblasts, resorbed by osteoclasts.

The state ``mineral`` is the mineralised volume fraction of each voxel (0–1; 1 = fully
mineralised bone tissue). It does not diffuse. A voxel counts as *bone* where
``mineral >= threshold`` (0.5: the partial-volume midpoint a micro-CT segmentation would
use); bone voxels carry a mineralised tissue label (``trabecular`` or ``cortex``), which the
scenario declares impermeable with no room for cells, and the process relabels voxels as they
cross the threshold, so diffusion and cells see the changed tissue at once. A second state,
``surface``, is the share (0–1) of a soft voxel's six faces that touch bone (0 inside bone
and in marrow away from it): the bone surface cells sense as ``tissue_state:surface``.

Each step, with ``n_OB(v)`` the active osteoblasts of soft voxel ``v`` on the surface
(``surface > 0``) and ``n_OC(v)`` the osteoclasts of voxel ``v``:

* formation: an active osteoblast covers the bone-surface voxels it touches (its own and its
  six face neighbours, an equal share each), and a surface voxel ``v`` gains
  ``f · dt · c_v · Σ n_OB/reach`` over the osteoblasts that cover it, with
  ``f = MAR · A_OB / dx³`` (1/min), the osteoblast's mineral apposition rate ``MAR`` (µm/min)
  over its footprint ``A_OB`` (µm²), and the concavity factor ``c_v = (b_v / 9)^a``: ``b_v``
  bone voxels among its 26 neighbours (9 beside a flat surface, more in a pit, 1–3 at the tip
  of a spike) and ``a`` the ``concavity`` exponent. On a flat surface the osteoblast's whole
  output ``f`` goes into the voxels it lines; pits fill faster and convex tips slower, the
  curvature control of tissue growth (Rumpler et al. 2008, Bidan et al. 2012), which keeps
  the surface from roughening voxel by voxel. In a healing defect (label ``defect``) an active
  osteoblast off any surface also lays down woven bone in its own voxel, at
  ``de_novo_share`` of ``f``;
* resorption: each osteoclast removes ``r · dt`` of mineral, ``r = V_OC / dx³`` with the
  volume resorption rate ``V_OC`` (µm³/min), shared among the mineral it touches (its
  neighbours and its own voxel wherever they hold mineral, bone or a remnant below the
  threshold) in proportion to ``(e / 9)^b``: ``e`` non-bone voxels among the 26 neighbours of
  the mineral voxel and ``b`` the ``exposure`` exponent, so an exposed spike goes before a
  flat surface; never more than a voxel holds; an osteoclast touching no mineral resorbs
  nothing;
* the matrix TGF-β freed by resorption (``matrix_tgfb`` per µm³ of bone) is released into
  the osteoclast's voxel of the ``TGF-b`` field, when the scenario declares one: the
  coupling signal that calls osteoblasts to the resorbed site.

Labels: a soft voxel (one of :attr:`MineralTissue.soft_labels`) that reaches the threshold
takes the mineralised label most of its bone neighbours have (cortex grows as cortex); a bone
voxel that falls below it becomes ``marrow``. Cells caught in a voxel that mineralises stay
there (the voxel takes no new ones); the osteoblast rules bury them.

Defaults: the ``mineral`` rows of ``seeds/processes.csv``. A scenario enables it as
``processes: {mineral: {}}`` and must declare the labels ``marrow`` and at least one of
``trabecular``/``cortex``.
"""

from __future__ import annotations

import numpy as np

from ... import units as U
from ...errors import ModelInputError
from ...registry import PROCESSES
from ...seeds import load_process_defaults
from ...tissue import TissueProcess

__all__ = ["MineralTissue", "surface_share", "bone_neighbour_sum", "neighbourhood_sum"]

_SEED = load_process_defaults()["mineral"]
_AREA = U.Kind("area (e.g. '400 um^2')", "um^2", "um^2")
_VOLRATE = U.Kind("volume rate (e.g. '40 um^3/min')", "um^3/min", "um^3/min")
_TGFB_CONTENT = U.Kind("TGF-b per bone volume (e.g. '0.4 ng/mL')", "ng/mL", "ng/mL")

_FACES = ((0, -1), (0, 1), (1, -1), (1, 1), (2, -1), (2, 1))


def _shifted(xp, a3, axis: int, step: int):
    """``a3`` read at the neighbour ``step`` (±1) along ``axis``; 0 beyond the lattice."""
    out = xp.zeros_like(a3)
    src = [slice(None)] * 3
    dst = [slice(None)] * 3
    if step > 0:
        src[axis], dst[axis] = slice(1, None), slice(None, -1)
    else:
        src[axis], dst[axis] = slice(None, -1), slice(1, None)
    out[tuple(dst)] = a3[tuple(src)]
    return out


def bone_neighbour_sum(xp, values3d):
    """For each voxel, the sum of ``values3d`` over its six face neighbours (0 beyond the lattice)."""
    total = xp.zeros_like(values3d)
    for axis, step in _FACES:
        total += _shifted(xp, values3d, axis, step)
    return total


def _shifted_edge(xp, a3, axis: int, step: int):
    """``a3`` read at the neighbour ``step`` (±1) along ``axis``; the edge value beyond it."""
    out = _shifted(xp, a3, axis, step)
    edge = [slice(None)] * 3
    edge[axis] = -1 if step > 0 else 0
    out[tuple(edge)] = a3[tuple(edge)]
    return out


def neighbourhood_sum(xp, values3d):
    """For each voxel, the sum of ``values3d`` over its 26 neighbours (3x3x3 less itself).

    Beyond the lattice the edge voxels repeat, so a structure cut by the lattice's faces looks
    to continue there (as micro-CT software treats a VOI's edge).
    """
    total = values3d
    for axis in range(3):
        total = total + _shifted_edge(xp, total, axis, 1) + _shifted_edge(xp, total, axis, -1)
    return total - values3d


def surface_share(xp, bone3d):
    """Share (0–1) of each soft voxel's six faces that touch bone; 0 in bone voxels.

    Parameters
    ----------
    bone3d : bool array of the lattice shape
        Mineralised voxels.
    """
    b = bone3d.astype(np.float64)
    return bone_neighbour_sum(xp, b) / 6.0 * (1.0 - b)


@PROCESSES.register(builtin=True)
class MineralTissue(TissueProcess):
    """Per-voxel bone mineral, deposited by active osteoblasts and resorbed by osteoclasts.

    Parameters (defaults from ``seeds/processes.csv``)
    --------------------------------------------------
    apposition_rate : µm/min
        Mineral apposition rate (MAR) of an active osteoblast.
    osteoblast_footprint : µm²
        Bone surface one active osteoblast covers.
    resorption_rate : µm³/min
        Bone volume one osteoclast resorbs per minute.
    threshold : 1
        Mineral fraction from which a voxel is bone (0.5).
    matrix_tgfb : ng/mL
        TGF-β freed per volume of bone resorbed, as the concentration it would have in that
        volume (ng/mL = ng per 10¹² µm³ of bone).
    concavity : 1
        Exponent ``a`` of the concavity factor ``(b/9)^a`` of formation (0: every surface
        voxel alike).
    exposure : 1
        Exponent ``b`` of the exposure weight ``(e/9)^b`` of resorption (0: all touched
        mineral alike).
    de_novo_share : 1
        Share of the apposition rate at which an active osteoblast off any bone surface
        deposits in a healing-defect voxel (label ``defect``: woven bone nucleating on the
        provisional matrix of the defect, away from the host bone). 0: only on surfaces.
    relabel_every : min
        How often the tissue labels follow the mineral (the field engine rebuilds its
        operators when they change). Between relabellings, formation and resorption already
        use the current mineral; only diffusion and cell room wait. 0: every step.
    """

    name = "mineral"
    states = {"mineral": (0.0, "1"), "surface": (0.0, "1")}
    parameters = {k: (_SEED[k], kind) for k, kind in (
        ("apposition_rate", U.SPEED), ("osteoblast_footprint", _AREA),
        ("resorption_rate", _VOLRATE), ("threshold", U.DIMENSIONLESS),
        ("matrix_tgfb", _TGFB_CONTENT), ("relabel_every", U.TIME),
        ("de_novo_share", U.DIMENSIONLESS), ("concavity", U.DIMENSIONLESS),
        ("exposure", U.DIMENSIONLESS))}
    #: Soft labels in which osteoblasts may deposit (and which resorbed bone becomes: the first).
    soft_labels = ("marrow", "defect")
    #: Soft labels where osteoblasts also deposit off a surface (at ``de_novo_share``).
    de_novo_labels = ("defect",)
    #: Mineralised labels (impermeable, no cells; the scenario declares them so).
    bone_labels = ("trabecular", "cortex")
    #: Cell types and states the process reads.
    osteoblast = ("Osteoblast", "active")
    osteoclast = "Osteoclast"
    coupling_field = "TGF-b"

    def __init__(self, **parameters: float):
        super().__init__(**parameters)
        if not 0.0 < self.p["threshold"] < 1.0:
            raise ModelInputError(f"mineral: threshold must lie between 0 and 1 (a mineral "
                                  f"fraction), got {self.p['threshold']}")
        for k in ("apposition_rate", "osteoblast_footprint", "resorption_rate", "matrix_tgfb",
                  "relabel_every", "concavity", "exposure"):
            if self.p[k] < 0:
                raise ModelInputError(f"mineral: {k} must be >= 0, got {self.p[k]}")

    # ------------------------------------------------------------------ labels
    def _label_codes(self, model):
        names = model.tissue_names
        if model._labels_flat is None or "marrow" not in names or not any(
                b in names for b in self.bone_labels):
            raise ModelInputError(
                "the mineral process needs tissue labels 'marrow' and 'trabecular' and/or "
                f"'cortex' (impermeable, capacity 0); this model has {names or 'no labels'}; "
                "declare them under tissue.labels")
        soft = [names.index(s) for s in self.soft_labels if s in names]
        bone = [names.index(b) for b in self.bone_labels if b in names]
        return soft, bone

    def initial(self, model):
        """Mineral 1 in the mineralised labels, 0 elsewhere; the surface share from that."""
        xp = model.xp
        _, bone = self._label_codes(model)
        lab = model._labels_flat
        m = xp.zeros(model.n_voxels, dtype=xp.float64)
        for b in bone:
            m[lab == b] = 1.0
        s = surface_share(xp, (m >= self.p["threshold"]).reshape(model.shape))
        return {"mineral": m, "surface": s.reshape(-1)}

    # ------------------------------------------------------------------- cells
    @staticmethod
    def _count(model, cell_type, state=None):
        """Cells of ``cell_type`` (in ``state``) per voxel, float64 of the lattice shape."""
        xp = model.xp
        pop = model.populations.get(cell_type)
        if pop is None or len(pop) == 0:
            return xp.zeros(model.shape, dtype=xp.float64)
        pos = pop.pos
        if state is not None:
            states = model.cell_classes[cell_type].states
            pos = pos[pop.columns["state"] == states.index(state)]
        from kernels import lattice as L  # noqa: PLC0415
        from kernels import xp_ops  # noqa: PLC0415

        flat = L.flat_index(xp, pos, model.shape)
        return xp_ops.bincount(xp, flat, minlength=model.n_voxels).astype(xp.float64).reshape(
            model.shape)

    # -------------------------------------------------------------------- step
    def step(self, model, states, dt):
        """Deposit, resorb, release TGF-β and relabel, for one step of ``dt`` minutes."""
        xp, p = model.xp, self.p
        soft, bone_codes = self._label_codes(model)
        shape = model.shape
        m = states["mineral"].reshape(shape)
        thr = p["threshold"]
        bone = m >= thr
        nbone = bone_neighbour_sum(xp, bone.astype(np.float64)) * (~bone)
        on_surface = nbone > 0
        lab = model._labels_flat.reshape(shape)
        soft_here = xp.zeros(shape, dtype=bool)
        for s in soft:
            soft_here |= lab == s

        # formation: active osteoblasts on the surface fill their own voxel
        f = p["apposition_rate"] * p["osteoblast_footprint"] / model.fields.dx**3
        n_ob = self._count(model, *self.osteoblast)
        # an osteoblast covers the surface voxels it touches (its own and its six neighbours),
        # each an equal share; a surface voxel fills at the apposition rate scaled by its
        # concavity (bone in its 26-neighbourhood against a flat surface's 9, to the power a)
        target = on_surface & soft_here
        bone26 = neighbourhood_sum(xp, bone.astype(np.float64))  # bone among the 26 neighbours
        w_form = xp.where(target, (bone26 / 9.0) ** p["concavity"], 0.0)
        t_f = target.astype(np.float64)
        reach = bone_neighbour_sum(xp, t_f) + t_f
        q = xp.where(reach > 0, f * dt * n_ob / xp.where(reach > 0, reach, 1.0), 0.0)
        gain = w_form * (bone_neighbour_sum(xp, q) + q)
        if p["de_novo_share"] > 0:
            de_novo = xp.zeros(shape, dtype=bool)
            for name in self.de_novo_labels:
                if name in model.tissue_names:
                    de_novo |= lab == model.tissue_names.index(name)
            gain = gain + p["de_novo_share"] * f * dt * n_ob * (de_novo & ~on_surface)

        # resorption: an osteoclast shares its rate among the mineral it touches: its bone
        # faces and any partly mineralised neighbour or own voxel (so no mineral is left
        # stranded below the bone threshold where bone was resorbed)
        r = p["resorption_rate"] / model.fields.dx**3
        has = (m > 0).astype(np.float64)
        # exposure: a mineral voxel with e faces off bone is resorbed e**b as fast (b)
        exposed = 26.0 - bone26
        w_res = has * ((xp.maximum(exposed, 1.0) / 9.0) ** p["exposure"])
        weight = bone_neighbour_sum(xp, w_res) + w_res
        n_oc = self._count(model, self.osteoclast)
        share = xp.where(weight > 0, r * dt * n_oc / xp.where(weight > 0, weight, 1.0), 0.0)
        demand = w_res * (bone_neighbour_sum(xp, share) + share)
        taken = xp.minimum(demand, m)
        frac = xp.where(demand > 0, taken / xp.where(demand > 0, demand, 1.0), 0.0)
        # what each osteoclast voxel actually resorbed (mineral volume fraction of a voxel)
        resorbed_at = share * (bone_neighbour_sum(xp, w_res * frac) + w_res * frac)

        m_new = xp.minimum(m + gain, 1.0) - taken
        m_new = xp.maximum(m_new, 0.0)
        states["mineral"] = m_new.reshape(-1)

        if self.coupling_field in model.fields._index and p["matrix_tgfb"] > 0:
            i = model.fields.index(self.coupling_field)
            u = model.fields.u[i]
            u += (p["matrix_tgfb"] * resorbed_at).astype(u.dtype)

        new_bone = m_new >= thr
        states["surface"] = surface_share(xp, new_bone).reshape(-1)
        if not self._relabel_now(model.time, dt):
            return
        labelled = xp.zeros(shape, dtype=bool)
        for b in bone_codes:
            labelled |= lab == b
        changed = new_bone != labelled
        if bool(xp.any(changed)):
            lab_new = lab.copy()
            lab_new[changed & ~new_bone] = soft[0] if soft else lab_new[changed & ~new_bone]
            born = changed & new_bone
            if bool(xp.any(born)):
                lab_new[born] = self._bone_label_for(xp, lab, bone_codes, born)
            model.set_tissue(lab_new)

    def _relabel_now(self, t0: float, dt: float) -> bool:
        """Whether the step from ``t0`` (min) crosses a relabelling time.

        A function of time only, so a resumed run relabels at the same steps.
        """
        every = self.p["relabel_every"]
        if every <= 0:
            return True
        import math  # noqa: PLC0415

        return math.floor((t0 + dt) / every + 1e-9) > math.floor(t0 / every + 1e-9)

    @staticmethod
    def _bone_label_for(xp, lab, bone_codes, born):
        """The mineralised label of each newly formed bone voxel: its neighbours' majority."""
        if len(bone_codes) == 1:
            return bone_codes[0]
        votes = [bone_neighbour_sum(xp, (lab == c).astype(np.float64))[born] for c in bone_codes]
        best = xp.argmax(xp.stack(votes), axis=0)
        return xp.asarray(bone_codes)[best]
