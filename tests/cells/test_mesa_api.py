"""Mesa's API on a TissueModel: agent sets, views, DataCollector, batch_run, slow-path agents."""

import mesa
import numpy as np
import pytest

from abm import BMSC, Microglia, ModelInputError, TissueModel
from abm.cells import CellGoneError
from abm.fields import Species


class Homing(TissueModel):
    """A small model the way a user would write one for batch_run."""

    def __init__(self, n_bmsc=50, n_microglia=30, seed=None):
        super().__init__((12, 12, 12), 20.0, fields=("SDF-1a", "VEGF", "BDNF", "exosome"),
                         cell_types=[BMSC, Microglia], capacity=2, seed=seed,
                         model_reporters={"BMSCs": lambda m: m.count(BMSC),
                                          "M1": lambda m: m.state_counts(Microglia)["M1"],
                                          "VEGF total": lambda m: m.fields.total_amount("VEGF")},
                         agent_reporters={"x": lambda a: a.pos[0]},
                         agenttype_reporters={BMSC: {"CXCR4": "CXCR4"}})
        self.seed_cells(BMSC, n_bmsc)
        self.seed_cells(Microglia, n_microglia)


def test_agent_sets_len_iter_select_agg_get():
    m = Homing(seed=1)
    assert len(m.agents) == 80
    assert len(m.agents_by_type[BMSC]) == 50 and len(m.agents_by_type[Microglia]) == 30
    views = list(m.agents_by_type[BMSC])
    assert all(isinstance(a, BMSC) and isinstance(a, mesa.Agent) for a in views)
    assert len({a.unique_id for a in m.agents}) == 80
    cx = np.asarray(m.populations["BMSC"].columns["CXCR4"])
    assert m.agents_by_type[BMSC].agg("CXCR4", np.mean) == pytest.approx(cx.mean())
    assert m.agents_by_type[BMSC].agg("CXCR4", max) == pytest.approx(cx.max())
    assert m.agents_by_type[BMSC].get("pos") == [tuple(p) for p in m.positions(BMSC)]
    high = m.agents.select(lambda a: a.pos[0] >= 6)
    assert len(high) == int((m.positions(BMSC)[:, 0] >= 6).sum()
                            + (m.positions(Microglia)[:, 0] >= 6).sum())
    assert all(a.pos[0] >= 6 for a in high)
    only_mg = m.agents.select(agent_type=Microglia)
    assert len(only_mg) == 30 and all(a.state == "M0" for a in only_mg)
    assert m.agents_by_type[Microglia].groupby("state").count() == {"M0": 30}
    assert len(m.agents.select(at_most=5)) == 5
    assert len(m.agents.shuffle()) == 80


def test_views_read_and_write_the_arrays_and_never_copy():
    m = Homing(seed=2)
    a = next(iter(m.agents_by_type[BMSC]))
    row = m.populations["BMSC"].row_of(a.unique_id)
    a.CXCR4 = 0.9                                  # writes through to the array
    assert float(m.populations["BMSC"].columns["CXCR4"][row]) == 0.9
    m.populations["BMSC"].columns["CXCR4"][row] = 0.25
    assert a.CXCR4 == 0.25                         # reads the array, not a stale copy
    a.favourite_colour = "blue"                    # undeclared: the cell's own, not a column
    assert a.favourite_colour == "blue" and "favourite_colour" not in m.populations["BMSC"].columns
    with pytest.raises(AttributeError, match="parameter of BMSC"):
        a.speed = 3.0                              # one value per type: refused, not ignored
    b = BMSC(m, pos=(0, 0, 0), CXCR4=0.7)          # constructing a view adds a cell
    assert m.count(BMSC) == 51 and b.CXCR4 == 0.7 and b in m.agents
    b.remove()
    assert m.count(BMSC) == 50 and not b.alive
    with pytest.raises(CellGoneError):
        _ = b.CXCR4


