"""The one reader of ``seeds/``: default field and cell parameters with their evidence.

``seeds/fields.csv`` holds one row per field (diffusion, decay, unit, source);
``seeds/cells.csv`` one row per (cell type, parameter) with value, unit and source;
``seeds/brain.csv`` the measured brain quantities the defaults are derived from;
``seeds/references.csv`` the papers and seed documents the rows cite by key;
``seeds/rules/`` the signal → behaviour tables of each cell type (a scenario names
one as ``rules: seeds:rules/microglia.csv``). All are read once and cached.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from .fields import Species

__all__ = ["SEEDS_DIR", "FIELDS_CSV", "CELLS_CSV", "BRAIN_CSV", "REFERENCES_CSV", "RULES_DIR",
           "PROCESSES_CSV", "load_field_defaults", "load_cell_defaults", "load_brain_evidence",
           "load_process_defaults", "load_references", "rules_table"]

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"
FIELDS_CSV = SEEDS_DIR / "fields.csv"
CELLS_CSV = SEEDS_DIR / "cells.csv"
BRAIN_CSV = SEEDS_DIR / "brain.csv"
PROCESSES_CSV = SEEDS_DIR / "processes.csv"
REFERENCES_CSV = SEEDS_DIR / "references.csv"
RULES_DIR = SEEDS_DIR / "rules"


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


def load_brain_evidence(path: Path = BRAIN_CSV) -> dict[str, tuple[float, str]]:
    """Measured (or estimated) brain quantities from ``seeds/brain.csv``.

    Returns
    -------
    dict
        Quantity name to ``(value, unit)``, e.g. ``"ecs_tortuosity_normal": (1.6, "1")``.
    """
    return dict(_brain(Path(path)))


@lru_cache(maxsize=None)
def _brain(path: Path) -> tuple:
    with open(path, newline="") as fh:
        return tuple((r["quantity"], (float(r["value"]), r["unit"])) for r in csv.DictReader(fh))


def load_process_defaults(path: Path = PROCESSES_CSV) -> dict[str, dict[str, float]]:
    """Default parameters of tissue processes (``seeds/processes.csv``).

    Returns
    -------
    dict
        Process name to ``{parameter: value}`` in internal units (1/min, ng/mL, 1).
    """
    out: dict[str, dict[str, float]] = {}
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            out.setdefault(r["process"], {})[r["parameter"]] = float(r["value"])
    return out


def load_references(path: Path = REFERENCES_CSV) -> dict[str, dict[str, str]]:
    """The references table (``seeds/references.csv``): key to its row (authors, year, ...)."""
    with open(path, newline="") as fh:
        return {r["key"]: dict(r) for r in csv.DictReader(fh)}


def rules_table(name: str) -> Path:
    """Path of a shipped rules table, ``seeds/rules/<name>.csv`` (e.g. ``"microglia"``).

    Raises
    ------
    FileNotFoundError
        No such table; the message lists the shipped ones.
    """
    p = RULES_DIR / f"{name}.csv"
    if not p.is_file():
        have = sorted(q.stem for q in RULES_DIR.glob("*.csv"))
        raise FileNotFoundError(f"no rules table seeds/rules/{name}.csv; shipped: {have}")
    return p
