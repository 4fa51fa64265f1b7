"""Bone biology (seeds 001_70475427c1d3b693 and 002_d22e3df16e83e9bf).

Cell types (:mod:`.cells`): resident marrow BMSCs, osteoblasts, osteoclasts, marrow
macrophages. Tissue processes: bone mineral (:mod:`.mineral`) and estrogen
(:mod:`.estrogen`). Events: ovariectomy (:mod:`.ovariectomy`) and hydrogel depots
(:mod:`.hydrogel`). Region shapes of the rat tibial metaphysis and calvarial defect
(:mod:`.anatomy`) and the bone surface (:mod:`.surface`); the remembered defect site and
its fill (:mod:`.defect`); micro-CT readouts (:mod:`.readouts`, computed by :mod:`.morphometry`).
"""

from . import anatomy as _anatomy  # noqa: F401  registers the bone region shapes
from . import defect as _defect  # noqa: F401  registers the defect_site process and defect_fill
from . import hydrogel as _hydrogel  # noqa: F401  registers the hydrogel event
from . import ovariectomy as _ovariectomy  # noqa: F401  registers the ovariectomy event
from . import readouts as _readouts  # noqa: F401  registers the micro-CT readouts
from . import surface as _surface  # noqa: F401  registers the bone_surface region shape
from .cells import Macrophage, Osteoblast, Osteoclast, ResidentBMSC
from .estrogen import Estrogen
from .mineral import MineralTissue

__all__ = ["Estrogen", "Macrophage", "MineralTissue", "Osteoblast", "Osteoclast", "ResidentBMSC"]
