"""The model owns the capacity of each tissue label and rebuilds voxel capacities from it."""

from __future__ import annotations

import numpy as np
import pytest

from abm import BMSC, ModelInputError, TissueClass, TissueModel

TISSUE = [TissueClass("parenchyma"), TissueClass("lesion"), TissueClass("bone", permeable=False)]


def _labels(n=6):
    lab = np.zeros((n, n, n), np.uint8)
    lab[:2] = 1
    lab[-1] = 2
    return lab


def test_capacity_follows_the_labels_at_build_and_on_relabelling():
    lab = _labels()
    m = TissueModel(shape=lab.shape, fields=["SDF-1a"], cell_types=[BMSC], labels=lab,
                    tissue=TISSUE, label_capacity=[2, 4, 0], seed=3)
    cap = np.asarray(m.capacity).reshape(lab.shape)
    assert np.array_equal(cap, np.array([2, 4, 0])[lab])
    new = lab.copy()
    new[2:4] = 1                                   # an injury widens the lesion
    m.set_tissue(new)
    assert np.array_equal(np.asarray(m.capacity).reshape(lab.shape), np.array([2, 4, 0])[new])
    m.seed_cells(BMSC, int(np.array([2, 4, 0])[new].sum()))       # exactly fills the room
    with pytest.raises(ModelInputError, match="room for 0"):
        m.seed_cells(BMSC, 1)


def test_without_label_capacity_relabelling_keeps_the_capacities():
    lab = _labels()
    m = TissueModel(shape=lab.shape, fields=["SDF-1a"], cell_types=[BMSC], labels=lab,
                    tissue=TISSUE, capacity=3, seed=3)
    m.set_tissue(np.ones_like(lab))
    assert np.all(np.asarray(m.capacity) == 3)


@pytest.mark.parametrize("kw,msg", [
    ({"label_capacity": [1, 2]}, "one integer >= 0 per tissue label"),
    ({"label_capacity": [1, -2, 0]}, "one integer >= 0 per tissue label"),
    ({"label_capacity": [1.5, 2, 0]}, "one integer >= 0 per tissue label"),
    ({"label_capacity": [1, 2, 0], "capacity": 4}, "either capacity or label_capacity")])
def test_bad_label_capacity_is_refused(kw, msg):
    with pytest.raises(ModelInputError, match=msg):
        TissueModel(shape=(6, 6, 6), fields=["SDF-1a"], cell_types=[BMSC], labels=_labels(),
                    tissue=TISSUE, seed=3, **kw)


def test_label_capacity_needs_labels():
    with pytest.raises(ModelInputError, match="needs tissue labels"):
        TissueModel(shape=(6, 6, 6), fields=["SDF-1a"], cell_types=[BMSC], label_capacity=[1])
