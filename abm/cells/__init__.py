"""The cell layer: a Mesa model whose cells are struct-of-arrays populations.

* :mod:`.types`: :class:`LatticeCell`, the base of every cell type (a Mesa Agent
  that is a view onto a population row);
* :mod:`.population`: the struct-of-arrays storage of one cell type;
* :mod:`.agentset`: Mesa agent sets over array-backed cells;
* :mod:`.attributes`: undeclared per-cell attributes (``cell.energy = 3``), a Python
  side table keyed by unique id;
* :mod:`.model`: :class:`TissueModel`, cells, fields and tissue states on one lattice;
* :mod:`.parameters`: a model's cell types and their parameters;
* :mod:`.placement`: adding, seeding and removing cells, and the one
  placement-with-exclusion rule of movement and division;
* :mod:`.signals`: the signals a population senses, computed on first use;
* :mod:`.plan`: the typed plan of one step (:class:`StepPlan`, :class:`PopulationPlan`);
* :mod:`.phases`: the phases of a step (sense, decide, move, divide, custom agents,
  exchange, fate, tissue, diffuse, record);
* :mod:`.state`: the whole state of a model, for checkpoints.
"""

from .agentset import CellAgentSet
from .model import TissueModel
from .plan import PopulationPlan, StepPlan
from .population import CORE_COLUMNS, Population
from .types import CellGoneError, LatticeCell

__all__ = ["CORE_COLUMNS", "CellAgentSet", "CellGoneError", "LatticeCell", "Population",
           "PopulationPlan", "StepPlan", "TissueModel"]
