"""The ``fraction`` readout.

``fraction <type> <state> [in <label>]``: the fraction of a type's cells in a state
(dimensionless), among those in the tissue label if one is given (e.g. the M2 fraction
of the microglia in the infarct); NaN with no cell of the type there.
"""

from __future__ import annotations

from ..registry import READOUT_KINDS
from .base import Readout, ReadoutKind
from .cells import check_type_state, selection

__all__ = ["FractionReadout"]


class FractionReadout(ReadoutKind):
    """Cells in a state over all cells of the type."""

    name = "fraction"
    grammar = "fraction <type> <state> [in <label>]"

    def parse(self, text, args, label, ctx) -> Readout:
        """The :class:`Readout` of the string (:meth:`ReadoutKind.parse`)."""
        self.arity(text, args, 2, 2)
        check_type_state(text, args[0], args[1], ctx)
        return Readout(text, "fraction", cell_type=args[0], state=args[1], label=label, unit="1")

    def evaluate(self, spec, model, ctx) -> float:
        """The value now (:meth:`ReadoutKind.evaluate`)."""
        sel, in_state = selection(spec, model, ctx)
        n = int(sel.sum())
        return float((sel & in_state).sum()) / n if n else float("nan")


READOUT_KINDS.register(FractionReadout(), builtin=True)
