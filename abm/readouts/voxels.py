"""What the voxel readouts share.

``mean`` and ``max`` read a field or a tissue state, over every
voxel or those of one tissue label.
"""

from __future__ import annotations

from ..scenario.problems import Bad, choices, did_you_mean
from .base import Readout

__all__ = ["parse_voxel_readout", "voxel_values"]


def parse_voxel_readout(kind, text, args, label, ctx) -> Readout:
    """A voxel readout string as a :class:`Readout`.

    ``<kind> <field|tissue state> [in <label>]`` as a :class:`Readout` (a field wins over
    a tissue state of the same name).
    """
    kind.arity(text, args, 1, 1)
    name = args[0]
    if name in ctx.field_units:
        return Readout(text, kind.name, field=name, label=label, unit=ctx.field_units[name])
    if name in ctx.tissue_states:
        return Readout(text, kind.name, label=label, unit=str(ctx.tissue_states[name]),
                       tissue_state=name)
    known = list(ctx.field_units) + list(ctx.tissue_states)
    if not ctx.tissue_states:
        raise Bad(f"readout '{text}': unknown field '{name}'{did_you_mean(name, known)}; "
                  f"fields: {choices(known)}")
    raise Bad(f"readout '{text}': unknown field or tissue state '{name}'"
              f"{did_you_mean(name, known)}; fields and tissue states: {choices(known)}")


def voxel_values(spec, model, ctx):
    """The values of ``spec``'s field or tissue state on its voxels (an array on the backend)."""
    if spec.tissue_state is not None:
        v = model.tissue_states[spec.tissue_state]
        if spec.label is None:
            return v
        m = model.xp.asarray((ctx.labels() == model.tissue_names.index(spec.label)).reshape(-1))
        return v[m]
    f = model.fields.field(spec.field)
    if spec.label is not None:
        m = model.xp.asarray(ctx.labels() == model.tissue_names.index(spec.label))
        return f[m]
    return f
