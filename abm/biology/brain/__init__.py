"""Brain biology (seed 000_58091ff4731d18ef): the resident cells of injured brain tissue.

Microglia, astrocytes and SVZ neural progenitors (:mod:`.cells`) and the neurons as a
tissue process (:mod:`.neurons`).
"""

from .cells import Astrocyte, Microglia, NeuralProgenitor
from .neurons import NeuronViability

__all__ = ["Astrocyte", "Microglia", "NeuralProgenitor", "NeuronViability"]
