"""Default dimensions of the bone geometries, read from ``seeds/anatomy.csv``.

Each row of the table is ``preset, parameter, value, unit, status, evidence_or_reasoning``.
The bone presets are

``rat_tibia``
    the proximal tibial metaphysis of an adult female rat: the periosteal semi-axes of its
    cross-section, the cortical thickness, the trabecular bone volume fraction and the
    smoothing length of the random field that makes the trabecular network;
``rat_tibia_sham``
    the published ranges of sham micro-CT morphometry the generated bone is tested against
    (``*_low``, ``*_high``);
``rat_calvaria``
    the critical-size calvarial defect: its diameter and the thickness of the parietal
    plate.

Lengths are in µm, fractions are plain numbers, Tb.N is in 1/mm. The table is read once and
cached.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from ....errors import ModelInputError
from ....seeds import SEEDS_DIR

__all__ = ["ANATOMY_CSV", "BONE_PRESETS", "bone_preset"]

ANATOMY_CSV = SEEDS_DIR / "anatomy.csv"

#: The presets this package reads.
BONE_PRESETS = ("rat_tibia", "rat_tibia_sham", "rat_calvaria")


@lru_cache(maxsize=None)
def _table(path: Path) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["preset"], {})[row["parameter"]] = float(row["value"])
    return out


def bone_preset(preset: str, path: Path = ANATOMY_CSV) -> dict[str, float]:
    """The parameters of one bone preset, as ``{parameter: value}``.

    Parameters
    ----------
    preset : str
        ``rat_tibia``, ``rat_tibia_sham`` or ``rat_calvaria``.
    path : Path, optional
        The table (default ``seeds/anatomy.csv``).

    Returns
    -------
    dict of str to float
        Lengths in µm, fractions dimensionless, Tb.N in 1/mm (see each row's unit).

    Raises
    ------
    ModelInputError
        The table has no rows for ``preset``.
    """
    table = _table(Path(path))
    if preset not in table:
        raise ModelInputError(f"seeds/anatomy.csv has no rows for the bone preset '{preset}'; "
                              f"presets: {', '.join(BONE_PRESETS)}")
    return dict(table[preset])
