"""Intracarotid (intra-arterial) delivery.

Cells injected into the internal carotid artery reach the brain before the lungs. A
first-pass fraction arrests in the ipsilateral carotid territory (taken as half the
brain, ``seeds/delivery.csv``), spread over its volume; the rest goes on into the
systemic circulation, where it meets the lungs like an intravenous dose
(:mod:`.intravenous`). Cells enter the parenchyma only where the blood-brain barrier is
open, first-order over hours.

Delivered fraction of a cell dose::

    first-pass lodging × V_entry / V_territory × extravasation
    + (1 - first-pass lodging) × [intravenous factors]

The simulated tissue is taken to lie in the injected side's territory.
"""

from __future__ import annotations

from ...registry import ROUTES
from .intravenous import systemic_cell_factors
from .parameters import parameter
from .plan import Delivery, Factor
from .route import Route

__all__ = ["Intracarotid"]


class Intracarotid(Route):
    """Intracarotid injection: first pass through the ipsilateral territory, then systemic."""

    name = "intracarotid"
    needs_entry = True
    summary = ("first pass through the ipsilateral carotid territory, the rest systemic; into "
               "open-BBB tissue")

    def cells(self, body, entry_volume: float) -> Delivery:
        """The delivered fraction and arrival of a cell dose (:meth:`Route.cells`)."""
        fp = parameter("cells:intracarotid_first_pass_lodging")
        first = (Factor("first-pass lodging", fp),
                 Factor("entry volume / territory volume", entry_volume / body.territory_volume),
                 Factor("extravasation", parameter("cells:extravasation_fraction")))
        systemic = (Factor("systemic (1 - first-pass lodging)", 1.0 - fp),
                    *systemic_cell_factors(body, entry_volume))
        return Delivery(self.name, (first, systemic),
                        half_time=parameter("cells:extravasation_half_time"))


class IntraArterial(Intracarotid):
    """``intra-arterial``: the same mechanism as :class:`Intracarotid` (the carotid is meant)."""

    name = "intra-arterial"


ROUTES.register(Intracarotid(), builtin=True)
ROUTES.register(IntraArterial(), builtin=True)
