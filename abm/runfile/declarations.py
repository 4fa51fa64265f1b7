"""What a run file declares about its contents: cell types and tissue states.

Written once at creation: the cell types (``/cell_types/<type>``: states, variables and
display colours) and the tissue states (``/tissue/state_units``: name -> unit; their order
in the ``/snapshots`` attribute ``tissue_state_names``).

Display colours are how a viewer tells the types and states apart without importing the
model: each cell type declares them (``colour``, ``state_colours`` class attributes) and
the run file carries them. A type or state without a declared colour has no attribute (or
an empty string in ``state_colours``); files written before colours were recorded have
none, and read the same way.
"""

from __future__ import annotations

import re

import h5py
import numpy as np

from .encoding import _attrs_dict, _decode_attr, _encode_list, _esc, _unesc

__all__: list[str] = []        # package-internal helpers

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_STATE_UNITS = "tissue/state_units"      # group whose attributes are tissue state -> unit
_STATE_NAMES = "tissue_state_names"      # attribute of /snapshots: declared order


def _check_colour(c, where: str) -> str:
    """``c`` if it is a ``"#rrggbb"`` string, else ValueError naming ``where``."""
    if not isinstance(c, str) or _COLOUR.fullmatch(c) is None:
        raise ValueError(f"{where}: colour {c!r} must be a '#rrggbb' string (e.g. '#e7298a') "
                         "or None")
    return c


def _cell_type_attrs(cell_types: dict[str, dict]) -> dict[str, dict]:
    """The attributes of each ``/cell_types/<type>`` group, checked before anything is written.

    A spec ``{"states", "variables", "colour", "state_colours"}`` (every key optional)
    gives: ``states`` and ``variables`` as list attributes; ``colour`` (``"#rrggbb"``; None
    or missing: no attribute); ``state_colours`` (state -> ``"#rrggbb"``) as the list
    attribute ``state_colours`` aligned with ``states``, ``""`` for a state without a colour
    (no attribute when no state has one).

    Raises
    ------
    ValueError
        A colour that is not ``"#rrggbb"``, or a state colour for a state the type does not
        list.
    """
    out = {}
    for name, spec in cell_types.items():
        spec = spec or {}
        states = list(spec.get("states", []))
        attrs = {"states": _encode_list(states, name),
                 "variables": _encode_list(list(spec.get("variables", [])), name)}
        colour = spec.get("colour")
        if colour is not None:
            attrs["colour"] = _check_colour(colour, f"cell type {name!r}")
        state_colours = dict(spec.get("state_colours") or {})
        unknown = [s for s in state_colours if s not in states]
        if unknown:
            raise ValueError(f"cell type {name!r}: colour given for state(s) {unknown} it does "
                             f"not have; its states: {states or 'none'}")
        if any(c is not None for c in state_colours.values()):
            cols = [_check_colour(state_colours[s], f"cell type {name!r} state {s!r}")
                    if state_colours.get(s) is not None else "" for s in states]
            attrs["state_colours"] = _encode_list(cols, name)
        out[name] = attrs
    return out


def _write_cell_types(group: h5py.Group, attrs: dict[str, dict]) -> None:
    """Create one group per cell type with the attributes of :func:`_cell_type_attrs`."""
    for name, a in attrs.items():
        g = group.create_group(_esc(name))
        for k, v in a.items():
            g.attrs[k] = v


def _states_of(g: h5py.Group) -> list[str]:
    v = _decode_attr(g.attrs["states"]) if "states" in g.attrs else []
    return [str(x) for x in np.atleast_1d(v) if str(x)] if v is not None else []


def _read_cell_types(f: h5py.File) -> tuple[list[str], dict, dict]:
    """``(names, states, colours)`` of the cell types of an open run file.

    ``states``: type -> list of state names; ``colours``: type -> ``{"colour": str | None,
    "states": {state: str}}`` with only the declared colours (empty for old files).
    """
    if "cell_types" not in f:
        return [], {}, {}
    names, states, colours = [], {}, {}
    for k, g in f["cell_types"].items():
        t = _unesc(k)
        names.append(t)
        states[t] = _states_of(g)
        colour = _decode_attr(g.attrs["colour"]) if "colour" in g.attrs else None
        per = _decode_attr(g.attrs["state_colours"]) if "state_colours" in g.attrs else []
        per = [str(c) for c in np.atleast_1d(per)] if per is not None else []
        colours[t] = {"colour": str(colour) if colour else None,
                      "states": {s: c for s, c in zip(states[t], per) if c}}
    return names, states, colours


def _write_tissue_state_units(f: h5py.File, units: dict[str, str]) -> None:
    """Create ``/tissue/state_units`` and the ordered name list on ``/snapshots``."""
    g = f.require_group(_STATE_UNITS)
    for k, v in units.items():
        g.attrs[_esc(k)] = str(v)
    f["snapshots"].attrs[_STATE_NAMES] = _encode_list(list(units), "tissue_state_units")


def _read_tissue_state_units(f: h5py.File) -> dict[str, str]:
    """Tissue state -> unit, in declared order (empty for files without tissue states)."""
    units = _attrs_dict(f[_STATE_UNITS]) if _STATE_UNITS in f else {}
    sn = f["snapshots"] if "snapshots" in f else None
    order = (list(_decode_attr(sn.attrs[_STATE_NAMES]))
             if sn is not None and _STATE_NAMES in sn.attrs else [])
    out = {n: str(units.get(n, "")) for n in order}
    out.update({n: str(u) for n, u in units.items() if n not in out})
    return out
