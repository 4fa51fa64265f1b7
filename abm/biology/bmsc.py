"""The bone-marrow mesenchymal stem cell (BMSC), the therapy of every seed paper.

Its numbers are in ``seeds/cells.csv`` (rows ``BMSC``), its rules in
``seeds/rules/bmsc.csv``.
"""

from ..cells.types import LatticeCell
from ..seeds import load_brain_evidence

__all__ = ["BMSC", "NeuralLikeCell", "BDNF_POSITIVE_FRACTION", "BDNF_POSITIVE_FRACTION_ROW"]

#: The ``seeds/brain.csv`` row of the BDNF-positive fraction.
BDNF_POSITIVE_FRACTION_ROW = "bmsc_bdnf_positive_fraction"
#: Fraction of BMSCs that are BDNF-positive, 41.19 % ± 13.24 % (Sadan et al. 2008 via seed
#: 000_58091ff4731d18ef.txt), read from ``seeds/brain.csv``: the probability with which a new
#: BMSC is drawn ``BDNF_positive`` where an injection draws states.
BDNF_POSITIVE_FRACTION = load_brain_evidence()[BDNF_POSITIVE_FRACTION_ROW][0]


class BMSC(LatticeCell):
    """Bone-marrow mesenchymal stem cell (seed 000_58091ff4731d18ef).

    It homes up SDF-1α through CXCR4, secretes VEGF and GDNF and releases exosomes;
    the BDNF-positive subpopulation (state ``BDNF_positive``, about 41 % of BMSCs)
    also secretes BDNF (rule in ``seeds/rules/bmsc.csv``). Division is rare and most
    grafted cells die within one to two weeks, shedding vesicles as they do. A few
    turn into :class:`NeuralLikeCell`.

    The states do not change into each other: a cell is BDNF-positive or not from
    its birth (a daughter keeps its mother's state).
    """

    chemotaxis_field = "SDF-1a"
    chemotaxis_receptor = "CXCR4"
    states = ("BDNF_negative", "BDNF_positive")
    variables = ("CXCR4",)
    colour = "#e7298a"  # magenta: the transplanted stem cells
    state_colours = {"BDNF_negative": "#e7298a",   # magenta
                     "BDNF_positive": "#ae017e"}   # darker magenta: BDNF-positive


class NeuralLikeCell(LatticeCell):
    """A BMSC-derived cell that expresses neuronal markers (rare; seed 000, Yano et al. 2005).

    It neither moves nor divides; it is counted, not given neuronal function.
    """

    colour = "#7a0177"  # plum: BMSC-derived
