"""The bone-marrow mesenchymal stem cell (BMSC), the therapy of every seed paper."""

from ..cells.types import LatticeCell

__all__ = ["BMSC"]


class BMSC(LatticeCell):
    """Bone-marrow mesenchymal stem cell (seed 000_58091ff4731d18ef).

    It homes up SDF-1α through CXCR4 and secretes VEGF, BDNF and exosomes.
    """

    chemotaxis_field = "SDF-1a"
    chemotaxis_receptor = "CXCR4"
    variables = ("CXCR4",)
    colour = "#e7298a"  # magenta: the transplanted stem cells
