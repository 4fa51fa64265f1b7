"""TissueModel.step is its phases, in order, over a typed step plan."""

import numpy as np

import abm.cells.phases as P
from abm import BMSC, Microglia, TissueModel
from abm.cells import PopulationPlan, StepPlan


def test_step_runs_the_phases_in_the_documented_order(monkeypatch):
    calls, plans = [], []
    for f in P.PHASES:
        def wrapped(model, plan, _f=f):
            calls.append(_f.__name__)
            plans.append(plan)
            _f(model, plan)
        monkeypatch.setattr(P, f.__name__, wrapped)
    m = TissueModel(shape=(6, 6, 6), fields=("SDF-1a",), cell_types=[BMSC, Microglia],
                    backend="numpy", seed=2)
    m.seed_cells("BMSC", 20)
    m.step()
    assert calls == ["record_initial", "sense", "decide", "move", "divide", "custom_agents",
                     "exchange", "fate", "tissue", "diffuse", "record"]
    plan = plans[0]
    assert all(p is plan for p in plans) and isinstance(plan, StepPlan)
    assert (plan.step, plan.time, plan.dt, plan.end_time) == (1, 0.0, 1.0, 1.0)
    assert m.time == 1.0
    # only populations with agents get a plan; its arrays have one row per agent
    assert list(plan.populations) == ["BMSC"]
    c = plan.populations["BMSC"]
    assert isinstance(c, PopulationPlan) and c.n == 20
    assert c.keys.shape == (20,) and c.dies.dtype == bool and c.diff_to.shape == (20,)
    assert c.hop.shape == (6, 20) and np.allclose(c.hop_total, c.hop.sum(axis=0))
    assert set(c.var_rates) == {"CXCR4"}
    np.testing.assert_array_equal(c.flat, np.ravel_multi_index(m.positions("BMSC").T, m.shape))
