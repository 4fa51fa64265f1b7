"""Brain biology (seed 000_58091ff4731d18ef): the resident cells of injured brain tissue."""

from .cells import Astrocyte, Microglia, NeuralProgenitor

__all__ = ["Astrocyte", "Microglia", "NeuralProgenitor"]
