"""The one reader of ``seeds/``: default field and cell parameters with their evidence.

``seeds/fields.csv`` holds one row per field (diffusion, decay, unit, source);
``seeds/cells.csv`` one row per (cell type, parameter) with value, unit and source.
Both are read once and cached.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from .fields import Species

__all__ = ["SEEDS_DIR", "FIELDS_CSV", "CELLS_CSV", "load_field_defaults", "load_cell_defaults"]

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"
FIELDS_CSV = SEEDS_DIR / "fields.csv"
CELLS_CSV = SEEDS_DIR / "cells.csv"


def load_field_defaults(path: Path = FIELDS_CSV) -> dict[str, Species]:
    """Default field parameters (``seeds/fields.csv``) as :class:`~abm.fields.Species`.

    Returns
    -------
    dict
        Field name to Species (diffusion µm²/min, decay 1/min, unit).
    """
    return dict(_field_defaults(Path(path)))


@lru_cache(maxsize=None)
def _field_defaults(path: Path) -> tuple:
    out = []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            out.append((row["field"], Species(row["field"], float(row["diffusion_um2_per_min"]),
                                              float(row["decay_per_min"]), unit=row["unit"])))
    return tuple(out)


def load_cell_defaults(path: Path = CELLS_CSV) -> dict[str, dict[str, float]]:
    """Default parameters per cell type from ``seeds/cells.csv``.

    Returns
    -------
    dict
        Cell type name to ``{parameter: value}`` (units as in the CSV's ``unit`` column:
        µm, min, and each field's concentration unit). A fresh copy each call.
    """
    return {k: dict(v) for k, v in _cell_defaults(Path(path)).items()}


@lru_cache(maxsize=None)
def _cell_defaults(path: Path) -> dict:
    out: dict[str, dict[str, float]] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["cell_type"], {})[row["parameter"]] = float(row["value"])
    return out
