"""The interface of a delivery route (registered in :data:`abm.registry.ROUTES`)."""

from __future__ import annotations

from typing import ClassVar

__all__ = ["Route"]


class Route:
    """A way of giving cells or vesicles, as a mechanism.

    Class attributes
    ----------------
    name : str
        The route's name in scenario files (``route: <name>``).
    needs_entry : bool
        True for routes through the blood: what arrives enters only where the
        blood-brain barrier is open (the scenario's ``bbb_open`` labels), and the
        delivered count scales with that entry volume.
    vesicles : bool
        Whether the route is offered for exosome doses.
    for_cells : bool
        Whether the route is offered for cell injections.

    A subclass implements :meth:`cells` (and :meth:`vesicle_delivery` if ``vesicles``).
    """

    name: ClassVar[str] = ""
    needs_entry: ClassVar[bool] = False
    vesicles: ClassVar[bool] = False
    for_cells: ClassVar[bool] = True
    summary: ClassVar[str] = ""

    def cells(self, body, entry_volume: float):
        """The :class:`~.plan.Delivery` of a cell dose.

        Parameters
        ----------
        body : Body
            The animal (brain volume, cardiac output share).
        entry_volume : float
            Volume of the simulated tissue the cells can enter, µm³ (routes with
            ``needs_entry``; ignored by the others).
        """
        raise NotImplementedError

    def vesicle_delivery(self, body, entry_volume: float):
        """The :class:`~.plan.Delivery` of a vesicle (exosome) dose (see :meth:`cells`)."""
        raise NotImplementedError

    def marrow_delivery(self, marrow, entry_volume: float, preset):
        """The :class:`~.plan.Delivery` of a vesicle dose to the bone marrow, or None if not offered.

        Parameters
        ----------
        marrow : Marrow
            The animal's marrow (:mod:`.marrow`).
        entry_volume : float
            Simulated marrow the vesicles can enter, µm³.
        preset : VesiclePreset
            The kind of vesicle (marrow factor, potency).
        """
        return None

    def __repr__(self) -> str:
        return f"<route {self.name}>"
