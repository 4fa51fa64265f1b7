"""The ``total`` readout.

``total <field>``: a field's amount over the domain, in a readable unit (pg for mass
concentrations, amol for molar ones, particles for number densities).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..registry import READOUT_KINDS
from ..scenario.problems import Bad, choices, did_you_mean
from .base import Readout, ReadoutKind

__all__ = ["TotalReadout", "total_unit"]

#: Readable units for a field's total amount, by the dimension of (field unit × µm³).
_AMOUNT_UNITS = {"[mass]": "pg", "[substance]": "amol", "": "particles"}


@lru_cache(maxsize=None)
def total_unit(field_unit: str) -> tuple[float, str]:
    """Factor and unit that express a total amount (field unit × µm³) readably.

    ``ng/mL`` totals in pg, molar totals in amol, number densities
    (``1e9 particles/mL``) in particles; anything else stays ``<unit>*um^3``.

    Returns
    -------
    (float, str)
        Multiply the internal amount by the factor to get the unit.
    """
    from ..units import ureg  # noqa: PLC0415

    try:
        q = (ureg(field_unit) * ureg.um**3)
        dim = str(q.dimensionality) if not q.dimensionless else ""
        if dim in _AMOUNT_UNITS:
            target = _AMOUNT_UNITS[dim]
            unit = "" if target == "particles" else target
            return float(q.to(unit or "dimensionless").magnitude), target
    except Exception:  # noqa: BLE001 - an unusual unit keeps its raw form
        pass
    return 1.0, f"{field_unit}*um^3"


def _field_unit(spec, model) -> str:
    return model.fields.species[model.fields.index(spec.field)].unit


class TotalReadout(ReadoutKind):
    """A field's amount summed over the domain."""

    name = "total"
    grammar = "total <field>"
    takes_label = False

    def parse(self, text, args, label, ctx) -> Readout:
        """The :class:`Readout` of the string (:meth:`ReadoutKind.parse`)."""
        self.arity(text, args, 1, 1)
        f = args[0]
        if f not in ctx.field_units:
            raise Bad(f"readout '{text}': unknown field '{f}'{did_you_mean(f, ctx.field_units)}; "
                      f"fields: {choices(ctx.field_units)}")
        return Readout(text, "total", field=f, label=label, unit=ctx.field_units[f] + "*um^3")

    def unit(self, spec, model) -> str:
        """The readable unit of the total (pg, amol or particles)."""
        return total_unit(_field_unit(spec, model))[1]

    def evaluate(self, spec, model, ctx) -> float:
        """The value now (:meth:`ReadoutKind.evaluate`)."""
        f = model.fields.field(spec.field)
        factor = total_unit(_field_unit(spec, model))[0]
        return float(f.sum(dtype=np.float64)) * model.fields.voxel_volume * factor


READOUT_KINDS.register(TotalReadout(), builtin=True)
