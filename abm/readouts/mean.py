"""The ``mean`` readout.

``mean <field|tissue state> [in <label>]``: the mean over voxels, in the field's (or the
state's) unit; NaN over no voxel.
"""

from __future__ import annotations

import numpy as np

from ..registry import READOUT_KINDS
from .base import Readout, ReadoutKind
from .voxels import parse_voxel_readout, voxel_values

__all__ = ["MeanReadout"]


class MeanReadout(ReadoutKind):
    """Mean concentration (or tissue state) over the domain or a tissue label."""

    name = "mean"
    grammar = "mean <field|tissue state> [in <label>]"

    def parse(self, text, args, label, ctx) -> Readout:
        """The :class:`Readout` of the string (:meth:`ReadoutKind.parse`)."""
        return parse_voxel_readout(self, text, args, label, ctx)

    def evaluate(self, spec, model, ctx) -> float:
        """The value now (:meth:`ReadoutKind.evaluate`)."""
        vals = voxel_values(spec, model, ctx)
        return float("nan") if vals.size == 0 else float(vals.mean(dtype=np.float64))


READOUT_KINDS.register(MeanReadout(), builtin=True)
