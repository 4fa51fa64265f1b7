"""Bone cell types."""

from ...cells.types import LatticeCell

__all__ = ["Osteoblast"]


class Osteoblast(LatticeCell):
    """Bone-forming cell (bone scenarios)."""

    colour = "#c8a000"  # ochre
