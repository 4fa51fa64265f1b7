"""Reduced-size variants of the shipped brain scenarios, as ``--set`` overrides.

The anatomy is scaled down (every length of the forebrain preset times ``scale``; the
coronal level and a contusion's impactor too; not the widths of the border zones), the slab thinned and the domain cut to match; the run is shortened
and its step lengthened. Densities, rates and the delivery mechanism are unchanged, so
the dose that reaches the smaller tissue scales with its volume.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from abm.units import LENGTH, to_internal

ROOT = Path(__file__).resolve().parents[2]
BRAIN = ROOT / "scenarios" / "brain"


def _anatomy_paths(node, path=()):
    """Key paths of every mapping that places the anatomy (it has an ``origin``)."""
    if isinstance(node, dict):
        if "origin" in node and "species" in node:
            yield path
        for k, v in node.items():
            yield from _anatomy_paths(v, path + (str(k),))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _anatomy_paths(v, path + (str(i),))


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
    for p in _anatomy_paths(tree):
        a = _get(tree, p)
        ox, oy, _ = (_um(v) for v in a["origin"])
        key = ".".join(p)
        out += [f"{key}.origin=[{ox * scale:g} um, {oy * scale:g} um, {slab_um / 2:g} um]",
                f"{key}.scale={scale:g}", f"{key}.slab={slab_um:g} um",
                f"{key}.level={_um(a['level'], signed=True) * scale:g} um"]
    for p in _lesion_paths(tree):
        key = ".".join(p)
        if _get(tree, p)["shape"] in ("contusion", "pericontusion"):
            out += [f"{key}.tip_diameter={3000 * scale:g} um", f"{key}.depth={1000 * scale:g} um",
                    f"{key}.site=[{2000 * scale:g} um, {-2000 * scale:g} um]"]
    return path, out + list(extra)


def _get(tree, path):
    a = tree
    for k in path:
        a = a[int(k)] if isinstance(a, list) else a[k]
    return a


def _lesion_paths(node, path=()):
    """Key paths of the contusion regions, whose impactor size and site scale with the brain.

    Their defaults are in seeds/anatomy.csv. The widths of the border zones (penumbra, rim)
    are not scaled: they are set by how far signals reach in tissue, not by the brain's size.
    """
    if isinstance(node, dict):
        if node.get("shape") in ("contusion", "pericontusion"):
            yield path
        for k, v in node.items():
            yield from _lesion_paths(v, path + (str(k),))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _lesion_paths(v, path + (str(i),))
