"""Exosome doses: vesicle protein (µg) to particles, particles to field amounts.

Papers give exosome doses as µg of vesicle protein or as particle counts. A mass is
turned into particles with a particle-to-protein ratio (``seeds/delivery.csv``, an
estimate; a scenario should give its preparation's ``particles_per_ug``).
"""

from __future__ import annotations

from ... import units as U
from .parameters import parameter

__all__ = ["particles_of"]


def particles_of(dose, particles_per_ug: float | None = None) -> tuple[float, str]:
    """Particles in ``dose`` and how they were counted.

    Parameters
    ----------
    dose : str or number
        A mass (``"100 ug"``) or a count (``"1e10 particles"``; a bare number is a count).
    particles_per_ug : float, optional
        Particles per µg of vesicle protein (default: the seeds/delivery.csv estimate).

    Returns
    -------
    (float, str)
        Particles, and a phrase (``"100 ug × 1e+10 particles/ug"``).

    Raises
    ------
    abm.units.UnitProblem
        Not a mass or a count.
    """
    q, _bare = U.parse_quantity(dose)
    if q.check("[mass]"):
        ug = float(q.to("ug").magnitude)
        if not ug >= 0:
            raise U.UnitProblem(f"a dose must be >= 0, got {dose}")
        ratio = parameter("vesicles:particles_per_ug") if particles_per_ug is None \
            else float(particles_per_ug)
        return ug * ratio, f"{ug:g} ug × {ratio:.3g} particles/ug"
    if q.dimensionless:
        n = float(q.to("").magnitude)
        if not n >= 0:
            raise U.UnitProblem(f"a dose must be >= 0, got {dose}")
        return n, f"{n:.3g} particles"
    raise U.UnitProblem(f"expected an exosome dose as vesicle protein (e.g. '100 ug') or a "
                        f"particle count (e.g. '1e10 particles'), got '{dose}' "
                        f"({U.describe_dimension(q)})")
