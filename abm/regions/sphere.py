"""The ball: ``|x − c| ≤ r``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..registry import REGION_SHAPES
from ..scenario.quantities import PosLength, SchemaModel, Vec3
from .base import RegionShape, _fmt, _Geometric, _vec

__all__ = ["SphereRegion", "SphereShape"]


@dataclass(frozen=True)
class SphereRegion(_Geometric):
    """Ball of ``radius`` (µm) around ``center`` (3 coordinates, µm)."""

    center: tuple[float, float, float]
    radius: float
    kind: str = field(default="sphere", init=False)

    def bounds(self):
        """Axis-aligned bounding box ``((xlo, xhi), (ylo, yhi), (zlo, zhi))``, µm."""
        return tuple((c - self.radius, c + self.radius) for c in self.center)

    def _inside(self, x, y, z):
        cx, cy, cz = self.center
        return (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= self.radius ** 2

    def describe(self):
        """One-line human description (units µm)."""
        return f"sphere centre {_vec(self.center)}, radius {_fmt(self.radius)} µm"


class _Schema(SchemaModel):
    shape: Literal["sphere"]
    center: Vec3
    radius: PosLength


@REGION_SHAPES.register(builtin=True)
class SphereShape(RegionShape):
    """``{shape: sphere, center: [x, y, z], radius: r}``."""

    name = "sphere"
    schema = _Schema

    def build(self, raw, ctx) -> SphereRegion:
        """The region of the validated mapping (lengths in µm)."""
        return SphereRegion(raw.center, raw.radius)
