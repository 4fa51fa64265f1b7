"""Healing of a bone defect: where the defect was, and how much of it is bone again.

As a defect heals, the mineral process (:mod:`.mineral`) relabels its filled voxels as bone
(``cortex`` or ``trabecular``), so the label ``defect`` no longer says where the defect was.
Two pieces remember it and measure the fill:

``defect_site`` (tissue process)
    One state, ``defect_site``: 1 on the voxels labelled ``defect`` when the model is built,
    0 elsewhere; it never changes (its step does nothing), is checkpointed, and is written
    to snapshots like any tissue state.

``defect_fill`` (readout)
    The new bone volume over the defect volume, on the ``defect_site`` voxels::

        fill = Σ w · b / Σ w

    with ``b`` a voxel's bone and ``w`` its weight.

    * ``defect_fill``: ``b`` is 1 where the voxel's mineral is at or above the mineral
      process's threshold (0.5), else 0. This is what micro-CT reports for a calvarial
      defect (bone volume of the defect's volume of interest over its volume, after one
      global threshold), it uses the same segmentation as the other micro-CT readouts
      (:mod:`.readouts`), and it counts the voxels the model itself treats as bone (they
      take a bone label, block diffusion and hold no cells). The default.
    * ``defect_fill mineral``: ``b`` is the mineral fraction itself (0-1): partly
      mineralised woven bone counts in proportion, as in a density (radiographic)
      measure. It rises smoothly from the first day, where the thresholded fill stays 0
      until voxels cross the threshold.

    Weights. A full disc or a quadrant of it samples the defect's area evenly, so every
    voxel weighs 1 (``strip: 0``, the default). A **radial strip** (docs/bone-anatomy.md)
    samples each radius with the same width, whereas a ring of the disc at radius ``r``
    holds area in proportion to ``r``; with ``strip: 1`` each voxel weighs its distance
    ``r`` from the defect's axis (through ``(axis_x, axis_y)``, parallel to z; µm), so
    ``fill = Σ r · b / Σ r`` is the fraction of the *disc* that is bone.

Parameters of ``defect_site`` (scenario settings of the geometry, not biology): ``strip``
(0 or 1), ``axis_x`` and ``axis_y`` (µm; the ``center`` of the calvarial shapes).
A scenario enables them as
``processes: {mineral: {}, defect_site: {strip: 1, axis_x: 0 um, axis_y: 200 um}}`` and
reads ``outputs: {readouts: [defect_fill]}``.
"""

from __future__ import annotations

import numpy as np

from kernels.backend import to_numpy

from ... import units as U
from ...errors import ModelInputError
from ...readouts.base import Readout, ReadoutKind
from ...registry import PROCESSES, READOUT_KINDS
from ...scenario.problems import Bad, choices
from ...tissue import TissueProcess

__all__ = ["DefectSite", "DefectFillReadout", "defect_fill", "radial_weights"]

#: The label of the defect's empty space at the start.
DEFECT_LABEL = "defect"


def radial_weights(shape, dx: float, axis_x: float, axis_y: float) -> np.ndarray:
    """Distance of each voxel centre from the axis through ``(axis_x, axis_y)`` along z, µm.

    Parameters
    ----------
    shape : tuple of 3 int
        Lattice, voxels.
    dx : float
        Voxel edge, µm.
    axis_x, axis_y : float
        Where the axis crosses the x-y plane, µm.

    Returns
    -------
    numpy.ndarray of float64, ``shape``
    """
    nx, ny, nz = (int(n) for n in shape)
    x = (np.arange(nx) + 0.5) * dx - axis_x
    y = (np.arange(ny) + 0.5) * dx - axis_y
    r = np.sqrt(x[:, None] ** 2 + y[None, :] ** 2)
    return np.broadcast_to(r[:, :, None], (nx, ny, nz))


def defect_fill(site, bone, weights=None) -> float:
    """Weighted share of the defect that is bone, ``Σ w · b / Σ w`` over the site.

    Parameters
    ----------
    site : bool array
        The defect's voxels (as it was at the start).
    bone : float or bool array of the same shape
        Each voxel's bone: 0/1 (thresholded) or the mineral fraction (0-1).
    weights : float array of the same shape, optional
        Voxel weights (µm for the radial weight; default 1).

    Returns
    -------
    float
        The fill, 0-1; NaN where the site is empty (or its weights sum to 0).
    """
    site = np.asarray(site, dtype=bool)
    b = np.asarray(bone, dtype=np.float64)
    w = np.ones(site.shape) if weights is None else np.asarray(weights, dtype=np.float64)
    den = float(w[site].sum())
    if not den > 0:
        return float("nan")
    return float((w[site] * b[site]).sum() / den)


