"""Undeclared per-cell attributes: a Python side table beside the population arrays.

A Mesa agent is a Python object and takes any attribute (``agent.energy = 3``);
Mesa's tutorials and tests rely on it. An array-backed cell keeps what its type
declares (its ``variables``, ``state`` and the core columns) in arrays; any other
attribute set on a cell's view goes to a per-cell ``dict`` in a side table of the
model, ``model._cell_attrs``, keyed by the cell's unique id. A cell that never gets
such an attribute costs nothing; the table is Python, for the user's Python code
(``do``, ``map``, ``select``, ``get``, DataCollector reporters), and the whole-population
kernels never read it.

Why this is safe:

* **never another cell's value**: unique ids are never reused, so an entry can only
  ever belong to its own cell; the entry of a cell that dies or is removed is dropped
  (:func:`drop_gone`), and a cell that changes type keeps its id and its entry;
* **declared names stay in the arrays**: a declared variable or ``state`` is always
  read and written in its column;
* **names that would be silently ignored are refused** (:func:`check_name`): a
  parameter of the cell type (``speed``, ``death``, ...: one value per type, read by
  the kernels) and anything the cell class defines (a method, a property such as
  ``alive``, a class attribute) raise one error saying what to do instead. ``age`` is
  the exception: an ``age`` you set is yours and wins over the built-in one (minutes
  since birth), as a declared variable named ``age`` does;
* **a view you hold keeps its attributes when its cell goes**, as a removed Mesa agent
  keeps its own: the entry moves into the view object, which also takes new undeclared
  attributes (its declared columns are gone with the row and raise
  :class:`~abm.cells.types.CellGoneError`).

They are pickled and deep-copied with the model; they are not part of a checkpoint
(:meth:`TissueModel.get_state`: arrays only), and :meth:`TissueModel.set_state` clears
them. For numbers the model should keep in checkpoints, or read in rules, declare a
variable.
"""

from __future__ import annotations

import numpy as np

from kernels.backend import to_numpy

__all__ = ["check_name", "drop_gone", "table"]


def table(model) -> dict[int, dict]:
    """The model's side table (unique id -> that cell's undeclared attributes)."""
    t = model.__dict__.get("_cell_attrs")
    if t is None:
        t = model.__dict__["_cell_attrs"] = {}
    return t


def check_name(cls, model, name: str) -> None:
    """Raise AttributeError when ``name`` may not be a per-cell attribute of ``cls``.

    Refused: names the class defines (methods, properties, class attributes), except
    ``age``; and the parameters of the cell type (one value per type).
    """
    if name != "age" and any(name in k.__dict__ for k in cls.__mro__ if k is not object):
        raise AttributeError(
            f"{name!r} is defined by the {cls.__name__} class (a method, property or class "
            f"attribute), so a {cls.cell_type} cell cannot hold its own {name!r}; use another "
            f"name, or declare it in 'variables' of the cell type")
    if name in _parameter_names(model, cls):
        raise AttributeError(
            f"{name!r} is a parameter of {cls.cell_type} (one value for the whole type, read "
            f"by the kernels), not a per-cell attribute; set it with parameters="
            f"{{{cls.cell_type!r}: {{{name!r}: ...}}}}, or make it a declared variable "
            f"changed by rules")


def _parameter_names(model, cls) -> frozenset:
    cache = model.__dict__.setdefault("_parameter_names", {})
    names = cache.get(cls.cell_type)
    if names is None:
        from .parameters import known_parameters
        names = cache[cls.cell_type] = frozenset(known_parameters(model, cls)) | frozenset(
            model.params.get(cls.cell_type, ()))
    return names


def drop_gone(model) -> None:
    """Drop the entries of cells no longer in the model; a held view keeps its attributes.

    Called wherever cells leave (removal, death, restoring a checkpoint). Costs nothing
    while no cell has an undeclared attribute.
    """
    t = model.__dict__.get("_cell_attrs")
    if not t:
        return
    uids = np.fromiter(t.keys(), np.int64, len(t))
    alive = [to_numpy(p.ids) for p in model.populations.values()]
    gone = uids[~np.isin(uids, np.concatenate(alive) if alive else uids[:0])]
    views = model.__dict__.get("_views")
    for uid in gone.tolist():
        entry = t.pop(uid)
        for cls in model._type_list:
            view = views.get((cls.cell_type, uid)) if views is not None else None
            if view is not None:
                view.__dict__.update(entry)
