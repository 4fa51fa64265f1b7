"""The field engine: named fields that diffuse, decay and exchange with cells.

Cytokine and growth-factor fields on the voxel lattice (:mod:`.solver`), made of
species, tissue classes and depots (:mod:`.species`).
"""

from .solver import DEFAULT_CELL_STEP_MIN, FieldSolver
from .species import Depot, Species, TissueClass

__all__ = ["DEFAULT_CELL_STEP_MIN", "Depot", "FieldSolver", "Species", "TissueClass"]
