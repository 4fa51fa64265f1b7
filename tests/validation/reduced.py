"""Reduced-size variants of the shipped brain scenarios, as ``--set`` overrides.

The anatomy is scaled down (every length of the forebrain preset times ``scale``; the
coronal level and a contusion's impactor too; not the widths of the border zones), the slab thinned and the domain cut to match; the run is shortened
and its step lengthened. Densities, rates and the delivery mechanism are unchanged, so
the dose that reaches the smaller tissue scales with its volume.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from abm.biology.brain.anatomy.dimensions import lesion_defaults
from abm.units import LENGTH, to_internal

ROOT = Path(__file__).resolve().parents[2]
BRAIN = ROOT / "scenarios" / "brain"


def _mappings(node, path=()):
    """Every mapping of a YAML tree with its key path (list indices as strings)."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _mappings(v, path + (str(k),))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _mappings(v, path + (str(i),))


def _um(text, signed: bool = False) -> float:
    if signed and str(text).strip().startswith("-"):
        return -to_internal(str(text).strip()[1:], LENGTH)
    return to_internal(text, LENGTH)


def reduced(name: str, *, scale: float, slab_um: float, duration: str, dt: str,
            extra=()) -> tuple[Path, list[str]]:
    """The scenario file and the overrides of its reduced variant.

    Parameters
    ----------
    name : str
        Scenario file stem under scenarios/brain/.
    scale : float
        Factor on every anatomical length (and the domain's in-plane extent).
    slab_um : float
        Slab thickness, µm (the domain's z extent).
    duration, dt : str
        Simulated time and step, with units.
    extra : sequence of str
        More overrides.
    """
    path = BRAIN / f"{name}.yaml"
    tree = yaml.safe_load(path.read_text())
    ex, ey, _ = (_um(v) for v in tree["domain"]["extent"])
    out = [f"domain.extent=[{ex * scale:g} um, {ey * scale:g} um, {slab_um:g} um]",
           f"domain.duration={duration}", f"domain.dt={dt}"]
    cci = lesion_defaults("cci")
    for p, a in _mappings(tree):
        key = ".".join(p)
        if "origin" in a and "species" in a:          # the anatomy's placement
            ox, oy, _ = (_um(v) for v in a["origin"])
            out += [f"{key}.origin=[{ox * scale:g} um, {oy * scale:g} um, {slab_um / 2:g} um]",
                    f"{key}.scale={scale:g}", f"{key}.slab={slab_um:g} um",
                    f"{key}.level={_um(a['level'], signed=True) * scale:g} um"]
        if a.get("shape") in ("contusion", "pericontusion"):
            # the impactor's size and site scale with the brain; the widths of the border
            # zones (penumbra, rim) do not: they are set by how far signals reach in tissue
            out += [f"{key}.tip_diameter={cci['tip_diameter'] * scale:g} um",
                    f"{key}.depth={cci['depth'] * scale:g} um",
                    f"{key}.site=[{cci['site_lateral'] * scale:g} um, "
                    f"{cci['site_ap'] * scale:g} um]"]
    return path, out + list(extra)


def reduced_bone(name: str, *, extent_mm: tuple[float, float, float],
                 axis_um: tuple[float, float], duration: str, dt: str = "6 h",
                 extra=()) -> tuple[Path, list[str]]:
    """The file and overrides of a reduced bone scenario (scenarios/bone/<name>.yaml).

    The domain is cut to a small block of the same metaphysis (same preset, geometry seed and
    voxel size) with the bone's axis moved (``axis_um``, the anatomy's ``center``) so that the
    block holds cortex as well as trabecular bone; densities, rates and the dose mechanism are
    unchanged (the dose reaching the smaller marrow scales with its volume).

    Parameters
    ----------
    extent_mm : 3 floats
        Domain extent, mm.
    axis_um : 2 floats
        Position of the bone's long axis in the lattice, µm (may lie outside the domain).
    duration, dt : str
        Simulated time and step, with units.
    extra : sequence of str
        More overrides.
    """
    path = ROOT / "scenarios" / "bone" / f"{name}.yaml"
    ex, ey, ez = extent_mm
    out = [f"domain.extent=[{ex:g} mm, {ey:g} mm, {ez:g} mm]",
           f"domain.duration={duration}", f"domain.dt={dt}",
           # the three labels share one anatomy mapping (a YAML anchor): one override moves all
           f"tissue.labels.0.region.anatomy.center=[{axis_um[0]:g} um, {axis_um[1]:g} um]"]
    return path, out + list(extra)
