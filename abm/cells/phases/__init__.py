"""The phases of one model step, in order (``DESIGN.md``, "One step").

Each phase is a function ``phase(model, plan)`` over the step's typed
:class:`~abm.cells.plan.StepPlan`; :meth:`abm.cells.TissueModel.step` calls them
in the order of :data:`PHASES`:

=================  ==============================================================
``record_initial`` the DataCollector's step-0 record, once, before the first step
``sense``          per population: voxels, random keys and the lazy signal table
``decide``         rules → behaviour values → hop probabilities and fate events
``move``           lattice hops with exclusion (:func:`~abm.cells.placement.place_with_exclusion`)
``divide``         daughters placed next to their mothers, with the same exclusion
``custom_agents``  ordinary Mesa agents run their ``step()`` (slow path)
``exchange``       secretion, uptake and release handed to the field engine
``fate``           variables relax, states change, deaths release, cells differentiate
``tissue``         tissue processes advance their per-voxel states
``diffuse``        the fields advance by ``dt``; the model time advances
``record``         the DataCollector collects
=================  ==============================================================
"""

from .agents import custom_agents
from .decide import decide
from .diffuse import diffuse
from .divide import divide
from .exchange import exchange
from .fate import fate
from .move import move
from .record import record, record_initial
from .sense import sense
from .tissue import tissue

#: The phases of a step, in order.
PHASES = (record_initial, sense, decide, move, divide, custom_agents, exchange, fate, tissue,
          diffuse, record)

__all__ = ["PHASES", "custom_agents", "decide", "diffuse", "divide", "exchange", "fate", "move",
           "record", "record_initial", "sense", "tissue"]
