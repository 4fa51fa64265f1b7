"""The spherical shell: ``inner < |x − c| ≤ outer``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import model_validator

from ..registry import REGION_SHAPES
from ..scenario.problems import custom
from ..scenario.quantities import NonNegLength, PosLength, SchemaModel, Vec3
from .base import RegionShape, _fmt, _Geometric, _vec

__all__ = ["ShellRegion", "ShellShape"]


@dataclass(frozen=True)
class ShellRegion(_Geometric):
    """Spherical shell ``inner_radius < |x − center| ≤ outer_radius`` (µm)."""

    center: tuple[float, float, float]
    inner_radius: float
    outer_radius: float
    kind: str = field(default="shell", init=False)

    def bounds(self):
        """Axis-aligned bounding box ``((xlo, xhi), (ylo, yhi), (zlo, zhi))``, µm."""
        return tuple((c - self.outer_radius, c + self.outer_radius) for c in self.center)

    def _inside(self, x, y, z):
        cx, cy, cz = self.center
        r2 = (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2
        return (r2 > self.inner_radius ** 2) & (r2 <= self.outer_radius ** 2)

    def describe(self):
        """One-line human description (units µm)."""
        return (f"shell centre {_vec(self.center)}, radii {_fmt(self.inner_radius)}–"
                f"{_fmt(self.outer_radius)} µm")


class _Schema(SchemaModel):
    shape: Literal["shell"]
    center: Vec3
    inner_radius: NonNegLength
    outer_radius: PosLength

    @model_validator(mode="after")
    def _ordered(self):
        if not self.inner_radius < self.outer_radius:
            raise custom(f"inner_radius ({self.inner_radius:g} µm) must be smaller than "
                         f"outer_radius ({self.outer_radius:g} µm)", key="inner_radius")
        return self


@REGION_SHAPES.register(builtin=True)
class ShellShape(RegionShape):
    """``{shape: shell, center: [x, y, z], inner_radius: r1, outer_radius: r2}``."""

    name = "shell"
    schema = _Schema

    def build(self, raw, ctx) -> ShellRegion:
        """The region of the validated mapping (lengths in µm)."""
        return ShellRegion(raw.center, raw.inner_radius, raw.outer_radius)
