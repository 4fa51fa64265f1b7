"""The unit of every parameter, behaviour and signal name.

The unit of everything a cell type's parameters, rules and signals name: one catalogue
of parameter names with their kinds (:class:`abm.units.Kind`: dimension and internal
unit), used to convert scenario values once at the boundary.

=========================================  ==================================
name                                       kind
=========================================  ==================================
``speed``                                  µm/min
``chemotaxis``                             µm²/min
``persistence``                            min
``division``, ``death``                    1/min
``secretion:F``, ``uptake:F``              1/min
``differentiation:X``, ``transition:A->B`` 1/min
``gain:V``, ``loss:V``                     1/min
``initial:V``                              dimensionless (0–1)
``target:F``                               F's concentration unit
``release:F``                              F's amount per min
``death_release:F``                        F's amount
``chemotaxis_half_saturation``             the chemotaxis field's unit
=========================================  ==================================

Signals (a rule's ``half_max``): a field in its unit; ``age``, ``time`` and
``time_since:*`` in min; ``tissue_state:<s>`` in the state's unit (a plain number);
everything else dimensionless.
"""

from __future__ import annotations

from .. import units as U
from ..errors import ModelInputError
from .catalogue import TIME_SIGNALS

__all__ = ["PARAMETER_KINDS", "PREFIX_KINDS", "FIELD_PREFIXES", "parameter_kind", "signal_kind"]

#: Parameters named by themselves.
PARAMETER_KINDS = {"speed": U.SPEED, "chemotaxis": U.CHEMOTAXIS, "persistence": U.TIME,
                   "division": U.RATE, "death": U.RATE}
#: Parameters ``<prefix>:<name>`` whose kind does not depend on the name.
PREFIX_KINDS = {"secretion": U.RATE, "uptake": U.RATE, "differentiation": U.RATE,
                "transition": U.RATE, "gain": U.RATE, "loss": U.RATE,
                "initial": U.DIMENSIONLESS}
#: Parameters ``<prefix>:<field>`` whose kind follows the field's unit.
FIELD_PREFIXES = {"target": U.concentration_kind, "release": U.amount_rate_kind,
                  "death_release": U.amount_kind}


def parameter_kind(name: str, cell_type, field_units: dict) -> U.Kind:
    """The kind (dimension, internal unit) of a parameter or behaviour.

    Parameters
    ----------
    name : str
        E.g. ``"speed"``, ``"secretion:VEGF"``, ``"target:VEGF"``.
    cell_type : str or LatticeCell subclass
        The cell type (its class is needed for ``chemotaxis_half_saturation``; a name is
        looked up in :data:`abm.registry.CELL_TYPES`).
    field_units : dict
        Field name to its concentration unit.

    Raises
    ------
    ModelInputError
        No unit is known for ``name``, or the chemotaxis field is not declared.
    """
    head, _, tail = name.partition(":")
    if name in PARAMETER_KINDS:
        return PARAMETER_KINDS[name]
    if head in PREFIX_KINDS:
        return PREFIX_KINDS[head]
    if name == "chemotaxis_half_saturation":
        cls = cell_type
        if isinstance(cell_type, str):
            from ..registry import CELL_TYPES  # noqa: PLC0415

            cls = CELL_TYPES.get(cell_type)
        f = cls.chemotaxis_field
        if f not in field_units:
            raise ModelInputError(f"{cls.cell_type} chemotaxes on {f!r}, which is not a declared "
                                  f"field; add the field to 'fields'")
        return U.concentration_kind(f, field_units[f])
    if tail in field_units and head in FIELD_PREFIXES:
        return FIELD_PREFIXES[head](tail, field_units[tail])
    raise ModelInputError(f"no unit known for {name!r}")


def signal_kind(signal: str, field_units: dict, state_units: dict | None = None) -> U.Kind:
    """The kind of a signal (the unit of a rule's ``half_max``).

    Parameters
    ----------
    signal : str
    field_units : dict
        Field name to its concentration unit.
    state_units : dict, optional
        Tissue state name to its unit label (``tissue_state:<name>`` signals; read as a
        plain number in that unit).
    """
    if signal in field_units:
        return U.concentration_kind(signal, field_units[signal])
    if signal in TIME_SIGNALS:
        return U.TIME
    return U.DIMENSIONLESS
