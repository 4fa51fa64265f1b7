"""Timeline events of a scenario, one kind per module.

Each kind is defined in one module and registered in
:data:`abm.registry.EVENT_KINDS`: :mod:`.injury`, :mod:`.injection`, :mod:`.bolus`,
:mod:`.depot` (a depot's release law is shared with an injury's, :mod:`.release`),
:mod:`.exosomes` (routes of both injections and exosome doses: :mod:`.delivery_route`),
:mod:`.pulse` (a label such as BrdU that marks dividing cells).

The interface of a kind (:class:`~.base.EventKind`)::

    class EventKind:
        name: str                                         # the key under an event
        schema: type[SchemaModel]                         # pydantic model of its mapping
        def resolve(self, raw, ctx) -> spec               # cross references, units
        def describe(self, spec) -> str                   # for abm validate / abm info
        def expected_cells(self, spec) -> int             # cells it adds (memory estimate)
        def fire(self, spec, model, ctx: FireContext)     # apply it now

The scenario schema accepts ``events: - {at: <time>, <name>: {...}}`` with one key
per registered kind; the resolver calls ``resolve`` (a problem it raises as
:class:`abm.scenario.problems.Bad` is reported at its line); the runner calls ``fire``
at the start of the first step whose start time has reached ``at``. A kind registered
by a module outside the package (``EVENT_KINDS.register(MyEvent())``, the module named
under ``plugins:``) works the same.
"""

from .base import EventKind, FireContext, event_kind

# the import order is the registration order, which messages list kinds in
# isort: off
from .injury import InjuryEvent, InjurySpec
from .injection import InjectionEvent, InjectionSpec
from .bolus import BolusEvent, BolusSpec
from .depot import DepotEvent
from .pulse import PulseEvent, PulseSpec
from .release import DepotSpec
from .exosomes import ExosomeDoseEvent, ExosomeDoseSpec
# isort: on

__all__ = ["EventKind", "FireContext", "event_kind", "InjuryEvent", "InjurySpec",
           "InjectionEvent", "InjectionSpec", "BolusEvent", "BolusSpec", "DepotEvent", "DepotSpec",
           "ExosomeDoseEvent", "ExosomeDoseSpec", "PulseEvent", "PulseSpec"]
