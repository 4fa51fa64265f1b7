"""Micro-CT readouts of a bone scenario.

``BV/TV``, ``Tb.Th``, ``Tb.Sp``, ``Tb.N``, ``BMD``, ``Ct.Th`` and ``ultimate_load``: each is
a readout kind of one word with no arguments (``outputs: {readouts: [BV/TV, Tb.Th]}``),
computed by :mod:`.morphometry` from the model's tissue now:

* the bone: the voxels whose ``mineral`` tissue state (the mineral process) is at or above
  the process's threshold (0.5); without a ``mineral`` state, the voxels labelled
  ``trabecular`` or ``cortex`` (mineral 1), so the readouts also measure a static geometry;
* the trabecular volume of interest (VOI) of ``BV/TV``, ``Tb.Th``, ``Tb.Sp``, ``Tb.N`` and
  ``BMD``: the voxels labelled ``marrow`` or ``trabecular`` (everything inside the
  endocortical envelope);
* the cortex of ``Ct.Th``: bone as a scan segments it (the mineral Gaussian-filtered and
  thresholded, :func:`.morphometry.filtered_bone`) within the cortical envelope: the voxels
  labelled ``cortex`` and the non-trabecular voxels one face step from them, so that bone
  just deposited on the endocortical or periosteal surface counts before the label follows;
* ``ultimate_load``: the weakest cross-section along the lattice's z axis (the bone's long
  axis), with the trabecular VOI and the cortex as two compartments side by side. It is the
  load of the cross-section *in the lattice*: a domain holding a quadrant of the bone
  carries a quarter of the whole bone's load.

Units: 1, µm, µm, 1/mm, mg HA/cm³, µm, N. A readout with nothing to measure (no bone in the
VOI for ``Tb.Th``, no marrow for ``Tb.Sp``) records NaN. The scenario check refuses a readout
whose labels the scenario lacks. The thickness readouts cost a local-thickness computation
each (about 2 s for Tb.Th and Tb.Sp together on 150 x 150 x 30 voxels, measured on a shared
2-core CPU); the runner evaluates readouts only every ``outputs.readout_every``, and the
readouts evaluated at one time share one computation.
"""

from __future__ import annotations

import numpy as np

from kernels.backend import to_numpy

from ...readouts.base import Readout, ReadoutKind
from ...registry import READOUT_KINDS
from ...scenario.problems import Bad, choices
from . import morphometry as M

__all__ = ["MicroCTReadout", "MICRO_CT_READOUTS", "bone_state", "cortical_bone"]

#: readout name -> (unit, what it is)
MICRO_CT_READOUTS = {
    "BV/TV": ("1", "bone volume fraction of the trabecular VOI"),
    "Tb.Th": ("um", "mean trabecular thickness (direct 3D)"),
    "Tb.Sp": ("um", "mean trabecular separation (direct 3D)"),
    "Tb.N": ("1/mm", "trabecular number, 1 / (Tb.Th + Tb.Sp)"),
    "BMD": ("mg HA/cm^3", "bone mineral density of the trabecular VOI"),
    "Ct.Th": ("um", "mean cortical thickness (direct 3D)"),
    "ultimate_load": ("N", "compressive load of the weakest cross-section (Carter-Hayes)"),
}

_VOI_LABELS = ("marrow", "trabecular")
_BONE_LABELS = ("trabecular", "cortex")
_LONG_AXIS = 2


def _threshold(model) -> float:
    for p in getattr(model, "processes", ()):
        if getattr(p, "name", None) == "mineral":
            return float(p.p["threshold"])
    return 0.5


def bone_state(model) -> dict:
    """The model's bone now, as the micro-CT readouts see it.

    Parameters
    ----------
    model : TissueModel
        A model with tissue labels.

    Returns
    -------
    dict
        ``mineral`` (float64, lattice shape; mineral fraction, 1), ``bone`` (bool),
        ``voi`` (bool: labels ``marrow`` or ``trabecular``), ``cortex`` (bool: label
        ``cortex``) and ``dx`` (µm).
    """
    shape = tuple(model.shape)
    names = list(model.tissue_names)
    lab = model._labels_flat
    lab = np.zeros(shape, np.uint8) if lab is None else np.asarray(to_numpy(lab)).reshape(shape)

    def labelled(which):
        idx = [names.index(n) for n in which if n in names]
        return np.isin(lab, idx) if idx else np.zeros(shape, bool)

    states = getattr(model, "tissue_states", {}) or {}
    if "mineral" in states:
        mineral = np.asarray(to_numpy(states["mineral"]), np.float64).reshape(shape)
        bone = mineral >= _threshold(model)
    else:
        bone = labelled(_BONE_LABELS)
        mineral = bone.astype(np.float64)
    return {"mineral": mineral, "bone": bone, "voi": labelled(_VOI_LABELS),
            "cortex": labelled(("cortex",)), "trabecular": labelled(("trabecular",)),
            "threshold": _threshold(model), "dx": float(model.dx)}


