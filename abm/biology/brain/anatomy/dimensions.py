"""Dimensions of the parametric forebrain and of its lesions, read from ``seeds/anatomy.csv``.

Each row of the table is ``preset, parameter, value, unit, status, evidence_or_reasoning``;
lengths are in µm, fractions are plain numbers. The presets are the species (``rat``,
``mouse``) and the lesion models (``mcao``: transient filament occlusion of the middle
cerebral artery in rats; ``cci``: controlled cortical impact in mice). The table is read
once and cached.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

from ....seeds import SEEDS_DIR

__all__ = ["ANATOMY_CSV", "SPECIES", "ForebrainDims", "species_dims", "lesion_defaults"]

ANATOMY_CSV = SEEDS_DIR / "anatomy.csv"

#: The species presets of the forebrain.
SPECIES = ("rat", "mouse")


@dataclass(frozen=True)
class ForebrainDims:
    """The dimensions of one species' forebrain model (lengths µm, at scale 1).

    Attributes
    ----------
    brain_half_width, brain_half_height, brain_half_length : float
        Semi-axes of the cerebral ellipsoid: mediolateral (midline to lateral surface),
        dorsoventral, rostrocaudal; µm.
    brain_center_ap : float
        Rostrocaudal position of the ellipsoid's centre relative to bregma (rostral
        positive), µm.
    cortex_thickness, callosum_thickness : float
        The cortical mantle and the white-matter layer under it, µm.
    striatum_center_lateral, striatum_center_depth, striatum_center_ap : float
        Centre of the caudate-putamen: lateral of the midline, below the top of the
        cerebrum, relative to bregma; µm.
    striatum_radius_lateral, striatum_radius_dv, striatum_radius_ap : float
        Semi-axes of the caudate-putamen, µm.
    ventricle_width : float
        Width of the lateral ventricle slit, µm.
    ventricle_cap : float
        The ventricle lines the striatal surface medial of ``center − cap × radius``
        (dimensionless).
    svz_thickness : float
        Thickness of the subventricular zone along the lateral ventricle wall, µm.
    default_level : float
        Default coronal level (bregma, rostral positive), µm.
    """

    brain_half_width: float
    brain_half_height: float
    brain_half_length: float
    brain_center_ap: float
    cortex_thickness: float
    callosum_thickness: float
    striatum_center_lateral: float
    striatum_center_depth: float
    striatum_center_ap: float
    striatum_radius_lateral: float
    striatum_radius_dv: float
    striatum_radius_ap: float
    ventricle_width: float
    ventricle_cap: float
    svz_thickness: float
    default_level: float

    def scaled(self, s: float) -> ForebrainDims:
        """These dimensions with every length multiplied by ``s`` (the cap fraction kept)."""
        return ForebrainDims(**{f.name: getattr(self, f.name) * (1.0 if f.name == "ventricle_cap"
                                                                   else s)
                                for f in fields(self)})


@lru_cache(maxsize=None)
def _table(path: Path) -> dict:
    out: dict[str, dict[str, float]] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["preset"], {})[row["parameter"]] = float(row["value"])
    return out


def species_dims(species: str, path: Path = ANATOMY_CSV) -> ForebrainDims:
    """The forebrain dimensions of ``species`` (``rat`` or ``mouse``) from the seeds table.

    Raises
    ------
    KeyError
        The table has no such preset or lacks one of the dimensions.
    """
    row = _table(Path(path))[species]
    return ForebrainDims(**{f.name: row[f.name] for f in fields(ForebrainDims)})


def lesion_defaults(model: str, path: Path = ANATOMY_CSV) -> dict[str, float]:
    """Default parameters of lesion model ``model`` (``mcao`` or ``cci``), µm or fractions."""
    return dict(_table(Path(path))[model])
