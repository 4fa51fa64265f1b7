"""The biology of the seed papers: cell types, tissue processes, events, regions and readouts.

This is the room where the biology lives; each piece is declared once and registered
(:mod:`abm.registry`).

* :mod:`.bmsc`: the transplanted (or resident) bone-marrow mesenchymal stem cell;
* :mod:`.brain`: microglia, astrocytes, neural progenitors (seed 000);
* :mod:`.bone`: osteoblasts (seeds 001, 002).

The engine (:mod:`abm.fields`, :mod:`abm.cells`, :mod:`kernels`) never names a
piece of biology; it finds these through the registries.
"""

from ..registry import CELL_TYPES
from .bmsc import BMSC
from .bone import Osteoblast
from .brain import Astrocyte, Microglia, NeuralProgenitor

#: The built-in cell types, in their registration order.
BUILTIN_CELL_TYPES = (BMSC, Microglia, Astrocyte, NeuralProgenitor, Osteoblast)

for _cls in BUILTIN_CELL_TYPES:
    CELL_TYPES.register(_cls, builtin=True)

__all__ = ["BMSC", "BUILTIN_CELL_TYPES", "Astrocyte", "Microglia", "NeuralProgenitor",
           "Osteoblast"]
