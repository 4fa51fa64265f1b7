"""The region classes in one namespace (each is defined in its own module)."""

from .base import AXES, Region, RegionShape, shape_named
from .box import BoxRegion, BoxShape
from .ellipsoid import EllipsoidRegion, EllipsoidShape
from .label import LabelRegion
from .mask import MaskRegion, MaskShape
from .shell import ShellRegion, ShellShape
from .sphere import SphereRegion, SphereShape

__all__ = ["Region", "RegionShape", "SphereRegion", "EllipsoidRegion", "BoxRegion", "ShellRegion",
           "MaskRegion", "LabelRegion", "AXES", "SphereShape", "EllipsoidShape", "BoxShape",
           "ShellShape", "MaskShape", "shape_named"]
