"""The *record* phase: the model's own DataCollector, once per step.

The rule (README, "Cells"): a DataCollector the model builds from the constructor's
``model_reporters``/``agent_reporters``/``agenttype_reporters`` records the initial
state as step 0 when the first step starts (so cells placed after construction are
included) and then each step once, after the whole ``step()``, a subclass's own code
included. A step already recorded (the user called ``collect`` at that step, as
Mesa's tutorials do in ``__init__``) is not recorded again. A DataCollector the user
assigns to ``self.datacollector`` is collected only by the user, as in plain Mesa.

The two phases in :meth:`TissueModel.step <abm.cells.TissueModel.step>` mark the
places in the step; the collection itself runs around Mesa's step, in
:meth:`TissueModel._step_and_record <abm.cells.TissueModel>`.
"""

from __future__ import annotations

import mesa

from ..plan import StepPlan

__all__ = ["StepCollector", "collect_initial", "collect_step", "record", "record_initial"]


class StepCollector(mesa.DataCollector):
    """A Mesa DataCollector that knows which steps it has recorded (``collected_steps``)."""

    def __init__(self, *args, **kwargs):  # noqa: D107
        super().__init__(*args, **kwargs)
        self.collected_steps: set[int] = set()

    def collect(self, model):
        """Collect every reporter now, as Mesa's ``DataCollector.collect``."""
        super().collect(model)
        self.collected_steps.add(int(model.steps))


def _own_collector(model):
    dc = model.datacollector
    return dc if dc is not None and dc is getattr(model, "_builtin_collector", None) else None


def collect_initial(model) -> None:
    """Before the first step: record step 0 with the model's own collector, unless done."""
    dc = _own_collector(model)
    if dc is not None and not model._collected_initial:
        if int(model.steps) not in dc.collected_steps:
            dc.collect(model)
    model._collected_initial = True


def collect_step(model) -> None:
    """After a whole step: record it with the model's own collector, unless already done."""
    dc = _own_collector(model)
    if dc is not None and int(model.steps) not in dc.collected_steps:
        dc.collect(model)


def record_initial(model, plan: StepPlan) -> None:
    """The step-0 record (made before Mesa's step began; see :func:`collect_initial`)."""


def record(model, plan: StepPlan) -> None:
    """The step's record (made after the whole ``step()``; see :func:`collect_step`)."""
