"""What the cell readouts share.

The cells of a type, optionally in a tissue label, a state and
carrying a marker; checks of the names a cell readout uses.
"""

from __future__ import annotations

import numpy as np

from kernels.backend import to_numpy

from ..cells.markers import marker_column
from ..scenario.problems import Bad, choices, did_you_mean

__all__ = ["check_type_state", "check_variable", "check_marker", "split_marked", "exact_arity",
           "selection"]


def exact_arity(kind, text, args, lo, hi) -> None:
    """Raise :class:`Bad` unless ``lo <= len(args) <= hi``, quoting this kind's grammar."""
    if not lo <= len(args) <= hi:
        raise Bad(f"cannot read readout '{text}'; write '{kind.grammar}'")


def check_type_state(text, ct, state, ctx) -> None:
    """Raise :class:`Bad` unless ``ct`` is a cell type of the scenario with state ``state``."""
    if ct not in ctx.types:
        raise Bad(f"readout '{text}': unknown cell type '{ct}'{did_you_mean(ct, ctx.types)}; "
                  f"the scenario has {choices(ctx.types)}")
    if state is not None and state not in ctx.types[ct]:
        if not ctx.types[ct]:
            raise Bad(f"readout '{text}': {ct} has no phenotype states, so '{state}' cannot "
                      f"follow it")
        raise Bad(f"readout '{text}': {ct} has no state '{state}'"
                  f"{did_you_mean(state, ctx.types[ct])}; states: {choices(ctx.types[ct])}")


def check_variable(text, ct, var, ctx) -> None:
    """Raise :class:`Bad` unless ``var`` is a phenotype variable of cell type ``ct``."""
    have = tuple(ctx.variables.get(ct, ()))
    if var not in have:
        if not have:
            raise Bad(f"readout '{text}': {ct} has no phenotype variable '{var}' (it has none)")
        raise Bad(f"readout '{text}': {ct} has no variable '{var}'{did_you_mean(var, have)}; "
                  f"variables: {choices(have)}")


def check_marker(text, marker, ctx) -> None:
    """Raise :class:`Bad` unless a pulse of the scenario declares ``marker``."""
    if marker in ctx.markers:
        return
    if not ctx.markers:
        raise Bad(f"readout '{text}': no pulse declares the marker '{marker}'; add an event "
                  f"such as '- {{at: 3 d, pulse: {{marker: {marker}, duration: 2 h}}}}'")
    raise Bad(f"readout '{text}': no pulse declares the marker '{marker}'"
              f"{did_you_mean(marker, ctx.markers)}; markers: {choices(ctx.markers)}")


def split_marked(kind, text, args, ctx) -> tuple[list, str | None]:
    """``args`` without a trailing ``marked <marker>``, and the marker (checked) or None."""
    if "marked" not in args:
        return args, None
    i = args.index("marked")
    if i != len(args) - 2:
        raise Bad(f"readout '{text}': 'marked' takes one marker name and comes after the type "
                  f"and state; write '{kind.grammar}'")
    check_marker(text, args[i + 1], ctx)
    return args[:i], args[i + 1]


def selection(spec, model, ctx):
    """``(in label, in state)`` boolean arrays over the rows of ``spec.cell_type``.

    A spec with a ``marker`` keeps only marked cells in the second array (none before the
    marker's first pulse).
    """
    pop = model.populations[spec.cell_type]
    sel = np.ones(len(pop), bool)
    if spec.label is not None:
        labels = ctx.labels()
        pos = np.asarray(to_numpy(pop.pos))
        idx = model.tissue_names.index(spec.label)
        sel &= labels[pos[:, 0], pos[:, 1], pos[:, 2]] == idx
    if spec.state is not None:
        st = np.asarray(to_numpy(pop.columns["state"]))
        in_state = st == pop.states.index(spec.state)
    else:
        in_state = np.ones(len(pop), bool)
    marker = getattr(spec, "marker", None)
    if marker is not None:
        col = pop.columns.get(marker_column(marker))
        in_state = in_state & (np.asarray(to_numpy(col), bool) if col is not None
                               else np.zeros(len(pop), bool))
    return sel, in_state
