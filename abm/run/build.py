"""Building the model a scenario describes and placing its initial populations.

Cell types come from the resolved scenario (:attr:`CellTypeSpec.cls`: a registered
class or one declared in the file), tissue processes from its ``processes``; the memory
check counts the cells the populations and the events add (each event kind says how
many, :meth:`abm.events.EventKind.expected_cells`) before anything is allocated.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from kernels.backend import get_backend

from ..cells import TissueModel
from ..events import event_kind
from ..fields import TissueClass
from ..scenario import Scenario, build_labels
from .memory import check_fits

__all__ = ["build_model", "check_memory", "place_populations", "expected_cells", "labels_now",
           "region_mask"]

log = logging.getLogger("abm.run")


def expected_cells(sc: Scenario) -> int:
    """Cells the scenario places at most: initial populations plus what events add."""
    n = 0
    for p in sc.populations:
        if p.count is not None:
            n += int(p.count)
        else:
            n += int(round(p.density * math.prod(sc.domain.extent)))
    for ev in sc.events:
        n += int(event_kind(ev.kind).expected_cells(ev.spec))
    return n


def check_memory(sc: Scenario, backend=None) -> int:
    """Refuse a scenario whose model would not fit in the device's memory; the estimate, bytes.

    ``abm validate`` and :func:`build_model` call it before anything is allocated.

    Parameters
    ----------
    sc : Scenario
    backend : Backend, {"numpy", "cupy"} or None
        The device the model would live on (default as :func:`build_model`).

    Raises
    ------
    ModelInputError
        With the estimate and the memory available (:func:`abm.run.memory.check_fits`).
    """
    b = backend if hasattr(backend, "name") else get_backend(backend)
    n_var = max([len(c.cls.variables) for c in sc.cell_types] + [0])
    itemsize = 8 if b.name == "numpy" else 4
    return check_fits(sc.domain.shape, len(sc.fields), itemsize, expected_cells(sc), n_var,
                      b.name)


def build_model(sc: Scenario, backend=None, seed=None) -> TissueModel:
    """Build the model a scenario describes (no cells placed yet).

    Refuses, before allocating, a lattice that would not fit in the memory of the
    chosen device (:func:`abm.run.memory.check_fits`).

    Parameters
    ----------
    sc : Scenario
    backend : {"numpy", "cupy"} or None
        Array backend (default: ``ABM_BACKEND``, else a GPU if present).
    seed : int, optional
        Overrides the scenario's seed.

    Returns
    -------
    TissueModel
    """
    b = get_backend(backend)
    check_memory(sc, b)
    labels = build_labels(sc)
    tissue = [TissueClass(t.name, t.diffusion_scale, t.decay_scale, t.permeable)
              for t in sc.tissue]
    cap_by_label = np.array([t.capacity for t in sc.tissue], np.int64)
    if seed is None:
        seed = sc.domain.seed
    model = TissueModel(
        shape=sc.domain.shape, dx=sc.domain.dx, fields=[f.species() for f in sc.fields],
        cell_types=[c.cls for c in sc.cell_types],
        rules=[r for c in sc.cell_types for r in c.rules],
        parameters={c.name: dict(c.parameters) for c in sc.cell_types},
        label_capacity=cap_by_label, labels=labels, tissue=tissue, dt=sc.domain.dt,
        seed=seed, backend=b, processes=[p.instance() for p in sc.processes])
    return model


def labels_now(model) -> np.ndarray:
    """The model's tissue labels now (zeros without labels)."""
    lab = model.fields.labels
    return np.zeros(model.shape, np.uint8) if lab is None else np.asarray(lab)


def region_mask(region, model) -> np.ndarray:
    """Boolean voxel mask of ``region`` on the model's lattice, labels as they are now."""
    return region.mask(model.shape, model.dx, labels=labels_now(model),
                       label_names=model.tissue_names)


def place_populations(model, sc: Scenario) -> None:
    """Place the scenario's initial populations (at t = 0)."""
    for p in sc.populations:
        mask = region_mask(p.region, model)
        n = p.count if p.count is not None else int(round(p.density * mask.sum() * model.dx**3))
        values = dict(p.values)
        if p.state is not None:
            values["state"] = p.state
        log.info("placing %d %s cells in %s", n, p.cell_type, p.region.describe())
        model.seed_cells(p.cell_type, int(n), region=mask, **values)
