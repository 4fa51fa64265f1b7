"""Bone geometry without mask files: a synthetic rat metaphysis and a calvarial defect (issue 12).

* :mod:`.dimensions`: the presets ``rat_tibia``, ``rat_tibia_sham`` (published sham ranges)
  and ``rat_calvaria`` from ``seeds/anatomy.csv``;
* :mod:`.randomfield`: the seeded, band-limited Gaussian random field;
* :mod:`.metaphysis`: the cortical shell, trabecular network and marrow of a metaphysis;
* :mod:`.calvaria`: the calvarial plate with its critical-size defect;
* :mod:`.shapes`: the region shapes ``metaphysis_cortex``, ``trabecular_bone``,
  ``metaphysis_marrow``, ``endocortical_space``, ``calvarial_bone``, ``calvarial_defect``
  (registered on import). See docs/bone-anatomy.md.
"""

from .calvaria import CALVARIA_STRUCTURES, CalvarialDefect
from .dimensions import bone_preset
from .metaphysis import METAPHYSIS_STRUCTURES, Metaphysis, band_half_width
from .randomfield import gaussian_field
from .shapes import CalvariaRegion, MetaphysisRegion

__all__ = ["CALVARIA_STRUCTURES", "METAPHYSIS_STRUCTURES", "CalvarialDefect", "CalvariaRegion",
           "Metaphysis", "MetaphysisRegion", "band_half_width", "bone_preset", "gaussian_field"]
