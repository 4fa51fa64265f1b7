"""The ``ovariectomy`` event: bilateral removal of the ovaries (the OVX rat or mouse).

``- {name: ovx, at: 0 d, ovariectomy: {}}`` marks the animal ovariectomised from that time:
the :class:`~abm.biology.bone.estrogen.Estrogen` process (which the scenario must enable,
``processes: {estrogen: {}}``) then lets the estrogen level fall to its residual. What follows
in bone, raised RANKL, TNF-α and turnover with a loss of trabecular bone over the following
weeks to months (Wronski et al. 1988, 1989), comes from the rules that read
``tissue_state:estrogen``. A sham operation is the same scenario without the event (an arm
``sham: {without: [ovx]}``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...events.base import EventKind
from ...registry import EVENT_KINDS
from ...scenario.problems import Bad
from ...scenario.quantities import SchemaModel

__all__ = ["OvariectomySpec", "OvariectomyEvent"]


class _Schema(SchemaModel):
    pass


@dataclass(frozen=True)
class OvariectomySpec:
    """An ovariectomy (no parameters: the estrogen process holds the time course)."""


class OvariectomyEvent(EventKind):
    """Set the ``ovariectomised`` tissue state to 1 everywhere."""

    name = "ovariectomy"
    schema = _Schema
    state = "ovariectomised"

    def resolve(self, raw, ctx) -> OvariectomySpec:
        """The spec; refused unless the scenario enables the ``estrogen`` process."""
        if self.state not in getattr(ctx, "state_units", {}):
            raise Bad("an ovariectomy needs the estrogen process; add 'estrogen: {}' under "
                      "processes")
        return OvariectomySpec()

    def describe(self, spec) -> str:
        """A short phrase for ``abm validate``."""
        return "estrogen falls to its residual (estrogen process)"

    def fire(self, spec, model, ctx) -> None:
        """Mark every voxel ovariectomised now."""
        model.tissue_states[self.state][...] = 1.0
        ctx.log.info("t = %g min: ovariectomy", model.time)


EVENT_KINDS.register(OvariectomyEvent(), builtin=True)
