"""``rng=`` and ``agents_by_type`` keys, compared with a plain Mesa model doing the same (issue 14)."""

from __future__ import annotations

import mesa
import numpy as np
import pytest

from abm.biology import BMSC, Microglia
from abm.cells import TissueModel
from abm.errors import ModelInputError


class Plain(mesa.Agent):
    """An ordinary Mesa agent."""


def _tissue(**kw):
    return TissueModel((8, 8, 8), 20.0, cell_types=[BMSC, Microglia], **kw)


def test_rng_argument_as_in_mesa():
    g = np.random.default_rng(4)
    m, plain = _tissue(rng=g), mesa.Model(rng=np.random.default_rng(4))
    assert m.rng is g                                   # Mesa keeps the user's generator
    assert isinstance(plain.rng, np.random.Generator)
    # an integer rng is a seed: the same run as seed=
    a, b = _tissue(rng=11), _tissue(seed=11)
    for x in (a, b):
        x.seed_cells(BMSC, 40)
        for _ in range(3):
            x.step()
    assert a.seed == b.seed == 11
    assert np.array_equal(a.positions(BMSC), b.positions(BMSC))
    # the same Generator state gives the same cells' seed, so the same run
    c, d = _tissue(rng=np.random.default_rng(9)), _tissue(rng=np.random.default_rng(9))
    assert c.seed == d.seed
    with pytest.raises(ModelInputError, match="either seed= or rng="):
        _tissue(seed=1, rng=2)
    with pytest.raises(ValueError):
        mesa.Model(seed=1, rng=2)                        # Mesa refuses both as well


def test_agents_by_type_lists_types_from_their_first_agent_on_as_mesa():
    m, plain = _tissue(seed=3), mesa.Model(seed=3)
    assert list(m.agents_by_type) == [] and list(plain.agents_by_type) == []
    with pytest.raises(KeyError):
        m.agents_by_type[BMSC]
    with pytest.raises(KeyError):
        plain.agents_by_type[Plain]
    m.seed_cells(BMSC, 3)
    a = Plain(plain)
    assert list(m.agents_by_type) == [BMSC] and list(plain.agents_by_type) == [Plain]
    # after all agents of the type have gone the key stays, with an empty set, in both
    m.remove_all_agents()
    a.remove()
    assert list(m.agents_by_type) == [BMSC] and len(m.agents_by_type[BMSC]) == 0
    assert list(plain.agents_by_type) == [Plain] and len(plain.agents_by_type[Plain]) == 0
    # an ordinary agent in a TissueModel is listed by Mesa's own bookkeeping
    Plain(m)
    assert set(m.agents_by_type) == {BMSC, Plain}
