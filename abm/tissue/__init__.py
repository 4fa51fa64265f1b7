"""Tissue processes: per-voxel states that do not diffuse but evolve under local signals.

Neuron viability, bone mineral fraction, ...: declared by the biology, registered in
:data:`abm.registry.PROCESSES` (:mod:`.process`), and advanced by the model after the
cells' fate phase and before the fields diffuse (:mod:`.states`).
"""

from .process import TissueProcess

__all__ = ["TissueProcess"]
