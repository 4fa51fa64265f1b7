"""The *record* phase: the Mesa DataCollector, if the model has one."""

from __future__ import annotations

from ..plan import StepPlan

__all__ = ["record", "record_initial"]


def record_initial(model, plan: StepPlan) -> None:
    """Before the first step, record the initial state as step 0.

    This happens once the cells have been placed, so they are included.
    """
    if model.datacollector is not None and not model._collected_initial:
        model.steps -= 1
        model.datacollector.collect(model)
        model.steps += 1
        model._collected_initial = True


def record(model, plan: StepPlan) -> None:
    """Collect the model's reporters at the end of the step."""
    if model.datacollector is not None:
        model.datacollector.collect(model)