def test_datacollector_records_model_and_agent_columns():
    m = Homing(seed=3)
    for _ in range(4):
        m.step()
    mv = m.datacollector.get_model_vars_dataframe()
    assert list(mv.columns) == ["BMSCs", "M1", "VEGF total"] and len(mv) == 5
    assert mv["BMSCs"].iloc[0] == 50
    assert mv["VEGF total"].iloc[0] == 0 and mv["VEGF total"].iloc[-1] > 0   # BMSCs secrete VEGF
    av = m.datacollector.get_agent_vars_dataframe()
    assert list(av.columns) == ["x"] and av.index.names == ["Step", "AgentID"]
    assert len(av.xs(0, level="Step")) == 80
    tv = m.datacollector.get_agenttype_vars_dataframe(BMSC)
    assert "CXCR4" in tv.columns and len(tv.xs(4, level="Step")) == m.count(BMSC)


def test_batch_run_returns_expected_columns():
    rows = mesa.batch_run(Homing, parameters={"n_bmsc": [20, 40], "seed": [5]},
                          iterations=1, max_steps=3, number_processes=1,
                          data_collection_period=1, display_progress=False)
    import pandas as pd

    df = pd.DataFrame(rows)
    for col in ("RunId", "iteration", "Step", "n_bmsc", "seed", "BMSCs", "M1", "VEGF total",
                "AgentID", "x"):
        assert col in df.columns, col
    first = df[df.Step == 0].groupby("n_bmsc")["BMSCs"].first()
    assert first.to_dict() == {20: 20, 40: 40}


class Neuron(mesa.Agent):
    """A custom cell type on the slow path: an ordinary Mesa agent with a Python step."""

    def __init__(self, model, pos):
        super().__init__(model)
        self.pos = pos
        self.steps_taken = 0

    def step(self):
        self.steps_taken += 1
        if self.model.field_at("BDNF", self.pos) < 1.0:
            self.model.release("BDNF", self.pos, 500.0)     # amount/min


def test_slow_path_custom_agent():
    bdnf = Species("BDNF", 0.0, 0.0, unit="ng/mL")
    m = TissueModel((6, 6, 6), 20.0, fields=[bdnf], cell_types=[BMSC], seed=1,
                    parameters={"BMSC": {"secretion:BDNF": 0.0}})
    m.seed_cells(BMSC, 5)
    n = Neuron(m, (3, 3, 3))
    assert n in m.agents and len(m.agents) == 6
    assert m.agents_by_type[Neuron] and Neuron in m.agent_types
    ids = {a.unique_id for a in m.agents}
    assert len(ids) == 6                           # one id counter for both kinds of agent
    for _ in range(3):
        m.step()
    assert n.steps_taken == 3
    assert m.fields.total_amount("BDNF") == pytest.approx(3 * 500.0 * m.dt)


def test_bad_input_is_one_clear_error():
    with pytest.raises(ModelInputError, match="unknown parameter 'sped'"):
        TissueModel((4, 4, 4), cell_types=[BMSC], parameters={"BMSC": {"sped": 1.0}})
    with pytest.raises(ModelInputError, match="unknown cell type 'Neutrophil'"):
        TissueModel((4, 4, 4), cell_types=[BMSC], parameters={"Neutrophil": {}})
    m = TissueModel((4, 4, 4), cell_types=[BMSC], capacity=1, seed=1)
    with pytest.raises(ModelInputError, match="room for 16"):
        m.seed_cells(BMSC, 65, region=np.ones((4, 4, 4), bool) & (np.indices((4, 4, 4))[0] == 0))
    with pytest.raises(ModelInputError, match=r"voxel \(1, 1, 1\) has room for 1 more cells, 2 were placed"):
        m.add_cells(BMSC, [(1, 1, 1), (1, 1, 1)])
    with pytest.raises(ModelInputError, match="target:VEGF"):
        TissueModel((4, 4, 4), cell_types=[Microglia], parameters={"Microglia": {"secretion:VEGF": 1}})
