"""The ``pulse`` event: a label (BrdU, EdU) available to dividing cells for a while.

``- {at: 3 d, pulse: {marker: BrdU, duration: 2 h}}``: from ``at`` for ``duration``, every
cell that divides (mother and daughter) is marked with ``marker``; the descendants of a
marked cell stay marked (:mod:`abm.cells.markers`). ``duration`` is how long the injected
label stays available to cells entering S phase (the modeller's choice; the model has no
S phase, so a division in the window stands for DNA synthesis in it). A pulse shorter than
one step marks the step it fires in. Several pulses of one marker (repeated injections)
add up. The marker is declared by the pulse, so ``count <type> marked BrdU`` can name it;
its per-cell column exists only in a scenario that declares a pulse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..cells.markers import start_pulse
from ..registry import EVENT_KINDS
from ..scenario.problems import Bad
from ..scenario.quantities import PosTime, SchemaModel
from .base import EventKind

__all__ = ["PulseSpec", "PulseEvent", "declared_markers"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*$")


class _Schema(SchemaModel):
    marker: str
    duration: PosTime


@dataclass(frozen=True)
class PulseSpec:
    """Marker ``marker`` available for ``duration`` (min) from the event's time."""

    marker: str
    duration: float

    @property
    def markers(self) -> tuple:
        """The markers this event declares (readouts may name them)."""
        return (self.marker,)


def declared_markers(ctx) -> list:
    """The markers the scenario's pulses have declared so far (the resolver keeps them)."""
    if not hasattr(ctx, "declared_markers"):
        ctx.declared_markers = []
    return ctx.declared_markers


class PulseEvent(EventKind):
    """Mark every cell that divides during a window."""

    name = "pulse"
    schema = _Schema

    def resolve(self, raw, ctx) -> PulseSpec:
        """The spec of the event from its validated mapping (:meth:`EventKind.resolve`)."""
        if not _NAME.match(raw.marker):
            raise Bad(f"marker '{raw.marker}' must be one word (letters, digits, '_', '+', '-', "
                      f"starting with a letter), e.g. 'BrdU'", key="marker")
        found = declared_markers(ctx)
        if raw.marker not in found:
            found.append(raw.marker)
        return PulseSpec(raw.marker, float(raw.duration))

    def describe(self, spec) -> str:
        """A short phrase for ``abm validate`` (:meth:`EventKind.describe`)."""
        return f"{spec.marker} marks dividing cells for {spec.duration:g} min"

    def fire(self, spec, model, ctx) -> None:
        """Apply the event to the model now (:meth:`EventKind.fire`)."""
        start_pulse(model, spec.marker, ctx.time, spec.duration)
        ctx.log.info("t = %g min: pulse of %s for %g min", model.time, spec.marker,
                     spec.duration)


EVENT_KINDS.register(PulseEvent(), builtin=True)
