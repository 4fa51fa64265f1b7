"""Cell types declared as data (a scenario file's ``cell_types`` section).

As PhysiCell users declare them in XML, each is a new :class:`~abm.cells.types.LatticeCell`
subclass made from names and numbers, optionally extending a built-in or registered type.
"""

from __future__ import annotations

import re

from ..errors import ModelInputError
from .types import LatticeCell

__all__ = ["declare_cell_type"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def declare_cell_type(name: str, *, extends: type | None = None, states=None, variables=None,
                      chemotaxis_field=None, chemotaxis_receptor=None, parameters=None,
                      colour=None, state_colours=None, doc: str = "") -> type:
    """Make a cell type from a declaration.

    Parameters
    ----------
    name : str
        Cell type name (letters, digits, ``_``; starts with a letter).
    extends : LatticeCell subclass, optional
        Type whose structure, parameters (its ``seeds/cells.csv`` defaults included)
        and colours the new type keeps, unless given here.
    states : sequence of str, optional
        Discrete phenotype states (new cells start in the first).
    variables : sequence of str, optional
        Continuous phenotype variables in [0, 1] (initial values are the
        ``initial:<variable>`` parameters).
    chemotaxis_field, chemotaxis_receptor : str, optional
        Field whose gradient the cells climb, and the variable that scales the drift.
    parameters : dict, optional
        Parameter values in internal units (µm, min, field units).
    colour : str, optional
        ``"#rrggbb"`` display colour.
    state_colours : dict, optional
        ``"#rrggbb"`` per state.
    doc : str
        Description (becomes the class docstring).

    Returns
    -------
    type
        A new LatticeCell subclass (not registered: it belongs to its scenario).

    Raises
    ------
    ModelInputError
        A malformed name, a duplicate state or variable, a receptor that is not a
        variable, or a bad colour.
    """
    base = extends or LatticeCell
    if not (isinstance(base, type) and issubclass(base, LatticeCell)):
        raise ModelInputError(f"cell type {name!r} extends {base!r}, which is not a cell type")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ModelInputError(f"cell type name {name!r} must start with a letter and hold only "
                              f"letters, digits and '_'")
    states = tuple(base.states if states is None else states)
    variables = tuple(base.variables if variables is None else variables)
    for what, seq in (("state", states), ("variable", variables)):
        dup = sorted({s for s in seq if list(seq).count(s) > 1})
        if dup:
            raise ModelInputError(f"cell type {name!r}: {what} {dup[0]!r} is declared twice")
    field = base.chemotaxis_field if chemotaxis_field is None else chemotaxis_field
    receptor = base.chemotaxis_receptor if chemotaxis_receptor is None else chemotaxis_receptor
    if receptor and receptor not in variables:
        raise ModelInputError(f"cell type {name!r}: chemotaxis receptor {receptor!r} must be one "
                              f"of its variables {list(variables)}")
    if receptor and not field:
        raise ModelInputError(f"cell type {name!r}: a chemotaxis receptor needs a chemotaxis field")
    colours = dict(base.state_colours)
    colours.update(state_colours or {})
    colours = {s: c for s, c in colours.items() if s in states}
    for c in [colour, *colours.values()]:
        if c is not None and not (isinstance(c, str) and _COLOUR.match(c)):
            raise ModelInputError(f"cell type {name!r}: colour {c!r} must be '#rrggbb'")
    unknown = set(state_colours or {}) - set(states)
    if unknown:
        raise ModelInputError(f"cell type {name!r}: colour given for unknown state "
                              f"{sorted(unknown)[0]!r}; states: {list(states)}")
    # the extended type's defaults (its seeds rows and class parameters) carry over
    params = base.default_parameters() if extends is not None else {}
    params.update(parameters or {})
    attrs = {"cell_type": name, "states": states, "variables": variables,
             "chemotaxis_field": field or None, "chemotaxis_receptor": receptor or None,
             "parameters": params, "colour": colour or base.colour, "state_colours": colours,
             "__doc__": doc or f"Cell type {name} declared in a scenario file"
                               + (f" (extends {base.cell_type})" if extends is not None else "")
                               + ".",
             "__module__": "abm.cells.declared"}
    return type(name, (base,), attrs)
