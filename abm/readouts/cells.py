"""What the cell readouts share.

The cells of a type, optionally in a tissue label and a
state.
"""

from __future__ import annotations

import numpy as np

from kernels.backend import to_numpy

from ..scenario.problems import Bad, choices, did_you_mean

__all__ = ["check_type_state", "selection"]


def check_type_state(text, ct, state, ctx) -> None:
    """Raise :class:`Bad` unless ``ct`` is a cell type of the scenario with state ``state``."""
    if ct not in ctx.types:
        raise Bad(f"readout '{text}': unknown cell type '{ct}'{did_you_mean(ct, ctx.types)}; "
                  f"the scenario has {choices(ctx.types)}")
    if state is not None and state not in ctx.types[ct]:
        raise Bad(f"readout '{text}': {ct} has no state '{state}'"
                  f"{did_you_mean(state, ctx.types[ct])}; states: {choices(ctx.types[ct])}")


def selection(spec, model, ctx):
    """``(in label, in state)`` boolean arrays over the rows of ``spec.cell_type``."""
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
    return sel, in_state
