"""The ``mean`` readout.

``mean <field|tissue state> [in <label>]``: the mean over voxels, in the field's (or the
state's) unit; NaN over no voxel.

``mean <type> <variable> [in <label>]``: the mean of a phenotype variable over the living
cells of a type (e.g. ``mean Astrocyte reactivity in penumbra``), unit 1 (variables are
dimensionless); NaN with no such cell.
"""

from __future__ import annotations

import numpy as np

from kernels.backend import to_numpy

from ..registry import READOUT_KINDS
from ..scenario.problems import Bad
from .base import Readout, ReadoutKind
from .cells import check_type_state, check_variable, selection
from .voxels import parse_voxel_readout, voxel_values

__all__ = ["MeanReadout"]


class MeanReadout(ReadoutKind):
    """Mean concentration (or tissue state) over voxels, or mean cell variable over cells."""

    name = "mean"
    grammar = "mean <field|tissue state> [in <label>]', 'mean <type> <variable> [in <label>]"

    def parse(self, text, args, label, ctx) -> Readout:
        """The :class:`Readout` of the string (:meth:`ReadoutKind.parse`)."""
        if len(args) == 2 and args[0] not in ctx.field_units and args[0] not in ctx.tissue_states:
            check_type_state(text, args[0], None, ctx)
            check_variable(text, args[0], args[1], ctx)
            return Readout(text, "mean", cell_type=args[0], variable=args[1], label=label,
                           unit="1")
        if len(args) == 1 and args[0] in ctx.types and args[0] not in ctx.field_units:
            have = ctx.variables.get(args[0], ())
            hint = (f"name one of its variables: 'mean {args[0]} {have[0]}'" if have
                    else f"{args[0]} has no phenotype variables")
            raise Bad(f"readout '{text}': '{args[0]}' is a cell type; {hint}")
        return parse_voxel_readout(self, text, args, label, ctx)

    def evaluate(self, spec, model, ctx) -> float:
        """The value now (:meth:`ReadoutKind.evaluate`)."""
        if spec.variable is not None:
            sel, _ = selection(spec, model, ctx)
            vals = np.asarray(to_numpy(model.populations[spec.cell_type].columns[spec.variable]))
            vals = vals[sel]
            return float("nan") if vals.size == 0 else float(vals.mean(dtype=np.float64))
        vals = voxel_values(spec, model, ctx)
        return float("nan") if vals.size == 0 else float(vals.mean(dtype=np.float64))


READOUT_KINDS.register(MeanReadout(), builtin=True)
