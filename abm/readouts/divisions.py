"""``divisions <type> [in <label>] over <duration>``: divisions in a time window (cells).

The divisions of cells of a type in the last ``<duration>``, each counted once (one
division makes one daughter); with ``in <label>``, those whose mother sat in a voxel of the
label when it divided (as labelled then). Read from the model's event log
(:mod:`abm.cells.events_log`); a window longer than the run so far counts from t = 0.
"""

from __future__ import annotations

from ..cells.events_log import DIVISION
from ..registry import READOUT_KINDS
from .base import Readout, ReadoutKind
from .window import event_log_for, label_index, parse_windowed, window_start

__all__ = ["DivisionsReadout"]


class DivisionsReadout(ReadoutKind):
    """Division events of a type in the last window, optionally in one tissue label."""

    name = "divisions"
    grammar = "divisions <type> [in <label>] over <duration>"
    takes_window = True

    def parse(self, text, args, label, ctx, window=None) -> Readout:
        """The :class:`Readout` of the string (:meth:`ReadoutKind.parse`)."""
        return parse_windowed(self, text, args, label, ctx, window, takes_state=False)

    def evaluate(self, spec, model, ctx) -> float:
        """The value now (:meth:`ReadoutKind.evaluate`)."""
        log = event_log_for(model, spec)
        code = list(model.populations).index(spec.cell_type)
        return float(log.count(DIVISION, code, window_start(model, spec.window),
                               label=label_index(spec, model)))


READOUT_KINDS.register(DivisionsReadout(), builtin=True)
