"""What the field engine is made of: species (fields), tissue classes and depots.

Units (internal, fixed): length µm, time min, concentration in each field's
declared unit (``Species.unit``), amount = concentration × µm³.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from kernels.explicit import FACES

from ..errors import ModelInputError

__all__ = ["Species", "TissueClass", "Depot", "finite_nonneg", "resolve_species"]

def finite_nonneg(name: str, value, what: str) -> float:
    """``value`` as a float, refusing NaN, infinity and negatives (``ModelInputError``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ModelInputError(f"{what} of {name!r} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0:
        raise ModelInputError(f"{what} of {name!r} must be finite and >= 0, got {value!r}")
    return v


@dataclass(frozen=True)
class Species:
    """A diffusing field.

    Parameters
    ----------
    name : str
        Field name, e.g. ``"SDF-1a"``.
    diffusion : float
        Diffusion coefficient in free tissue, µm²/min.
    decay : float
        First-order decay (degradation/clearance) rate, 1/min.
    initial : float
        Initial concentration everywhere, in ``unit``.
    unit : str
        Concentration unit of the field (a label; the engine does not convert).
    fixed_faces : mapping of str to float
        Faces held at a fixed concentration: keys among
        ``"x-", "x+", "y-", "y+", "z-", "z+"``, values in ``unit``. Faces not
        listed are no-flux.
    """

    name: str
    diffusion: float
    decay: float = 0.0
    initial: float = 0.0
    unit: str = "nM"
    fixed_faces: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ModelInputError(f"a field needs a non-empty name, got {self.name!r}")
        finite_nonneg(self.name, self.diffusion, "diffusion coefficient (µm²/min)")
        finite_nonneg(self.name, self.decay, "decay rate (1/min)")
        finite_nonneg(self.name, self.initial, "initial value")
        for face, val in dict(self.fixed_faces).items():
            if face not in FACES:
                raise ModelInputError(
                    f"field {self.name!r}: unknown face {face!r}; use one of {', '.join(FACES)}")
            finite_nonneg(self.name, val, f"fixed value on face {face}")

    @property
    def fixed_mask(self) -> int:
        """Bit ``2*axis + side`` set for each fixed face."""
        return sum(1 << FACES.index(f) for f in self.fixed_faces)


@dataclass(frozen=True)
class TissueClass:
    """Properties of one tissue label.

    Parameters
    ----------
    name : str
        E.g. ``"parenchyma"``, ``"lesion core"``, ``"cortical bone"``.
    diffusion_scale : float
        Multiplier of every field's diffusion coefficient in this tissue.
    decay_scale : float
        Multiplier of every field's decay rate in this tissue.
    permeable : bool
        ``False`` for voxels that carry no flux at all (mineralised bone, a
        scaffold wall); their diffusion scale is treated as 0.
    """

    name: str
    diffusion_scale: float = 1.0
    decay_scale: float = 1.0
    permeable: bool = True

    def __post_init__(self):
        finite_nonneg(self.name, self.diffusion_scale, "diffusion scale")
        finite_nonneg(self.name, self.decay_scale, "decay scale")


@dataclass
class Depot:
    """A region that releases a loaded amount into a field (e.g. an exosome hydrogel).

    Attributes
    ----------
    species : str
        Field it releases into.
    voxels : array of int
        Flat indices of the (permeable) voxels it releases into, evenly.
    remaining : float
        Amount still loaded, concentration × µm³ (``inf`` for an inexhaustible source).
    law : {"first_order", "constant"}
        ``first_order``: rate × remaining; ``constant``: a fixed amount per minute
        until empty.
    rate : float
        1/min for ``first_order``; amount/min for ``constant``.
    released : float
        Amount released so far, concentration × µm³.
    """

    species: str
    voxels: object
    remaining: float
    law: str
    rate: float
    released: float = 0.0

    def release_over(self, dt: float) -> float:
        """Amount released during the next ``dt`` minutes (updates the depot)."""
        if self.law == "first_order":
            amt = self.remaining * -math.expm1(-self.rate * dt)
        else:
            amt = min(self.rate * dt, self.remaining)
        if math.isfinite(self.remaining):
            self.remaining -= amt
        self.released += amt
        return amt


def resolve_species(fields) -> list[Species]:
    """Species from a sequence of :class:`Species` or names.

    A name picks its defaults in ``seeds/fields.csv`` (read once, only if some field
    is given by name).

    Raises
    ------
    ModelInputError
        For a name that ``seeds/fields.csv`` does not have.
    """
    from ..seeds import load_field_defaults  # noqa: PLC0415

    defaults = None
    species = []
    for f in fields:
        if isinstance(f, str):
            defaults = defaults or load_field_defaults()
            if f not in defaults:
                raise ModelInputError(f"unknown field {f!r}; seeds/fields.csv has "
                                      f"{sorted(defaults)}, or pass a Species")
            f = defaults[f]
        species.append(f)
    return species
