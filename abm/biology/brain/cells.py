"""Resident brain cell types: microglia, astrocytes, neural progenitors."""

from ...cells.types import LatticeCell

__all__ = ["Astrocyte", "Microglia", "NeuralProgenitor"]


class Microglia(LatticeCell):
    """Microglia with M0 (resting), M1 (pro-inflammatory) and M2 (anti-inflammatory) states.

    BMSC exosomes shift M1 to M2 (seed 000_58091ff4731d18ef).
    """

    states = ("M0", "M1", "M2")
    colour = "#b0b0b0"
    state_colours = {"M0": "#b0b0b0",   # light grey: resting
                     "M1": "#e41a1c",   # red: pro-inflammatory
                     "M2": "#3a7fd5"}   # blue: anti-inflammatory


class Astrocyte(LatticeCell):
    """Astrocyte with a continuous reactivity level (GFAP-like, 0–1)."""

    variables = ("reactivity",)
    colour = "#ff7f00"  # orange


class NeuralProgenitor(LatticeCell):
    """Neural progenitor / neuroblast from the SVZ; proliferates and migrates up SDF-1α."""

    chemotaxis_field = "SDF-1a"
    chemotaxis_receptor = "CXCR4"
    variables = ("CXCR4",)
    colour = "#00c8d7"  # cyan
