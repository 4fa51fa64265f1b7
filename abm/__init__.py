"""bmsc-abm: an agent-based tissue simulator for BMSC and exosome therapy.

Two layers share one 3D voxel lattice: the field engine (:mod:`abm.fields`),
named cytokine and growth-factor fields that diffuse, decay and exchange with
cells; and the cell layer (:mod:`abm.cells`), a Mesa model whose cells are
struct-of-arrays populations that move, divide, die, differentiate and
change phenotype under table-driven rules (:mod:`abm.rules`). Both run on a
GPU through CuPy or on the CPU through NumPy. The biology (cell types, tissue
processes, events, regions, readouts) lives in :mod:`abm.biology` and is found
through :mod:`abm.registry`. Scenario files (:mod:`abm.scenario`) describe
experiments; :mod:`abm.run` runs them into HDF5 run files, read back with
:func:`open_run` (:mod:`abm.runfile`).
"""

from .biology import BMSC, BUILTIN_CELL_TYPES, Astrocyte, Microglia, NeuralProgenitor, Osteoblast
from .cells import LatticeCell, TissueModel
from .errors import FieldNotFiniteError, ModelInputError
from .fields import DEFAULT_CELL_STEP_MIN, Depot, FieldSolver, Species, TissueClass
from .registry import CELL_TYPES, EVENT_KINDS, PROCESSES, READOUT_KINDS, REGION_SHAPES
from .rules import Rule, RuleSet, load_rules
from .runfile import RunFileError, open_run
from .scenario import ScenarioError, load_scenario

__version__ = "0.1.0"

__all__ = [
    "BMSC",
    "BUILTIN_CELL_TYPES",
    "CELL_TYPES",
    "EVENT_KINDS",
    "PROCESSES",
    "READOUT_KINDS",
    "REGION_SHAPES",
    "Astrocyte",
    "LatticeCell",
    "Microglia",
    "NeuralProgenitor",
    "Osteoblast",
    "Rule",
    "RuleSet",
    "TissueModel",
    "load_rules",
    "load_scenario",
    "open_run",
    "RunFileError",
    "ScenarioError",
    "DEFAULT_CELL_STEP_MIN",
    "Depot",
    "FieldNotFiniteError",
    "FieldSolver",
    "ModelInputError",
    "Species",
    "TissueClass",
    "__version__",
]
