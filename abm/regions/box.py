"""The axis-aligned box: ``lower_a ≤ x_a ≤ upper_a`` on every axis."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import model_validator

from ..registry import REGION_SHAPES
from ..scenario.problems import custom
from ..scenario.quantities import SchemaModel, Vec3
from .base import AXES, RegionShape, _Geometric, _vec

__all__ = ["BoxRegion", "BoxShape"]


@dataclass(frozen=True)
class BoxRegion(_Geometric):
    """Axis-aligned box from ``lower`` to ``upper`` corners (µm)."""

    lower: tuple[float, float, float]
    upper: tuple[float, float, float]
    kind: str = field(default="box", init=False)

    def bounds(self):
        """Axis-aligned bounding box ``((xlo, xhi), (ylo, yhi), (zlo, zhi))``, µm."""
        return tuple(zip(self.lower, self.upper))

    def _inside(self, x, y, z):
        (lx, ly, lz), (ux, uy, uz) = self.lower, self.upper
        return (x >= lx) & (x <= ux) & (y >= ly) & (y <= uy) & (z >= lz) & (z <= uz)

    def describe(self):
        """One-line human description (units µm)."""
        return f"box {_vec(self.lower)} to {_vec(self.upper)}"


class _Schema(SchemaModel):
    shape: Literal["box"]
    lower: Vec3
    upper: Vec3

    @model_validator(mode="after")
    def _ordered(self):
        for a in range(3):
            if not self.upper[a] > self.lower[a]:
                raise custom(f"upper must exceed lower along {AXES[a]} "
                             f"({self.upper[a]:g} <= {self.lower[a]:g} µm)", key="upper")
        return self


@REGION_SHAPES.register(builtin=True)
class BoxShape(RegionShape):
    """``{shape: box, lower: [x, y, z], upper: [x, y, z]}``."""

    name = "box"
    schema = _Schema

    def build(self, raw, ctx) -> BoxRegion:
        """The region of the validated mapping (lengths in µm)."""
        return BoxRegion(raw.lower, raw.upper)
