"""Regions of a scenario: where cells are placed, tissue is painted and treatments go.

A region is a set of voxels (:class:`~.base.Region`; a voxel belongs to a geometric
region when its centre lies inside). Each region *shape* a scenario can name is defined
in one module and registered in :data:`abm.registry.REGION_SHAPES`: :mod:`.sphere`,
:mod:`.ellipsoid`, :mod:`.box`, :mod:`.shell`, :mod:`.mask`. A bare string is a tissue
label reference (:mod:`.label`), not a shape.

The interface of a shape (:class:`~.base.RegionShape`)::

    class RegionShape:
        name: str                                  # the 'shape' value in scenario files
        schema: type[SchemaModel]                  # pydantic model of the mapping
        def build(self, raw, ctx) -> Region: ...   # ctx.base_dir, ctx.shape, ctx.dx

A module outside the package registers its own shape the same way
(``@REGION_SHAPES.register class Cylinder(RegionShape): ...``) and a scenario names
that module under ``plugins:``; the scenario loader then accepts ``{shape: cylinder,
...}`` with its own keys, messages and checks (inside the domain, at least one voxel).
"""

from .shapes import *  # noqa: F401,F403
from .shapes import __all__  # noqa: F401
