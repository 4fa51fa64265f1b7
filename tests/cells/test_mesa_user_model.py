"""A Mesa-style user model, written as Mesa's tutorials teach, on a TissueModel.

A subclass of a built-in cell type with a method, the model's own DataCollector
collected by the user (at the end of ``__init__`` and of ``step``), ``batch_run`` with
one and two processes, and the rule for reporters given to the constructor.
"""

import mesa
import pandas as pd
import pytest

from abm import BMSC, TissueModel


class PrimedBMSC(BMSC):
    """A user's BMSC that can be primed (raises its CXCR4)."""

    def prime(self):
        self.CXCR4 = min(1.0, self.CXCR4 + 0.5)


class UserModel(TissueModel):
    """As a Mesa user writes it: own DataCollector, collect in __init__ and after step."""

    def __init__(self, n=20, seed=1):
        super().__init__((10, 10, 10), 20.0, fields=("SDF-1a", "VEGF"),
                         cell_types=[PrimedBMSC], seed=seed)
        self.primed_total = 0
        self.seed_cells(PrimedBMSC, n)
        self.datacollector = mesa.DataCollector(
            model_reporters={"cells": lambda m: len(m.agents), "steps": "steps",
                             "primed": "primed_total"},
            agent_reporters={"CXCR4": "CXCR4"})
        self.datacollector.collect(self)

    def step(self):
        super().step()
        group = self.agents.select(at_most=2)
        group.do("prime")
        self.primed_total += len(group)
        self.datacollector.collect(self)


def test_subclass_inherits_its_parents_parameters():
    m = TissueModel((6, 6, 6), fields=("SDF-1a", "VEGF"), cell_types=[BMSC], seed=1)
    u = TissueModel((6, 6, 6), fields=("SDF-1a", "VEGF"), cell_types=[PrimedBMSC], seed=1)
    assert u.params["PrimedBMSC"] == m.params["BMSC"]
    assert m.params["BMSC"]["speed"] > 0 and m.params["BMSC"]["chemotaxis"] > 0

    class SlowBMSC(BMSC):
        parameters = {"speed": 0.01}

    s = TissueModel((6, 6, 6), fields=("SDF-1a", "VEGF"), cell_types=[SlowBMSC], seed=1)
    assert s.params["SlowBMSC"] == {**m.params["BMSC"], "speed": 0.01}


def test_users_own_collector_is_collected_once_per_step_by_the_user():
    m = UserModel(n=20)
    m.agents.select(at_most=1).do("prime")
    for _ in range(3):
        m.step()
    mv = m.datacollector.get_model_vars_dataframe()
    assert mv["steps"].tolist() == [0, 1, 2, 3]                  # one row per step
    assert mv["primed"].tolist() == [0, 2, 4, 6]                 # after the user's step code
    av = m.datacollector.get_agent_vars_dataframe()
    assert sorted(set(av.index.get_level_values("Step"))) == [0, 1, 2, 3]
    first = av.xs(0, level="Step")["CXCR4"]
    assert len(first) == 20 and len(av.xs(3, level="Step")) == len(m.agents)


@pytest.mark.parametrize("processes", [1, 2])
def test_batch_run_rows_carry_the_right_step(processes):
    rows = mesa.batch_run(UserModel, parameters={"n": [10, 15], "seed": [3]}, iterations=1,
                          max_steps=3, number_processes=processes, data_collection_period=1,
                          display_progress=False)
    df = pd.DataFrame(rows)
    assert (df["Step"] == df["steps"]).all()
    assert sorted(set(df["Step"])) == [0, 1, 2, 3]
    assert (df["primed"] == 2 * df["Step"]).all()
    start = df[df.Step == 0].groupby("n")["cells"].first().to_dict()
    assert start == {10: 10, 15: 15}
    assert len(df[(df.Step == 0) & (df.n == 15)]) == 15                     # one row per agent


class Reported(TissueModel):
    """Reporters given to the constructor; the subclass's own step code runs after super()."""

    def __init__(self, manual_collect=False):
        super().__init__((6, 6, 6), fields=("VEGF",), cell_types=[BMSC], seed=2,
                         model_reporters={"marks": "marks", "steps": "steps"})
        self.marks = 0
        self.seed_cells(BMSC, 5)
        if manual_collect:
            self.datacollector.collect(self)        # as Mesa's docs do in __init__

    def step(self):
        super().step()
        self.marks += 10


@pytest.mark.parametrize("manual", [False, True])
def test_constructor_reporters_collect_after_the_whole_step_once(manual):
    m = Reported(manual_collect=manual)
    for _ in range(3):
        m.step()
    mv = m.datacollector.get_model_vars_dataframe()
    assert mv["steps"].tolist() == [0, 1, 2, 3]
    assert mv["marks"].tolist() == [0, 10, 20, 30]


def test_time_is_the_models_with_a_mesa_that_advances_time(monkeypatch):
    """A Mesa whose Model advances ``time`` before the user's step (as Mesa's main branch)."""

    def advancing_step(self, *args, **kwargs):
        self.steps += 1
        self.time = getattr(self, "time", 0.0) + 1.0
        self._user_step(*args, **kwargs)

    reference = TissueModel((6, 6, 6), fields=("VEGF",), cell_types=[BMSC], seed=4, dt=2.0)
    monkeypatch.setattr(mesa.Model, "_wrapped_step", advancing_step)
    m = TissueModel((6, 6, 6), fields=("VEGF",), cell_types=[BMSC], seed=4, dt=2.0)
    for model in (reference, m):
        model.seed_cells(BMSC, 10)
        for _ in range(3):
            model.step()
    assert m.time == reference.time == 6.0
    assert (m.positions(BMSC) == reference.positions(BMSC)).all()