def cortical_bone(state: dict) -> np.ndarray:
    """The cortex that ``Ct.Th`` measures, from :func:`bone_state`'s dictionary.

    Bone as micro-CT segments it (:func:`.morphometry.filtered_bone` of the mineral at the
    mineral process's threshold) inside the cortical envelope: the voxels labelled
    ``cortex`` and their face neighbours that are not labelled ``trabecular``. The envelope
    reaches one voxel beyond the label because a voxel's label follows its mineral only
    when most of its neighbourhood agrees, so new bone on a cortical surface would
    otherwise be missed for a while.

    Parameters
    ----------
    state : dict
        :func:`bone_state`'s result.

    Returns
    -------
    numpy.ndarray of bool
        Cortical bone voxels, lattice shape.
    """
    from scipy import ndimage  # noqa: PLC0415

    envelope = ndimage.binary_dilation(state["cortex"]) & ~state["trabecular"]
    return M.filtered_bone(state["mineral"], state["threshold"]) & envelope


def _cached(ctx, model, key, compute):
    """One value per evaluation time, shared by the readouts evaluated together."""
    cache = ctx.__dict__.setdefault("_micro_ct", {})
    if key not in cache:
        cache[key] = compute()
    return cache[key]


class MicroCTReadout(ReadoutKind):
    """One micro-CT measure of the bone (a readout of one word, no arguments).

    Parameters
    ----------
    name : str
        One of :data:`MICRO_CT_READOUTS`.
    """

    takes_label = False
    takes_window = False
    whole = True

    def __init__(self, name: str):
        self.name = name
        self.grammar = name
        self._unit, self._what = MICRO_CT_READOUTS[name]

    def parse(self, text, args, label, ctx) -> Readout:
        """The :class:`~abm.readouts.base.Readout` of the string (checks the labels it needs)."""
        if args:
            raise Bad(f"readout '{text}': '{self.name}' ({self._what}) takes no arguments; "
                      f"write '{self.name}'")
        labels = list(ctx.labels)
        has_bone = "mineral" in ctx.tissue_states or any(b in labels for b in _BONE_LABELS)
        if self.name == "Ct.Th":
            need_ok, need = "cortex" in labels, "a 'cortex' label"
        elif self.name == "ultimate_load":
            need_ok = any(n in labels for n in _VOI_LABELS + ("cortex",))
            need = "a 'marrow', 'trabecular' or 'cortex' label"
        else:
            need_ok = any(n in labels for n in _VOI_LABELS)
            need = "a 'marrow' or 'trabecular' label (the trabecular VOI)"
        if not (need_ok and has_bone):
            raise Bad(f"readout '{text}' measures bone: it needs {need} and bone to measure "
                      f"(the 'mineral' process, or 'trabecular'/'cortex' labels); this scenario "
                      f"has labels {choices(labels) if labels else 'none'}; declare them under "
                      f"tissue.labels (and processes: {{mineral: {{}}}} for remodelling bone)")
        return Readout(text, self.name, unit=self._unit)

    def unit(self, spec, model) -> str:
        """The unit of the column (1, um, 1/mm, mg HA/cm^3 or N)."""
        return self._unit

    def evaluate(self, spec, model, ctx) -> float:
        """The value now, in :meth:`unit` (NaN with nothing to measure)."""
        s = _cached(ctx, model, "state", lambda: bone_state(model))
        dx = s["dx"]

        def th():
            return _cached(ctx, model, "Tb.Th", lambda: M.tb_th(s["bone"], s["voi"], dx))

        def sp():
            return _cached(ctx, model, "Tb.Sp", lambda: M.tb_sp(s["bone"], s["voi"], dx))

        n = self.name
        if n == "BV/TV":
            return M.bv_tv(s["bone"], s["voi"])
        if n == "Tb.Th":
            return th()
        if n == "Tb.Sp":
            return sp()
        if n == "Tb.N":
            return M.tb_n(th_um=th(), sp_um=sp())
        if n == "BMD":
            return M.bmd(s["mineral"], s["voi"])
        if n == "Ct.Th":
            return M.ct_th(cortical_bone(s), dx)
        return M.ultimate_load(s["mineral"], [s["voi"], s["cortex"]], dx, axis=_LONG_AXIS)


for _name in MICRO_CT_READOUTS:
    READOUT_KINDS.register(MicroCTReadout(_name))
