"""``count <type> [<state>] [marked <marker>] [in <label>]``: living cells of a type (cells).

With ``marked <marker>`` only the cells a pulse of that marker has labelled (and their
descendants) are counted, e.g. ``count NeuralProgenitor marked BrdU in SVZ``
(:mod:`abm.cells.markers`).
"""

from __future__ import annotations

from ..registry import READOUT_KINDS
from .base import Readout, ReadoutKind
from .cells import check_type_state, exact_arity, selection, split_marked

__all__ = ["CountReadout"]


class CountReadout(ReadoutKind):
    """Cells of a type, optionally in one state, carrying a marker, in one tissue label."""

    name = "count"
    grammar = "count <type> [<state>] [marked <marker>] [in <label>]"

    def parse(self, text, args, label, ctx) -> Readout:
        """The :class:`Readout` of the string (:meth:`ReadoutKind.parse`)."""
        args, marker = split_marked(self, text, args, ctx)
        exact_arity(self, text, args, 1, 2)
        state = args[1] if len(args) > 1 else None
        check_type_state(text, args[0], state, ctx)
        return Readout(text, "count", cell_type=args[0], state=state, label=label, unit="cells",
                       marker=marker)

    def evaluate(self, spec, model, ctx) -> float:
        """The value now (:meth:`ReadoutKind.evaluate`)."""
        sel, in_state = selection(spec, model, ctx)
        return float((sel & in_state).sum())


READOUT_KINDS.register(CountReadout(), builtin=True)
