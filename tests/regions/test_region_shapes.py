"""Region shapes go through the registry.

Each built-in shape is one module, and a shape
registered outside the package is accepted in scenario files with its own keys, checks
and line-precise errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pytest

from abm.regions import RegionShape, SphereRegion, shape_named
from abm.regions.base import _Geometric
from abm.registry import REGION_SHAPES
from abm.scenario import ScenarioError, load_scenario_text
from abm.scenario.quantities import PosLength, SchemaModel, Vec3


@dataclass(frozen=True)
class CylinderRegion(_Geometric):
    """Cylinder along z: ``(x − cx)² + (y − cy)² ≤ r²`` and ``z0 ≤ z ≤ z1`` (µm)."""

    center: tuple
    radius: float
    z0: float
    z1: float
    kind: str = field(default="cylinder", init=False)

    def bounds(self):
        cx, cy, _ = self.center
        return ((cx - self.radius, cx + self.radius), (cy - self.radius, cy + self.radius),
                (self.z0, self.z1))

    def _inside(self, x, y, z):
        cx, cy, _ = self.center
        return ((x - cx) ** 2 + (y - cy) ** 2 <= self.radius ** 2) & (z >= self.z0) & (z <= self.z1)

    def describe(self):
        return f"cylinder radius {self.radius:g} µm"


class _Schema(SchemaModel):
    shape: Literal["cylinder"]
    center: Vec3
    radius: PosLength
    height: PosLength


class Cylinder(RegionShape):
    name = "cylinder"
    schema = _Schema

    def build(self, raw, ctx):
        c = raw.center
        return CylinderRegion(c, raw.radius, c[2] - raw.height / 2, c[2] + raw.height / 2)


@pytest.fixture
def cylinder():
    REGION_SHAPES.register(Cylinder)       # a class works as well as an instance
    yield
    REGION_SHAPES.unregister("cylinder")


TEXT = """\
name: shapes
domain: {extent: [400 um, 400 um, 400 um], voxel: 20 um, dt: 1 min, duration: 2 min}
fields:
  VEGF: {}
cell_types:
  Microglia:
populations:
  - cell_type: Microglia
    region: {shape: cylinder, center: [200 um, 200 um, 200 um], radius: 100 um, height: 0.2 mm}
    count: 100
"""


def test_builtin_shapes_live_one_per_module():
    assert REGION_SHAPES.builtin_names() == ["sphere", "ellipsoid", "box", "shell", "mask"]
    for n in REGION_SHAPES.builtin_names():
        s = shape_named(n)
        assert s.name == n and type(s).__module__ == f"abm.regions.{n}"


def test_a_registered_shape_is_a_region_of_scenario_files(cylinder):
    sc = load_scenario_text(TEXT, name="shapes.yaml")
    reg = sc.populations[0].region
    assert isinstance(reg, CylinderRegion) and (reg.z0, reg.z1) == (100.0, 300.0)
    # voxel centres within r = 100 µm of the axis: 5 x 5 rings of 20 µm voxels per layer
    xy = (np.arange(20) + 0.5) * 20.0 - 200.0
    per_layer = int(((xy[:, None] ** 2 + xy[None, :] ** 2) <= 100.0 ** 2).sum())
    assert sc.populations[0].n_cells == 100
    assert reg.voxel_count((20, 20, 20), 20.0) == per_layer * 10
    assert per_layer == pytest.approx(math.pi * 25, rel=0.05)


def test_a_registered_shape_has_line_precise_errors(cylinder):
    with pytest.raises(ScenarioError) as ei:
        load_scenario_text(TEXT.replace("height: 0.2 mm", "heigth: 0.2 mm"), name="shapes.yaml")
    e = ei.value
    assert (e.line, e.path) == (9, "populations[0].region.heigth")
    assert "unknown key 'heigth' (did you mean 'height'?)" in e.problem
    with pytest.raises(ScenarioError) as ei:
        load_scenario_text(TEXT.replace("radius: 100 um", "radius: 300 um"), name="shapes.yaml")
    assert "extends beyond the domain" in ei.value.problem and ei.value.line == 9


def test_an_unknown_shape_lists_the_registered_ones(cylinder):
    with pytest.raises(ScenarioError) as ei:
        load_scenario_text(TEXT.replace("shape: cylinder", "shape: cylindre"), name="shapes.yaml")
    e = ei.value
    assert e.path == "populations[0].region.shape" and e.line == 9
    assert "unknown region shape 'cylindre' (did you mean 'cylinder'?); shapes: sphere, " \
           "ellipsoid, box, shell, mask, " in e.problem
    # then every registered shape (the brain's and the bone's, in registration order), the
    # user's last
    listed = e.problem.split("shapes: ", 1)[1].split(", ")
    assert {"forebrain", "mcao_core", "mcao_penumbra", "contusion", "pericontusion",
            "metaphysis_cortex", "trabecular_bone", "calvarial_defect", "bone_surface"} <= set(listed)
    assert listed[-1] == "cylinder"


def test_without_the_plugin_the_shape_is_unknown():
    with pytest.raises(ScenarioError, match="unknown region shape 'cylinder'"):
        load_scenario_text(TEXT, name="shapes.yaml")


def test_nested_region_errors_are_all_counted():
    text = TEXT.replace("{shape: cylinder, center: [200 um, 200 um, 200 um], radius: 100 um, "
                        "height: 0.2 mm}", "{shape: sphere, center: [200 um, 200 um], radius: 1 s}")
    with pytest.raises(ScenarioError) as ei:
        load_scenario_text(text, name="shapes.yaml")
    assert "expected 3 values" in ei.value.problem
    assert "(1 more problem; fix this one first)" in str(ei.value)
    assert SphereRegion((1.0, 1.0, 1.0), 1.0).kind == "sphere"
