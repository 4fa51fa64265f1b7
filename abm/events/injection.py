"""The ``injection`` event.

Transplanted cells placed in a target region, the delivered
fraction of a dose given by a route: ``injection: {cell_type, dose, route,
delivered_fraction, target, state, values}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from pydantic import Field

from ..errors import ModelInputError
from ..regions import Region
from ..registry import EVENT_KINDS
from ..scenario.problems import Bad
from ..scenario.quantities import Count, PosNumber, RegionRef, SchemaModel, Unit01
from .base import EventKind

__all__ = ["InjectionSpec", "InjectionEvent", "ROUTES"]

ROUTES = ("intracerebral", "intravenous", "intra-arterial", "local")


class _Schema(SchemaModel):
    cell_type: str
    dose: Count
    route: Literal["intracerebral", "intravenous", "intra-arterial", "local"]
    delivered_fraction: Optional[PosNumber] = None
    target: RegionRef
    state: Optional[str] = None
    values: dict[str, Unit01] = Field(default_factory=dict)


@dataclass(frozen=True)
class InjectionSpec:
    """Transplanted cells.

    Attributes
    ----------
    cell_type : str
    dose : float
        Cells injected.
    route : str
    delivered_fraction : float
        Fraction of the dose that reaches the simulated tissue, (0, 1].
    target : Region
    state : str or None
    values : dict
    """

    cell_type: str
    dose: float
    route: str
    delivered_fraction: float
    target: Region
    state: str | None = None
    values: dict = field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        """Cells placed: ``round(dose × delivered_fraction)``."""
        return int(round(self.dose * self.delivered_fraction))


class InjectionEvent(EventKind):
    """Place ``round(dose × delivered_fraction)`` cells in the target."""

    name = "injection"
    schema = _Schema

    def resolve(self, raw, ctx) -> InjectionSpec:
        """The spec of the event from its validated mapping (:meth:`EventKind.resolve`)."""
        cls = ctx.cell_type(raw.cell_type)
        ctx.check_state_values(cls, raw.state, raw.values)
        frac = raw.delivered_fraction
        if frac is None:
            if raw.route in ("intravenous", "intra-arterial"):
                raise Bad(f"an {raw.route} injection needs delivered_fraction: the fraction of "
                          f"the dose that reaches this piece of tissue (e.g. 0.0005)")
            frac = 1.0
        if frac > 1:
            raise Bad(f"must be <= 1, got {frac:g}", key="delivered_fraction")
        target = ctx.sub(("target",), ctx.region, raw.target)
        return InjectionSpec(cls.cell_type, raw.dose, raw.route, frac, target, raw.state,
                             dict(raw.values))

    def describe(self, spec) -> str:
        """A short phrase for ``abm validate`` (:meth:`EventKind.describe`)."""
        return f"{spec.n_cells} {spec.cell_type} ({spec.route}) into {spec.target.describe()}"

    def expected_cells(self, spec) -> int:
        """Cells placed: ``round(dose × delivered_fraction)``."""
        return int(spec.n_cells)

    def fire(self, spec, model, ctx) -> None:
        """Apply the event to the model now (:meth:`EventKind.fire`)."""
        mask = ctx.mask(spec.target)
        values = dict(spec.values or {})
        if spec.state is not None:
            values["state"] = spec.state
        try:
            model.seed_cells(spec.cell_type, int(spec.n_cells), region=mask, **values)
        except ModelInputError as exc:
            raise ModelInputError(f"injection of {spec.cell_type} at t = {ctx.time:g} min: {exc}; "
                                  "lower the dose or delivered_fraction, or widen the "
                                  "target") from None
        ctx.log.info("t = %g min: injected %d %s cells (%s route)", model.time,
                     int(spec.n_cells), spec.cell_type, spec.route)


EVENT_KINDS.register(InjectionEvent(), builtin=True)
