"""Resident brain cell types: microglia, astrocytes, neural progenitors.

Structure only; their numbers are in ``seeds/cells.csv`` and the signal → behaviour
rules of injured brain in ``seeds/rules/`` (``microglia.csv``, ``astrocyte.csv``,
``neural_progenitor.csv``). Without rules healthy tissue stays healthy: microglia
stay M0, astrocytes quiescent.
"""

from ...cells.types import LatticeCell

__all__ = ["Astrocyte", "Microglia", "NeuralProgenitor"]


class Microglia(LatticeCell):
    """Microglia with M0 (resting), M1 (pro-inflammatory) and M2 (anti-inflammatory) states.

    Damage signals (DAMP) and TNF-α drive M0 → M1, exosomes and IL-10 drive
    M1 → M2 (BMSC exosomes: Ni et al. 2019 via seed 000_58091ff4731d18ef); M1 cells
    secrete TNF-α and M2 cells IL-10. Without a signal both return to M0.
    """

    states = ("M0", "M1", "M2")
    colour = "#b0b0b0"
    state_colours = {"M0": "#b0b0b0",   # light grey: resting
                     "M1": "#e41a1c",   # red: pro-inflammatory
                     "M2": "#3a7fd5"}   # blue: anti-inflammatory


class Astrocyte(LatticeCell):
    """Astrocyte with a continuous reactivity level (GFAP-like, 0–1).

    Quiescent (0) in healthy tissue; damage raises the reactivity, reactive cells
    secrete SDF-1α, TNF-α raises their death and BMSC signals lower it.
    """

    variables = ("reactivity",)
    colour = "#ff7f00"  # orange


class NeuralProgenitor(LatticeCell):
    """SVZ cell with two states: ``progenitor`` (type C-like, dividing in place) and ``neuroblast``.

    Progenitors divide and turn into neuroblasts; by the rules of
    seeds/rules/neural_progenitor.csv only neuroblasts move, up SDF-1α at the measured
    neuroblast speed (Zhang RL et al. 2007), and die at a raised rate. BDNF and VEGF raise
    division, TNF-α death.
    """

    states = ("progenitor", "neuroblast")
    chemotaxis_field = "SDF-1a"
    chemotaxis_receptor = "CXCR4"
    variables = ("CXCR4",)
    colour = "#00c8d7"  # cyan
