"""The field engine saves and restores its own state (fields, depots, clock)."""

from __future__ import annotations

import numpy as np
import pytest

from abm import FieldSolver, ModelInputError, Species


def _solver():
    f = FieldSolver((8, 8, 8), 20.0, [Species("A", 3000.0, 0.01), Species("B", 50.0, 0.0)])
    mask = np.zeros((8, 8, 8), bool)
    mask[2:4, 2:4, 2:4] = True
    f.add_depot("A", mask, 1e6, "first_order", 0.05)
    f.add_bolus("B", mask, 5e5)
    return f


def test_restored_solver_continues_exactly_like_the_original():
    a = _solver()
    for _ in range(5):
        a.step(2.0)
    st = a.get_state()
    saved = {k: v.copy() for k, v in st["fields"].items()}
    b = _solver()                                # a fresh solver, as after a restart
    b.set_state(saved, st["depots"], st["time"], st["step_count"])
    assert b.time == a.time == 10.0 and b.step_count == a.step_count == 5
    assert b.depots[0].remaining == a.depots[0].remaining
    for _ in range(7):
        a.step(2.0)
        b.step(2.0)
    for name in ("A", "B"):
        assert np.array_equal(a.field_numpy(name), b.field_numpy(name)), name
    assert b.depots[0].released == a.depots[0].released


def test_mismatched_state_is_refused():
    a = _solver()
    st = a.get_state()
    with pytest.raises(ModelInputError, match="do not match"):
        a.set_state({"A": st["fields"]["A"]}, {}, 0.0, 0)
    with pytest.raises(ModelInputError, match="has shape"):
        a.set_state({"A": np.zeros((4, 4, 4)), "B": st["fields"]["B"]}, {}, 0.0, 0)
