"""bmsc-abm: an agent-based tissue simulator for BMSC and exosome therapy.

Two layers share one 3D voxel lattice: the field engine (:mod:`abm.fields`),
named cytokine and growth-factor fields that diffuse, decay and exchange with
cells; and the cell layer (:mod:`abm.model`), a Mesa model whose cells are
struct-of-arrays populations that move, divide, die, differentiate and
change phenotype under table-driven rules (:mod:`abm.rules`). Both run on a
GPU through CuPy or on the CPU through NumPy.
"""

from .cells import (BMSC, BUILTIN_CELL_TYPES, Astrocyte, LatticeCell, Microglia,
                    NeuralProgenitor, Osteoblast)
from .errors import FieldNotFiniteError, ModelInputError
from .fields import DEFAULT_CELL_STEP_MIN, Depot, FieldSolver, Species, TissueClass
from .model import TissueModel
from .rules import Rule, RuleSet, load_rules

__version__ = "0.1.0"

__all__ = [
    "BMSC",
    "BUILTIN_CELL_TYPES",
    "Astrocyte",
    "LatticeCell",
    "Microglia",
    "NeuralProgenitor",
    "Osteoblast",
    "Rule",
    "RuleSet",
    "TissueModel",
    "load_rules",
    "DEFAULT_CELL_STEP_MIN",
    "Depot",
    "FieldNotFiniteError",
    "FieldSolver",
    "ModelInputError",
    "Species",
    "TissueClass",
    "__version__",
]
