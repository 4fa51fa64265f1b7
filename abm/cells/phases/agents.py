"""The *custom agents* phase: ordinary Mesa agents (the slow path)."""

from __future__ import annotations

import mesa

from ..plan import StepPlan

__all__ = ["custom_agents"]


def custom_agents(model, plan: StepPlan) -> None:
    """Run the ``step()`` of every ordinary Mesa agent of the model.

    The order is random, drawn from the model's Mesa generator. The agents' releases
    (:meth:`TissueModel.release`) join the exchange phase.
    """
    if model._agents:
        mesa.agent.AgentSet(list(model._agents), random=model.random).shuffle_do("step")
