"""Intracerebral and intralesional (stereotactic) delivery, and plain local placement.

A stereotactic injection puts the cells in the target at once, less what flows back up
the needle track (the reflux loss, an estimate in ``seeds/delivery.csv``). ``local``
places the whole dose in the target with no loss (a dose already counted in the
tissue; an exosome dose put on or into the target).
"""

from __future__ import annotations

from ...registry import ROUTES
from .parameters import parameter
from .plan import Delivery, Factor
from .route import Route

__all__ = ["Intracerebral", "Intralesional", "Local"]


class Intracerebral(Route):
    """Stereotactic injection into the brain: the target, less the reflux loss."""

    name = "intracerebral"
    summary = "into the target at once, less the reflux loss"

    def cells(self, body, entry_volume: float) -> Delivery:
        """The delivered fraction of a cell dose, all at once (:meth:`Route.cells`)."""
        return Delivery(self.name, ((
            Factor("kept (1 - reflux loss)", 1.0 - parameter("cells:intracerebral_reflux_loss")),),))


class Intralesional(Intracerebral):
    """Stereotactic injection into the lesion (the same mechanism, the target is the lesion)."""

    name = "intralesional"


class Local(Route):
    """The whole dose in the target at once (no loss)."""

    name = "local"
    vesicles = True
    summary = "the whole dose in the target at once"

    def cells(self, body, entry_volume: float) -> Delivery:
        """All of the dose (:meth:`Route.cells`)."""
        return Delivery(self.name, ((Factor("placed as given", 1.0),),))

    def vesicle_delivery(self, body, entry_volume: float) -> Delivery:
        """All of the dose (:meth:`Route.vesicle_delivery`)."""
        return Delivery(self.name, ((Factor("placed as given", 1.0),),))

    def marrow_delivery(self, marrow, entry_volume: float, preset) -> Delivery:
        """All of the dose, times the preset's potency (:meth:`Route.marrow_delivery`)."""
        f = (Factor("placed as given", 1.0),)
        if preset.potency != 1:
            f += (Factor(f"potency ({preset.name})", preset.potency),)
        return Delivery(self.name, (f,))


for _r in (Intracerebral(), Intralesional(), Local()):
    ROUTES.register(_r, builtin=True)
