"""The route part shared by the ``injection`` and ``exosomes`` events.

A route through the blood (:attr:`abm.biology.delivery.Route.needs_entry`) delivers
in proportion to the volume of simulated tissue it can enter: the voxels of the
event's ``target`` whose tissue label is one of its ``bbb_open`` labels (where the
blood-brain barrier is open: a lesion core, a penumbra), as they will be at the
event's time (the tissue painted at t = 0 and by the injuries before it, predicted by
the resolver), and places only there when it fires.
"""

from __future__ import annotations

import numpy as np

from .. import units as U
from ..biology.delivery import SPECIES, body_of
from ..registry import ROUTES
from ..scenario.problems import Bad, choices, did_you_mean
from ..scenario.quantities import converted

#: A volume (a brain's), internal unit µm³.
VOLUME = U.Kind("a volume (e.g. '2000 mm^3')", "um**3", "mm^3")

__all__ = ["VOLUME", "route_named", "bbb_labels", "entry_volume", "entry_room", "entry_mask", "body_for"]


def route_named(name: str, *, vesicles: bool = False):
    """The registered route ``name`` (for a vesicle dose: one that offers vesicles); Bad if none."""
    names = [n for n in ROUTES.names()
             if (ROUTES.get(n).vesicles if vesicles else ROUTES.get(n).for_cells)]
    if name not in names:
        what = "an exosome dose" if vesicles else "an injection"
        raise Bad(f"unknown route '{name}'{did_you_mean(name, names)} for {what}; routes: "
                  f"{choices(names)}", key="route")
    return ROUTES.get(name)


def body_for(raw):
    """The animal of an event (its ``species``, and ``brain_volume`` if given); Bad if unknown."""
    if raw.species not in SPECIES:
        raise Bad(f"unknown species '{raw.species}'{did_you_mean(raw.species, SPECIES)}; "
                  f"presets: {choices(SPECIES)} (give brain_volume for another animal)",
                  key="species")
    vol = None
    if raw.brain_volume is not None:
        vol = converted(raw.brain_volume, VOLUME, key="brain_volume", positive=True)
    return body_of(raw.species, vol)


def bbb_labels(raw, ctx, route) -> tuple:
    """The event's ``bbb_open`` labels, checked against the tissue labels (Bad otherwise)."""
    names = tuple(raw.bbb_open or ())
    if route.needs_entry and not names:
        raise Bad(f"an {route.name} injection delivers only where the blood-brain barrier is "
                  f"open: it needs bbb_open, the tissue labels where it is (e.g. bbb_open: "
                  f"[core, penumbra]; labels: {choices(ctx.tissue_names)}), or it needs "
                  f"delivered_fraction (a fraction you set yourself)",
                  key="bbb_open" if raw.bbb_open is not None else None)
    for k, n in enumerate(names):
        if n not in ctx.tissue_names:
            raise Bad(f"unknown tissue label '{n}'{did_you_mean(n, ctx.tissue_names)}; labels: "
                      f"{choices(ctx.tissue_names)}", key=("bbb_open", k))
    return names


def _restrict(mask, labels, tissue_names, names) -> np.ndarray:
    if not names:
        return mask
    ids = [tissue_names.index(n) for n in names]
    return mask & np.isin(labels, ids)


def entry_volume(ctx, target, names) -> float:
    """Volume (µm³) of ``target`` with a ``names`` label at the event's time (resolve time)."""
    labels = ctx.labels_at(ctx.event_time, ctx.event_index)
    mask = target.mask(ctx.shape, ctx.dx, labels, ctx.tissue_names)
    return float(np.count_nonzero(_restrict(mask, labels, ctx.tissue_names, names))) \
        * ctx.dx ** 3


def entry_room(ctx, target, names) -> int | None:
    """Most cells the entry voxels can hold at the event's time (voxels × their capacity).

    None when the tissue cannot be painted here (a lattice above the resolver's limit).
    """
    try:
        labels = ctx.labels_at(ctx.event_time, ctx.event_index)
    except Bad:
        return None
    mask = _restrict(target.mask(ctx.shape, ctx.dx, labels, ctx.tissue_names), labels,
                     ctx.tissue_names, names)
    caps = np.array([t.capacity for t in ctx.tissue], dtype=np.int64)
    return int(caps[labels][mask].sum())


def entry_mask(fire_ctx, target, names) -> np.ndarray:
    """Voxels of ``target`` with a ``names`` label now (fire time)."""
    model = fire_ctx.model
    labels = fire_ctx.labels()
    return _restrict(fire_ctx.mask(target), labels, list(model.tissue_names), names)
