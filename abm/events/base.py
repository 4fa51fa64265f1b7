"""The interface of an event kind, and the contexts it is given."""

from __future__ import annotations

import logging
from typing import ClassVar

import numpy as np

__all__ = ["EventKind", "FireContext", "event_kind"]

#: Events log to a child of the runner's logger, so they land in the run's .log file.
log = logging.getLogger("abm.run.events")


class EventKind:
    """A kind of timeline event.

    A kind of timeline event (``events: - at: <time>, <name>: {...}``), registered once in
    :data:`abm.registry.EVENT_KINDS`.

    Class attributes
    ----------------
    name : str
        The event's key in scenario files.
    schema : type
        Pydantic model of the mapping under that key (an
        :class:`abm.scenario.quantities.SchemaModel`).

    A subclass implements :meth:`resolve`, :meth:`describe` and :meth:`fire`, and
    :meth:`expected_cells` if it adds cells.
    """

    name: ClassVar[str] = ""
    schema: ClassVar[type] = None

    def resolve(self, raw, ctx):
        """The event's spec (a plain object in internal units) from its validated mapping.

        Parameters
        ----------
        raw : schema instance
        ctx : ResolveContext
            The scenario being resolved: ``ctx.domain``, ``ctx.tissue_names``,
            ``ctx.field_units``, ``ctx.base_dir``; ``ctx.region(ref)`` (a Region),
            ``ctx.field_unit(name)`` (the field's unit), ``ctx.cell_type(name)`` (the
            class), ``ctx.check_state_values(cls, state, values)``,
            ``ctx.sub(keys, fn, *args)`` (call ``fn``, prefixing the location of its
            problem with ``keys``).

        Raises
        ------
        abm.scenario.problems.Bad
            A problem; its ``key`` (relative to the mapping) places it on its line.
        """
        raise NotImplementedError

    def describe(self, spec) -> str:
        """A short phrase for ``abm validate`` (after the time and the kind name)."""
        return ""

    def expected_cells(self, spec) -> int:
        """Cells the event adds (for the memory estimate; default 0)."""
        return 0

    def fire(self, spec, model, ctx: "FireContext") -> None:
        """Apply the event to ``model`` now (at the start of the step it falls in)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<event kind {self.name}>"


class FireContext:
    """What an event sees when it fires.

    Attributes
    ----------
    model : TissueModel
    time : float
        The event's scheduled time, min (``model.time`` is the step's start).
    log : logging.Logger
        The run's log (lines go to the run's ``.log`` file).
    """

    def __init__(self, model, time: float):
        self.model, self.time, self.log = model, float(time), log

    def labels(self) -> np.ndarray:
        """Tissue labels now (uint8 array of the lattice shape; zeros without labels)."""
        lab = self.model.fields.labels
        return np.zeros(self.model.shape, np.uint8) if lab is None else np.asarray(lab)

    def mask(self, region) -> np.ndarray:
        """Boolean voxel mask of ``region`` now (tissue labels as they are now)."""
        return region.mask(self.model.shape, self.model.dx, labels=self.labels(),
                           label_names=self.model.tissue_names)


def event_kind(name: str) -> EventKind:
    """The registered event kind ``name`` (an instance, also when a class was registered).

    Raises
    ------
    ModelInputError
        Unknown kind (with the closest known one).
    """
    from ..registry import EVENT_KINDS  # noqa: PLC0415

    return EVENT_KINDS.instance(name)
