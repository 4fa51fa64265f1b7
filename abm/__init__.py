"""bmsc-abm: an agent-based tissue simulator for BMSC and exosome therapy.

The field engine (:mod:`abm.fields`) is the first layer: named cytokine and
growth-factor fields that diffuse, decay and exchange with cells on a 3D
voxel lattice, on a GPU through CuPy or on the CPU through NumPy.
"""

from .errors import FieldNotFiniteError, ModelInputError
from .fields import DEFAULT_CELL_STEP_MIN, Depot, FieldSolver, Species, TissueClass

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_CELL_STEP_MIN",
    "Depot",
    "FieldNotFiniteError",
    "FieldSolver",
    "ModelInputError",
    "Species",
    "TissueClass",
    "__version__",
]
