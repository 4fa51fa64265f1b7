"""The bone marrow as a target organ of vesicle doses (``organ: bone_marrow``).

A lattice of a bone holds a small piece of the animal's marrow. A vesicle dose in the
blood reaches the marrow of the whole skeleton with a share of the injected dose (the
biodistribution of EV studies, as a fraction of the dose for all of the marrow), spread
over the marrow volume (uniform perfusion), so the simulated marrow of volume ``V``
receives ``V / V_marrow`` of it. Engineered vesicles (:func:`vesicle_preset`) change
that share by a factor and may carry a potency (native-particle equivalents per
particle). Every number is a row of ``seeds/delivery.csv``.

Delivered fraction of an intravenous dose::

    marrow share × V_entry / V_marrow × marrow factor × potency

An intraperitoneal dose is first absorbed into the blood (a fraction, first-order over
hours: :mod:`.intraperitoneal`), then meets the same factors.
"""

from __future__ import annotations

from dataclasses import dataclass

from .parameters import delivery_parameters, parameter
from .plan import Factor

__all__ = ["ORGANS", "Marrow", "marrow_of", "VesiclePreset", "vesicle_presets", "vesicle_preset",
           "marrow_factors"]

#: Target organs of an exosome dose: ``brain`` (the default, :mod:`.body`) and the marrow.
ORGANS = ("brain", "bone_marrow")


@dataclass(frozen=True)
class Marrow:
    """The marrow of one animal as a vesicle dose sees it.

    Attributes
    ----------
    species : str
    marrow_volume : float
        Bone marrow of the whole skeleton, µm³.
    """

    species: str
    marrow_volume: float


def marrow_of(species: str, marrow_volume: float | None = None) -> Marrow:
    """The :class:`Marrow` of ``species`` (``rat`` or ``mouse``), its volume optionally given (µm³)."""
    vol = parameter(f"{species}:marrow_volume") if marrow_volume is None else float(marrow_volume)
    return Marrow(species, vol)


@dataclass(frozen=True)
class VesiclePreset:
    """A kind of vesicle as a parameter set (rows ``vesicles:<name>:<parameter>``).

    Attributes
    ----------
    name : str
    marrow_factor : float
        Multiplier of the share of a blood-borne dose that reaches the marrow.
    potency : float
        Native-particle equivalents per particle (the field counts those).
    """

    name: str
    marrow_factor: float
    potency: float


def vesicle_presets() -> tuple:
    """Names of the vesicle presets in ``seeds/delivery.csv`` (``native`` first)."""
    names = []
    for key in delivery_parameters():
        parts = key.split(":")
        if len(parts) == 3 and parts[0] == "vesicles" and parts[2] == "marrow_factor":
            names.append(parts[1])
    return tuple(sorted(names, key=lambda n: (n != "native", n)))


def vesicle_preset(name: str, marrow_factor: float | None = None,
                   potency: float | None = None) -> VesiclePreset:
    """The preset ``name`` (one of :func:`vesicle_presets`) with optional overrides.

    Raises
    ------
    KeyError
        No such preset.
    """
    if name not in vesicle_presets():
        raise KeyError(name)
    mf = parameter(f"vesicles:{name}:marrow_factor") if marrow_factor is None else marrow_factor
    po = parameter(f"vesicles:{name}:potency") if potency is None else potency
    return VesiclePreset(name, float(mf), float(po))


def marrow_factors(share: float, marrow: Marrow, entry_volume: float,
                   preset: VesiclePreset) -> tuple:
    """Factors of a vesicle dose in the blood reaching ``entry_volume`` (µm³) of marrow.

    Parameters
    ----------
    share : float
        Fraction of the dose in the blood that reaches the whole marrow (native vesicles).
    marrow : Marrow
    entry_volume : float
        Simulated marrow the vesicles can enter, µm³.
    preset : VesiclePreset
        Factors equal to 1 are left out of the explanation.
    """
    out = [Factor("share of the blood dose reaching all marrow", share),
           Factor("marrow entry volume / whole marrow volume", entry_volume / marrow.marrow_volume)]
    if preset.marrow_factor != 1:
        out.append(Factor(f"marrow factor ({preset.name})", preset.marrow_factor))
    if preset.potency != 1:
        out.append(Factor(f"potency ({preset.name})", preset.potency))
    return tuple(out)
