"""The axis-aligned ellipsoid: ``Σ ((x_a − c_a)/r_a)² ≤ 1``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..registry import REGION_SHAPES
from ..scenario.quantities import PosVec3, SchemaModel, Vec3
from .base import RegionShape, _Geometric, _vec

__all__ = ["EllipsoidRegion", "EllipsoidShape"]


@dataclass(frozen=True)
class EllipsoidRegion(_Geometric):
    """Axis-aligned ellipsoid with semi-axes ``radii`` (µm) around ``center`` (µm)."""

    center: tuple[float, float, float]
    radii: tuple[float, float, float]
    kind: str = field(default="ellipsoid", init=False)

    def bounds(self):
        """Axis-aligned bounding box ``((xlo, xhi), (ylo, yhi), (zlo, zhi))``, µm."""
        return tuple((c - r, c + r) for c, r in zip(self.center, self.radii))

    def _inside(self, x, y, z):
        (cx, cy, cz), (rx, ry, rz) = self.center, self.radii
        return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2 <= 1.0

    def describe(self):
        """One-line human description (units µm)."""
        return f"ellipsoid centre {_vec(self.center)}, radii {_vec(self.radii)}"


class _Schema(SchemaModel):
    shape: Literal["ellipsoid"]
    center: Vec3
    radii: PosVec3


@REGION_SHAPES.register(builtin=True)
class EllipsoidShape(RegionShape):
    """``{shape: ellipsoid, center: [x, y, z], radii: [a, b, c]}``."""

    name = "ellipsoid"
    schema = _Schema

    def build(self, raw, ctx) -> EllipsoidRegion:
        """The region of the validated mapping (lengths in µm)."""
        return EllipsoidRegion(raw.center, raw.radii)
