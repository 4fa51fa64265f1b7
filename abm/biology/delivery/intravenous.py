"""Intravenous (tail-vein) delivery.

The dose meets the lungs first: most MSCs are held there at first pass and do not go
on in numbers (Fischer et al. 2009, doi:10.1089/scd.2008.0253; Eggenhofer et al. 2012,
doi:10.3389/fimmu.2012.00297; low brain uptake after stroke, Detante et al. 2009,
doi:10.3727/096368909X474230). What passes is carried by the arterial blood; the brain
receives its share of the cardiac output, spread over its volume, so the simulated
tissue that cells can enter (where the blood-brain barrier is open) receives
``entry volume / brain volume`` of it. A fraction of the cells carried there cross into
the parenchyma, first-order over hours; the rest of the dose is lost to other organs.

Delivered fraction of a cell dose::

    (1 - lung retention) × brain share of cardiac output × V_entry / V_brain × extravasation

Vesicles (30-150 nm) pass the lungs; a fraction of those perfusing open-BBB tissue stay
there, at once (their blood half-life is minutes).

To the bone marrow (``organ: bone_marrow``) the dose reaches the marrow with its share
of the injected dose (:mod:`.marrow`).

Every factor is in ``seeds/delivery.csv`` with its status (all are estimates today).
"""

from __future__ import annotations

from ...registry import ROUTES
from .marrow import marrow_factors
from .parameters import parameter
from .plan import Delivery, Factor
from .route import Route

__all__ = ["Intravenous", "systemic_cell_factors", "brain_vesicle_factors"]


def systemic_cell_factors(body, entry_volume: float) -> tuple:
    """Factors of a cell dose in the venous blood reaching the entry volume (µm³)."""
    return (Factor("lung pass (1 - lung retention)", 1.0 - parameter("cells:lung_retention")),
            Factor("brain share of cardiac output", body.cardiac_output_share),
            Factor("entry volume / brain volume", entry_volume / body.brain_volume),
            Factor("extravasation", parameter("cells:extravasation_fraction")))


def brain_vesicle_factors(body, entry_volume: float) -> tuple:
    """Factors of a vesicle dose in the venous blood staying in the entry volume (µm³) of the brain."""
    return (Factor("lung pass", parameter("vesicles:lung_pass")),
            Factor("brain share of cardiac output", body.cardiac_output_share),
            Factor("entry volume / brain volume", entry_volume / body.brain_volume),
            Factor("retained in open-BBB tissue", parameter("vesicles:brain_retention")))


class Intravenous(Route):
    """Intravenous injection: lungs first, then the brain's share of the blood."""

    name = "intravenous"
    needs_entry = True
    vesicles = True
    summary = "lungs first, then the brain's share of cardiac output, into open-BBB tissue"

    def cells(self, body, entry_volume: float) -> Delivery:
        """The delivered fraction and arrival of a cell dose (:meth:`Route.cells`)."""
        return Delivery(self.name, (systemic_cell_factors(body, entry_volume),),
                        half_time=parameter("cells:extravasation_half_time"))

    def vesicle_delivery(self, body, entry_volume: float) -> Delivery:
        """The delivered fraction of a vesicle dose, all at once (:meth:`Route.vesicle_delivery`)."""
        return Delivery(self.name, (brain_vesicle_factors(body, entry_volume),))

    def marrow_delivery(self, marrow, entry_volume: float, preset) -> Delivery:
        """The delivered fraction of a vesicle dose to the marrow, at once (:meth:`Route.marrow_delivery`).

        Vesicles leave the blood within minutes, so the marrow's share arrives at once.
        """
        return Delivery(self.name, (marrow_factors(parameter("vesicles:marrow_share_intravenous"),
                                                   marrow, entry_volume, preset),))


ROUTES.register(Intravenous(), builtin=True)
