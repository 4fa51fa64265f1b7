"""Tissue processes: per-voxel states that do not diffuse but evolve under local signals
(neuron viability, bone mineral fraction). Declared by the biology, registered in
:data:`abm.registry.PROCESSES`, advanced by the model after the cells' fate phase and
before the fields diffuse (:mod:`.process`)."""

from .process import TissueProcess

__all__ = ["TissueProcess"]
