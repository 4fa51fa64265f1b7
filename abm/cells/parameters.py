"""A model's cell types and their parameters.

The classes a model is given, the seed defaults each keeps, the user's overrides,
and their checks (a :class:`abm.cells.TissueModel` builds them once).
"""

from __future__ import annotations

import math

from .. import rules as R_
from ..errors import ModelInputError
from ..registry import CELL_TYPES
from .types import LatticeCell

__all__ = ["cell_classes", "known_parameters", "resolve_parameters", "type_parameters"]


def cell_classes(cell_types) -> dict[str, type]:
    """Cell type name to class, in the given order.

    The default is the built-in types, ``abm.registry.CELL_TYPES.builtin_names()``.
    Anything but :class:`LatticeCell` subclasses, and a type given twice, are refused.
    """
    if cell_types is None:
        cell_types = [CELL_TYPES.get(n) for n in CELL_TYPES.builtin_names()]
    out: dict[str, type] = {}
    for cls in cell_types:
        if not (isinstance(cls, type) and issubclass(cls, LatticeCell)):
            raise ModelInputError(f"cell types must be LatticeCell subclasses, got {cls!r}")
        if cls.cell_type in out:
            raise ModelInputError(f"cell type {cls.cell_type!r} given twice")
        out[cls.cell_type] = cls
    return out


def known_parameters(model, cls) -> set[str]:
    """Parameter names cell class ``cls`` accepts in ``model``.

    See :func:`abm.rules.known_parameters`.
    """
    return R_.known_parameters(cls, model.cell_classes, [sp.name for sp in model.fields.species])


def resolve_parameters(model, parameters: dict) -> dict[str, dict[str, float]]:
    """The parameters of every cell type of ``model`` (``model.cell_classes``).

    From the overrides ``{cell type: {parameter: value}}`` (internal units); see
    :func:`type_parameters`. Overrides for a type the model lacks are refused.
    """
    for name in parameters:
        if name not in model.cell_classes:
            raise ModelInputError(f"parameters given for unknown cell type {name!r}; "
                                  f"the model has {sorted(model.cell_classes)}")
    return {name: type_parameters(model, cls, parameters.get(name, {}))
            for name, cls in model.cell_classes.items()}


def type_parameters(model, cls, overrides: dict) -> dict[str, float]:
    """The parameters of cell class ``cls`` in ``model`` (internal units).

    The class's defaults for behaviours this model knows (seed defaults for fields the
    model lacks are dropped), updated by ``overrides`` (checked strictly), then
    checked: every name known, every value finite and >= 0, a secretion has its
    target, chemotaxis has its field; ``speed``, ``persistence`` and, for a type that
    chemotaxes, ``chemotaxis`` and ``chemotaxis_half_saturation`` get their defaults.
    """
    name = cls.cell_type
    known = known_parameters(model, cls)
    p = {k: v for k, v in cls.default_parameters().items() if k in known
         and not (k == "chemotaxis" and not model.chemotaxis_field[name])}
    p.update(overrides)
    _check(model, cls, p, known)
    return p


def _check(model, cls, p: dict, known: set[str]) -> None:
    for k, v in p.items():
        if k not in known:
            raise ModelInputError(
                f"{cls.cell_type}: unknown parameter {k!r}; known: {', '.join(sorted(known))}")
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise ModelInputError(f"{cls.cell_type}: parameter {k} must be a finite number "
                                  f">= 0, got {v!r}")
    for sp in model.fields.species:
        if p.get(f"secretion:{sp.name}", 0) > 0 and f"target:{sp.name}" not in p:
            raise ModelInputError(f"{cls.cell_type}: secretion:{sp.name} needs a "
                                  f"target:{sp.name} (saturation concentration, {sp.unit})")
    if cls.chemotaxis_field and not model.chemotaxis_field[cls.cell_type] \
            and p.get("chemotaxis", 0) > 0:
        raise ModelInputError(
            f"{cls.cell_type} chemotaxes on {cls.chemotaxis_field!r}, which is not a field of "
            f"this model; add the field or set its chemotaxis to 0")
    if model.chemotaxis_field[cls.cell_type]:
        p.setdefault("chemotaxis", 0.0)
        p.setdefault("chemotaxis_half_saturation", 1.0)
        if p["chemotaxis_half_saturation"] <= 0:
            raise ModelInputError(f"{cls.cell_type}: chemotaxis_half_saturation must be > 0")
    p.setdefault("speed", 0.0)
    p.setdefault("persistence", 0.0)
