"""The biology of the seed papers: cell types, tissue processes, events, regions and readouts.

This is the room where the biology lives; each piece is declared once and registered
(:mod:`abm.registry`).

* :mod:`.bmsc`: the transplanted (or resident) bone-marrow mesenchymal stem cell and the
  rare neural-like cell it turns into;
* :mod:`.brain`: microglia, astrocytes, neural progenitors and the neuron-viability
  tissue process (seed 000);
* :mod:`.bone`: resident marrow BMSCs, osteoblasts, osteoclasts, marrow macrophages, the
  bone-mineral and estrogen tissue processes and the ovariectomy event (seeds 001, 002).

The engine (:mod:`abm.fields`, :mod:`abm.cells`, :mod:`kernels`) never names a
piece of biology; it finds these through the registries.
"""

from ..registry import CELL_TYPES
from .bmsc import BDNF_POSITIVE_FRACTION, BDNF_POSITIVE_FRACTION_ROW, BMSC, NeuralLikeCell
from .bone import Estrogen, Macrophage, MineralTissue, Osteoblast, Osteoclast, ResidentBMSC
from .brain import Astrocyte, Microglia, NeuralProgenitor, NeuronViability

#: The built-in cell types, in their registration order.
BUILTIN_CELL_TYPES = (BMSC, Microglia, Astrocyte, NeuralProgenitor, Osteoblast, NeuralLikeCell,
                      ResidentBMSC, Osteoclast, Macrophage)

for _cls in BUILTIN_CELL_TYPES:
    CELL_TYPES.register(_cls, builtin=True)

__all__ = ["BDNF_POSITIVE_FRACTION", "BDNF_POSITIVE_FRACTION_ROW", "BMSC", "BUILTIN_CELL_TYPES",
           "Astrocyte", "Estrogen", "Macrophage", "Microglia", "MineralTissue", "NeuralLikeCell",
           "NeuralProgenitor", "NeuronViability", "Osteoblast", "Osteoclast", "ResidentBMSC"]

from .brain import anatomy as _anatomy  # noqa: E402,F401  (H4) registers the forebrain region shapes
