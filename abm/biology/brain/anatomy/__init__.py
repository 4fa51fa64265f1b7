"""Anatomy without mask files: a parametric rodent forebrain and its lesions (seed 000).

* :mod:`.dimensions`: the species presets and lesion defaults from ``seeds/anatomy.csv``;
* :mod:`.forebrain`: cortex, corpus callosum, striatum, lateral ventricle and SVZ;
* :mod:`.lesions`: the MCAO infarct with its penumbra, the cortical contusion with its rim;
* :mod:`.shapes`: the region shapes ``forebrain``, ``mcao_core``, ``mcao_penumbra``,
  ``contusion``, ``pericontusion`` (registered on import). See docs/anatomy.md.
"""

from .forebrain import STRUCTURES, Forebrain
from .lesions import Contusion, MCAOLesion
from .shapes import ForebrainRegion, LesionRegion

__all__ = ["STRUCTURES", "Forebrain", "MCAOLesion", "Contusion", "ForebrainRegion",
           "LesionRegion"]
