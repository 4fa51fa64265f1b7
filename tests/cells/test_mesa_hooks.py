"""Mesa's internals that TissueModel relies on (``abm.cells.mesa_hooks``): fail loudly here.

If a Mesa release changes them, these tests name what changed; the run code would
otherwise give ordinary agents ids that collide with cells' ids.
"""

import inspect

import mesa
import pytest

from abm.cells import LatticeCell, TissueModel
from abm.cells import mesa_hooks as H


class Cell(LatticeCell):
    """An array-backed type."""


class Ordinary(mesa.Agent):
    """An ordinary Mesa agent."""


def test_mesa_keeps_per_model_id_counters_in_agent_ids():
    """The private name ``mesa.Agent._ids`` and how ``Agent.__init__`` uses it."""
    assert isinstance(mesa.Agent._ids, dict), "mesa.Agent._ids is no longer a dict of counters"
    src = inspect.getsource(mesa.Agent.__init__)
    assert "next(self._ids[model])" in src, "mesa.Agent.__init__ no longer draws ids from _ids"
    m = mesa.Model()
    H.share_id_counter(m, iter([41, 42]))
    assert [Ordinary(m).unique_id, Ordinary(m).unique_id] == [41, 42]
    assert Ordinary(mesa.Model()).unique_id == 1                # other models: Mesa's own


def test_cells_and_ordinary_agents_share_one_id_space():
    m = TissueModel((4, 4, 4), 20.0, fields=("VEGF",), cell_types=[Cell], seed=1)
    m.add_cells(Cell, [(0, 0, 0), (1, 0, 0)])
    o = Ordinary(m)
    m.add_cells(Cell, [(2, 0, 0)])
    assert m.agents.get("unique_id") == [1, 2, 3, 4] and o.unique_id == 3
    assert list(H.ordinary_agents(m)) == [o] and list(H.ordinary_agents_by_type(m)) == [Ordinary]


def test_a_mesa_without_agent_ids_is_one_clear_error(monkeypatch):
    monkeypatch.delattr(mesa.Agent, "_ids")
    with pytest.raises(RuntimeError, match=r"mesa.Agent._ids.*mesa>=3.3,<3.4"):
        H.share_id_counter(mesa.Model(), iter([1]))
