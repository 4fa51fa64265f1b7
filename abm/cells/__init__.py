"""The cell layer: a Mesa model whose cells are struct-of-arrays populations.

* :mod:`.types`: :class:`LatticeCell`, the base of every cell type (a Mesa Agent
  that is a view onto a population row);
* :mod:`.population`: the struct-of-arrays storage of one cell type;
* :mod:`.agentset`: Mesa agent sets over array-backed cells;
* :mod:`.model`: :class:`TissueModel`, cells and fields on one lattice.
"""

from .agentset import CellAgentSet
from .model import TissueModel
from .population import CORE_COLUMNS, Population
from .types import CellGoneError, LatticeCell

__all__ = ["CORE_COLUMNS", "CellAgentSet", "CellGoneError", "LatticeCell", "Population",
           "TissueModel"]
