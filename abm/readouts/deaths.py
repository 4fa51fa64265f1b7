"""``deaths <type> [<state>] [in <label>] over <duration>``: deaths in a time window (cells).

The cells of a type that died in the last ``<duration>``; with ``<state>``, those in that
phenotype state when they died (after the transitions of their last step); with
``in <label>``, those whose voxel carried the label then. A TUNEL-like count: TUNEL stains
cells that are dying or recently died, so the window is how long a dying cell stays
stainable (a choice of the modeller, e.g. ``over 6 h``). Read from the model's event log
(:mod:`abm.cells.events_log`); a window longer than the run so far counts from t = 0.
"""

from __future__ import annotations

from ..cells.events_log import DEATH
from ..registry import READOUT_KINDS
from .base import Readout, ReadoutKind
from .window import event_log_for, label_index, parse_windowed, window_start

__all__ = ["DeathsReadout"]


class DeathsReadout(ReadoutKind):
    """Deaths of a type in the last window, optionally in one state and one tissue label."""

    name = "deaths"
    grammar = "deaths <type> [<state>] [in <label>] over <duration>"
    takes_window = True

    def parse(self, text, args, label, ctx, window=None) -> Readout:
        """The :class:`Readout` of the string (:meth:`ReadoutKind.parse`)."""
        return parse_windowed(self, text, args, label, ctx, window, takes_state=True)

    def evaluate(self, spec, model, ctx) -> float:
        """The value now (:meth:`ReadoutKind.evaluate`)."""
        log = event_log_for(model, spec)
        names = list(model.populations)
        code = names.index(spec.cell_type)
        state = (None if spec.state is None
                 else model.populations[spec.cell_type].states.index(spec.state))
        return float(log.count(DEATH, code, window_start(model, spec.window), state=state,
                               label=label_index(spec, model)))


READOUT_KINDS.register(DeathsReadout(), builtin=True)
