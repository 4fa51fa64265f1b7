"""The route parameters of ``seeds/delivery.csv``, read once, in internal units.

Each row is ``parameter,value,unit,status,evidence_or_reasoning`` (the columns of
``seeds/cells.csv``). Volumes are converted to µm³, times to minutes; fractions stay
plain numbers; ``particles/ug`` stays particles per µg of vesicle protein.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ... import units as U
from ...errors import ModelInputError

__all__ = ["DELIVERY_CSV", "DeliveryParameter", "delivery_parameters", "parameter"]

DELIVERY_CSV = Path(__file__).resolve().parents[3] / "seeds" / "delivery.csv"

_INTERNAL = {"mm^3": ("mm**3", "um**3"), "h": ("h", "min"), "1": None, "particles/ug": None,
             "d": ("d", "min"), "nM": None}


@dataclass(frozen=True)
class DeliveryParameter:
    """One row of ``seeds/delivery.csv``.

    Attributes
    ----------
    name : str
    value : float
        In internal units (µm³, min, or the row's own unit for fractions and ratios).
    unit : str
        The unit as written in the file.
    status : {"cited", "estimate"}
    evidence : str
    """

    name: str
    value: float
    unit: str
    status: str
    evidence: str


@lru_cache(maxsize=4)
def delivery_parameters(path: Path = DELIVERY_CSV) -> dict:
    """All rows of the route table, by parameter name (cached).

    Raises
    ------
    ModelInputError
        A row with an unknown unit, a bad status or a value that is not a number.
    """
    out = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for k, row in enumerate(csv.DictReader(fh), start=2):
            unit = row["unit"].strip()
            if unit not in _INTERNAL:
                raise ModelInputError(f"{path}:{k}: unit '{unit}' is not one of "
                                      f"{', '.join(_INTERNAL)}")
            if row["status"] not in ("cited", "estimate"):
                raise ModelInputError(f"{path}:{k}: status must be cited or estimate")
            try:
                v = float(row["value"])
            except ValueError:
                raise ModelInputError(f"{path}:{k}: value '{row['value']}' is not a number") \
                    from None
            conv = _INTERNAL[unit]
            if conv is not None:
                v = float(U.Q_(v, conv[0]).to(conv[1]).magnitude)
            out[row["parameter"]] = DeliveryParameter(row["parameter"], v, unit, row["status"],
                                                      row["evidence_or_reasoning"])
    return out


def parameter(name: str) -> float:
    """The value of route parameter ``name`` in internal units."""
    return delivery_parameters()[name].value
