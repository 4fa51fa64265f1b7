"""Point amounts added to a field through the field engine (e.g. what dying cells release)."""

import numpy as np
import pytest

from abm.fields import FieldSolver, Species


def test_amounts_raise_concentration_by_amount_over_voxel_volume_and_accumulate():
    f = FieldSolver((4, 3, 2), 10.0, [Species("A", 100.0), Species("B", 100.0, initial=1.0)],
                    backend="numpy")
    vox = np.array([0, 5, 5, 23], np.int64)
    amt = np.array([1000.0, 250.0, 750.0, 2.0])
    before = f.total_amount("B")
    f.add_amounts("B", vox, amt)
    u = f.field_numpy("B").reshape(-1)
    assert u[0] == pytest.approx(1.0 + 1000.0 / 1000.0)
    assert u[5] == pytest.approx(1.0 + 1000.0 / 1000.0)       # two amounts in one voxel
    assert u[23] == pytest.approx(1.0 + 0.002)
    assert np.count_nonzero(u != 1.0) == 3
    assert f.total_amount("B") == pytest.approx(before + amt.sum(), rel=1e-12)
    assert not f.field_numpy("A").any()                         # the other field is untouched


def test_add_amounts_in_float32_casts_the_concentration_increment():
    f = FieldSolver((3, 3, 3), 20.0, [Species("A", 1.0)], backend="numpy", dtype=np.float32)
    f.add_amounts("A", np.array([13]), np.array([8000.0 / 3.0]))
    want = np.float32(8000.0 / 3.0 / 8000.0)
    assert f.field_numpy("A").dtype == np.float32
    assert f.field_numpy("A").reshape(-1)[13] == want
