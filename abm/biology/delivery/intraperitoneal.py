"""Intraperitoneal delivery of vesicles.

A dose injected into the peritoneal cavity reaches the blood only in part (the rest is
held by peritoneal macrophages and the surfaces of the gut and pancreas; Wiklander et
al. 2015, doi:10.3402/jev.v4.26316, saw less liver and spleen uptake after
intraperitoneal than after intravenous injection), and slowly: particles of EV size
drain through the lymphatics of the diaphragm over hours. Vesicles in the blood are
cleared within minutes, so absorption sets the time course: the delivered part arrives
first-order with the absorption half-time (a depot-like release into the target, not a
bolus). After absorption a dose meets the intravenous factors (:mod:`.intravenous`
for the brain, :mod:`.marrow` for the bone marrow).

Delivered fraction::

    absorbed fraction × [intravenous factors of the organ]

with arrival half-time ``vesicles:intraperitoneal_absorption_half_time``.
"""

from __future__ import annotations

from ...registry import ROUTES
from .intravenous import brain_vesicle_factors
from .marrow import marrow_factors
from .parameters import parameter
from .plan import Delivery, Factor
from .route import Route

__all__ = ["Intraperitoneal"]


class Intraperitoneal(Route):
    """Intraperitoneal injection of vesicles: absorbed in part, over hours, then systemic."""

    name = "intraperitoneal"
    needs_entry = True
    vesicles = True
    for_cells = False
    summary = "absorbed in part into the blood over hours, then as intravenous"

    def cells(self, body, entry_volume: float) -> Delivery:
        """Not offered for cells (:meth:`Route.cells`)."""
        raise NotImplementedError("intraperitoneal delivery is offered for vesicle doses only")

    @staticmethod
    def _absorbed() -> Factor:
        return Factor("absorbed into the blood", parameter("vesicles:intraperitoneal_absorbed_fraction"))

    def vesicle_delivery(self, body, entry_volume: float) -> Delivery:
        """The delivered fraction of a vesicle dose to the brain, first-order (:meth:`Route.vesicle_delivery`)."""
        return Delivery(self.name, ((self._absorbed(), *brain_vesicle_factors(body, entry_volume)),),
                        half_time=parameter("vesicles:intraperitoneal_absorption_half_time"))

    def marrow_delivery(self, marrow, entry_volume: float, preset) -> Delivery:
        """The delivered fraction of a vesicle dose to the marrow, first-order (:meth:`Route.marrow_delivery`)."""
        share = parameter("vesicles:marrow_share_intravenous")
        return Delivery(self.name, ((self._absorbed(),
                                     *marrow_factors(share, marrow, entry_volume, preset)),),
                        half_time=parameter("vesicles:intraperitoneal_absorption_half_time"))


ROUTES.register(Intraperitoneal(), builtin=True)
