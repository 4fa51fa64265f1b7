"""``cycling <type> [<state>] [in <label>] over <duration>``: a Ki67-like count (cells).

The living cells of a type that completed a division in the last ``<duration>``, as the
mother or as the daughter (a seeded or injected cell that has not divided is not counted),
optionally in one state and in one tissue label (where the cell is now). This is a proxy:
Ki67 is present through the whole cell cycle (G1, S, G2, M) and absent in quiescent
(G0) cells, while the model has no cycle phases, only division events. Counting the cells
that divided within about one cycle length is the closest the model comes; choose the
window accordingly (e.g. the type's mean time between divisions). Read from the cells'
``last_division``, ``born`` and ``parent`` columns, so it needs no event log; a window longer
than the run so far counts from t = 0.
"""

from __future__ import annotations

import numpy as np

from kernels.backend import to_numpy

from ..registry import READOUT_KINDS
from .base import Readout, ReadoutKind
from .cells import selection
from .window import parse_windowed, window_start

__all__ = ["CyclingReadout"]

_EPS = 1e-9


class CyclingReadout(ReadoutKind):
    """Living cells of a type that divided (as mother or daughter) in the last window."""

    name = "cycling"
    grammar = "cycling <type> [<state>] [in <label>] over <duration>"
    takes_window = True

    def parse(self, text, args, label, ctx, window=None) -> Readout:
        """The :class:`Readout` of the string (:meth:`ReadoutKind.parse`)."""
        return parse_windowed(self, text, args, label, ctx, window, takes_state=True)

    def evaluate(self, spec, model, ctx) -> float:
        """The value now (:meth:`ReadoutKind.evaluate`)."""
        sel, in_state = selection(spec, model, ctx)
        cols = model.populations[spec.cell_type].columns
        last = np.asarray(to_numpy(cols["last_division"]))
        born = np.asarray(to_numpy(cols["born"]))
        parent = np.asarray(to_numpy(cols["parent"]))
        start = window_start(model, spec.window)
        divided = (last > born) | (parent >= 0)        # a mother, or born of a division
        recent = last > start + _EPS * max(1.0, abs(start))
        return float((sel & in_state & divided & recent).sum())


READOUT_KINDS.register(CyclingReadout(), builtin=True)
