"""The *custom agents* phase: ordinary Mesa agents (the slow path)."""

from __future__ import annotations

from ..mesa_hooks import ordinary_agents
from ..plan import StepPlan

__all__ = ["custom_agents"]


def custom_agents(model, plan: StepPlan) -> None:
    """Run the ``step()`` of every ordinary Mesa agent of the model.

    The order is random, drawn from the model's Mesa generator. The agents' releases
    (:meth:`TissueModel.release`) join the exchange phase.
    """
    agents = ordinary_agents(model)
    if len(agents):
        agents.shuffle_do("step")
