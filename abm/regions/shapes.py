"""The region classes in one namespace.

(Each is defined in its own module; imported in the
order shapes are listed in messages: sphere, ellipsoid, box, shell, mask).
"""

from .base import AXES, Region, RegionShape, shape_named

from .sphere import SphereRegion, SphereShape  # isort: skip
from .ellipsoid import EllipsoidRegion, EllipsoidShape  # isort: skip
from .box import BoxRegion, BoxShape  # isort: skip
from .shell import ShellRegion, ShellShape  # isort: skip
from .mask import MaskRegion, MaskShape  # isort: skip
from .label import LabelRegion  # isort: skip

__all__ = ["Region", "RegionShape", "SphereRegion", "EllipsoidRegion", "BoxRegion", "ShellRegion",
           "MaskRegion", "LabelRegion", "AXES", "SphereShape", "EllipsoidShape", "BoxShape",
           "ShellShape", "MaskShape", "shape_named"]
