"""The animal around the simulated tissue: brain volume and its share of the blood flow.

The lattice is a small piece of one brain. Whatever reaches the brain through the blood
is shared among its tissue in proportion to volume (uniform perfusion), so a piece of
volume ``V`` receives ``V / V_brain`` of what the whole brain receives, and ``V /
V_territory`` of what one carotid territory receives. Presets for rat and mouse are in
``seeds/delivery.csv``; a scenario may give its own brain volume (another strain, an
age).
"""

from __future__ import annotations

from dataclasses import dataclass

from .parameters import parameter

__all__ = ["SPECIES", "Body", "body_of"]

#: Species with presets in seeds/delivery.csv.
SPECIES = ("rat", "mouse")


@dataclass(frozen=True)
class Body:
    """A species' brain as the delivery routes see it.

    Attributes
    ----------
    species : str
    brain_volume : float
        Whole brain, µm³.
    cardiac_output_share : float
        Fraction of the cardiac output that perfuses the brain.
    territory_share : float
        Fraction of the brain volume supplied by one internal carotid artery.
    """

    species: str
    brain_volume: float
    cardiac_output_share: float
    territory_share: float

    @property
    def territory_volume(self) -> float:
        """Volume supplied by one internal carotid artery, µm³."""
        return self.brain_volume * self.territory_share


def body_of(species: str, brain_volume: float | None = None) -> Body:
    """The :class:`Body` of ``species`` (one of :data:`SPECIES`), its brain volume optionally given (µm³)."""
    if species not in SPECIES:
        raise ValueError(f"unknown species '{species}'; presets: {', '.join(SPECIES)}")
    vol = parameter(f"{species}:brain_volume") if brain_volume is None else float(brain_volume)
    return Body(species, vol, parameter(f"{species}:brain_cardiac_output_share"),
                parameter("territory_share_of_brain"))