# registered as a biology process, not a built-in: its settings describe the geometry, not
# biology, so it has no rows in seeds/processes.csv (which every built-in process has)
@PROCESSES.register
class DefectSite(TissueProcess):
    """The voxels of the defect at the start (1) and elsewhere (0); unchanging.

    Parameters
    ----------
    strip : 1
        1: the lattice is a radial strip of the defect (``defect_fill`` weights each voxel
        by its distance from the axis); 0 (default): a disc or a quadrant (weight 1).
    axis_x, axis_y : µm
        Where the defect's axis crosses the x-y plane (the calvarial shapes' ``center``);
        used with ``strip: 1``. Default 0.
    """

    name = "defect_site"
    states = {"defect_site": (0.0, "1")}
    parameters = {"strip": (0.0, U.DIMENSIONLESS), "axis_x": (0.0, U.LENGTH),
                  "axis_y": (0.0, U.LENGTH)}

    def __init__(self, **parameters: float):
        super().__init__(**parameters)
        if self.p["strip"] not in (0.0, 1.0):
            raise ModelInputError(f"defect_site: strip is 1 (a radial strip: weight by radius) "
                                  f"or 0 (a disc or quadrant), got {self.p['strip']:g}")

    def initial(self, model):
        """1 on the voxels labelled ``defect`` now, 0 elsewhere.

        Raises
        ------
        ModelInputError
            No ``defect`` label, or no voxel carries it when the model is built.
        """
        xp = model.xp
        names = list(model.tissue_names)
        if model._labels_flat is None or DEFECT_LABEL not in names:
            raise ModelInputError(
                f"the defect_site process remembers the voxels labelled '{DEFECT_LABEL}' at the "
                f"start; this model has labels {choices(names) if names else 'none'}; declare "
                f"a '{DEFECT_LABEL}' label (e.g. region: {{shape: calvarial_defect, ...}})")
        site = model._labels_flat == names.index(DEFECT_LABEL)
        if not bool(xp.any(site)):
            raise ModelInputError(
                f"the defect_site process found no voxel labelled '{DEFECT_LABEL}' at the start; "
                f"paint the defect at t = 0 (initially: true) with a region that holds voxels")
        return {"defect_site": site.astype(xp.float64)}

    def step(self, model, states, dt):
        """Nothing: the site is where the defect was at the start."""

    def weights(self, shape, dx: float):
        """Voxel weights of ``defect_fill``: the radius (µm) on a strip, else None (all 1)."""
        if self.p["strip"] == 1.0:
            return radial_weights(shape, dx, self.p["axis_x"], self.p["axis_y"])
        return None


def _process(model, name):
    for p in getattr(model, "processes", ()):
        if getattr(p, "name", None) == name:
            return p
    return None


class DefectFillReadout(ReadoutKind):
    """``defect_fill [mineral]``: new bone volume over the defect volume (unit 1)."""

    name = "defect_fill"
    grammar = "defect_fill [mineral]"
    takes_label = False

    def parse(self, text, args, label, ctx) -> Readout:
        """The spec (checks the ``mineral`` and ``defect_site`` processes are enabled)."""
        if args not in ([], ["mineral"]):
            raise Bad(f"readout '{text}': write 'defect_fill' (voxels at or above the mineral "
                      f"threshold) or 'defect_fill mineral' (the mineral fraction itself)")
        missing = [s for s in ("mineral", "defect_site") if s not in ctx.tissue_states]
        if missing:
            raise Bad(f"readout '{text}' measures bone in the original defect: it needs the "
                      f"tissue state(s) {', '.join(missing)}; enable the processes under "
                      f"processes: {{mineral: {{}}, defect_site: {{}}}}")
        return Readout(text, self.name, state="mineral" if args else None, unit="1")

    def unit(self, spec, model) -> str:
        """Unit 1 (a volume fraction)."""
        return "1"

    def evaluate(self, spec, model, ctx) -> float:
        """The fill now (NaN for an empty site)."""
        ts = model.tissue_states
        shape = tuple(model.shape)
        site = np.asarray(to_numpy(ts["defect_site"])).reshape(shape) > 0.5
        mineral = np.asarray(to_numpy(ts["mineral"]), dtype=np.float64).reshape(shape)
        if spec.state == "mineral":
            bone = np.clip(mineral, 0.0, 1.0)
        else:
            proc = _process(model, "mineral")
            thr = float(proc.p["threshold"]) if proc is not None else 0.5
            bone = mineral >= thr
        ds = _process(model, "defect_site")
        w = ds.weights(shape, float(model.dx)) if ds is not None else None
        return defect_fill(site, bone, w)


READOUT_KINDS.register(DefectFillReadout())
