"""The colours of pictures: fields, background, tissue regions, and the cell types and states.

Cell-type and state colours are not listed here: each cell type declares its own
(``colour``, ``state_colours``) with the model, the run file records them (see
:attr:`abm.runfile.RunReader.cell_colours`), and :func:`cell_colors` reads them from there.
A type or state without a declared colour, or a run file written before colours were
recorded, takes the next free colour of a fixed list, so a picture never needs the model.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

__all__ = ["BACKGROUND", "FIELD_CMAP", "ISO_OPACITY", "TISSUE_OPACITY", "TISSUE_PALETTE",
           "cell_colors"]

#: Colormap of the fields (perceptually uniform; dark purple = low, yellow = high).
FIELD_CMAP = "viridis"

#: Background of the render window (dark slate, so translucent tissue and lit spheres show).
BACKGROUND = "#15181e"

#: Translucent surface colour per tissue region name; other regions take
#: :data:`_EXTRA_TISSUE` in label order.
TISSUE_PALETTE: dict[str, str] = {
    "core": "#ff4040",
    "lesion": "#ff6f61",
    "penumbra": "#ffd27f",
    "SVZ": "#7fff7f",
    "svz": "#7fff7f",
    "bone": "#f0f0e0",
    "cortical bone": "#f0f0e0",
    "trabecular bone": "#e0d8c0",
    "marrow": "#c080ff",
    "defect": "#80d0ff",
}

#: Colours of cell types and states that declare none, in order of use.
_EXTRA_COLORS = ["#ffff33", "#a6d854", "#f781bf", "#66c2a5", "#8da0cb", "#e5c494",
                 "#fc8d62", "#b3de69", "#bc80bd", "#ffffff"]
_EXTRA_TISSUE = ["#80d0ff", "#c080ff", "#7fff7f", "#ffd27f", "#ff80c0", "#d0d0d0"]

#: Opacity of tissue-region surfaces and of isosurfaces.
TISSUE_OPACITY = 0.18
ISO_OPACITY = 0.45


def _rgb(color: str) -> np.ndarray:
    """'#rrggbb' -> uint8 (3,)."""
    c = color.lstrip("#")
    return np.array([int(c[k:k + 2], 16) for k in (0, 2, 4)], dtype=np.uint8)


def cell_colors(cell_types: Iterable[str], states: dict[str, list[str]],
                declared: dict[str, dict] | None = None) -> dict:
    """The colour of every cell type and state of a run.

    Parameters
    ----------
    cell_types : iterable of str
        Cell type names in the run's order.
    states : dict of str to list of str
        Cell type -> its states (empty list for types without states).
    declared : dict, optional
        The colours the types declared, as :attr:`abm.runfile.RunReader.cell_colours`
        gives them: ``{type: {"colour": "#rrggbb" or None, "states": {state:
        "#rrggbb"}}}``; missing types, None and missing states mean "not declared".

    Returns
    -------
    dict
        ``{"types": {type: "#rrggbb"}, "states": {type: ["#rrggbb" per state index]}}``.
        A declared colour is used as declared. A type without one takes the next colour of
        a fixed list that no declared type uses, in the order of ``cell_types``, so the
        types of one run are told apart; a state without one takes its type's colour
        (the first state) or the fixed list's colour by state index.
    """
    cell_types = list(cell_types)
    declared = declared or {}
    own = {t: (declared.get(t) or {}).get("colour") for t in cell_types}
    used = {c for c in own.values() if c}
    extra = iter([c for c in _EXTRA_COLORS if c not in used])
    types = {}
    for t in cell_types:
        types[t] = own[t] or next(extra, "#ffffff")
    st = {}
    for t in cell_types:
        per_state = (declared.get(t) or {}).get("states") or {}
        cols = []
        for k, s in enumerate(states.get(t, [])):
            c = per_state.get(s)
            if c is None:
                c = types[t] if k == 0 else _EXTRA_COLORS[(k - 1) % len(_EXTRA_COLORS)]
            cols.append(c)
        st[t] = cols
    return {"types": types, "states": st}
