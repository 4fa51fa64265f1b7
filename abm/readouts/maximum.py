"""The ``max`` readout.

``max <field|tissue state> [in <label>]``: the largest voxel value, in the field's (or
the state's) unit; NaN over no voxel.
"""

from __future__ import annotations

from ..registry import READOUT_KINDS
from .base import Readout, ReadoutKind
from .voxels import parse_voxel_readout, voxel_values

__all__ = ["MaxReadout"]


class MaxReadout(ReadoutKind):
    """Peak concentration (or tissue state) over the domain or a tissue label."""

    name = "max"
    grammar = "max <field|tissue state> [in <label>]"

    def parse(self, text, args, label, ctx) -> Readout:
        """The :class:`Readout` of the string (:meth:`ReadoutKind.parse`)."""
        return parse_voxel_readout(self, text, args, label, ctx)

    def evaluate(self, spec, model, ctx) -> float:
        """The value now (:meth:`ReadoutKind.evaluate`)."""
        vals = voxel_values(spec, model, ctx)
        return float("nan") if vals.size == 0 else float(vals.max())


READOUT_KINDS.register(MaxReadout(), builtin=True)
