"""The one placement-with-exclusion rule shared by movement and division."""

import numpy as np

from abm import BMSC, TissueModel
from abm.cells.placement import capacity_array, place_with_exclusion


def test_lowest_keys_win_the_free_room_and_occupancy_follows():
    capacity = np.array([2, 1, 0, 3], np.int32)
    occupancy = np.array([0, 1, 0, 1], np.int32)
    target = np.array([0, 0, 0, 1, 2, 3, 3], np.int64)
    key = np.array([50, 10, 30, 1, 1, 7, 3], np.uint64)
    ok = place_with_exclusion(np, occupancy, capacity, target, key)
    # voxel 0: room 2 -> keys 10 and 30; voxel 1 full; voxel 2 closed; voxel 3: room 2 -> both
    assert ok.tolist() == [False, True, True, False, False, True, True]
    assert occupancy.tolist() == [2, 1, 0, 3]


def test_a_move_vacates_its_voxel_but_room_is_counted_before_the_moves():
    capacity = np.array([1, 1, 1], np.int32)
    occupancy = np.array([1, 1, 0], np.int32)
    # the cell in voxel 0 wants voxel 1 (full until its cell leaves): refused this round,
    # the cell in voxel 1 moves to the free voxel 2
    target = np.array([1, 2], np.int64)
    vacate = np.array([0, 1], np.int64)
    ok = place_with_exclusion(np, occupancy, capacity, target, np.array([5, 6], np.uint64),
                              vacate=vacate)
    assert ok.tolist() == [False, True]
    assert occupancy.tolist() == [1, 0, 1]


def test_random_proposals_match_a_brute_force_ranking():
    rng = np.random.default_rng(4)
    nv, m = 40, 400
    capacity = rng.integers(0, 4, nv).astype(np.int32)
    occupancy = np.minimum(rng.integers(0, 3, nv), capacity + 1).astype(np.int32)  # some over
    target = rng.integers(0, nv, m).astype(np.int64)
    key = rng.permutation(m).astype(np.uint64) << np.uint64(40)
    occ0 = occupancy.copy()
    ok = place_with_exclusion(np, occupancy, capacity, target, key)
    want = np.zeros(m, bool)
    for v in range(nv):
        idx = np.flatnonzero(target == v)
        free = max(int(capacity[v]) - int(occ0[v]), 0)
        want[idx[np.argsort(key[idx])][:free]] = True
    assert np.array_equal(ok, want)
    assert np.array_equal(occupancy, occ0 + np.bincount(target[ok], minlength=nv))


def test_movement_and_division_keep_every_voxel_within_capacity():
    m = TissueModel(shape=(6, 6, 6), fields=("SDF-1a",), cell_types=[BMSC], capacity=2, seed=8,
                    backend="numpy", parameters={"BMSC": {"division": 0.05, "speed": 2.0}})
    m.seed_cells("BMSC", 300)
    for _ in range(10):
        m.step()
        flat = np.ravel_multi_index(m.positions("BMSC").T, m.shape)
        occ = np.bincount(flat, minlength=m.n_voxels)
        assert np.array_equal(occ, np.asarray(m.occupancy)) and occ.max() <= 2
    assert m.count("BMSC") > 300                     # divisions happened


def test_capacity_array_from_a_number_or_an_array():
    assert capacity_array(3, (2, 2, 1)).tolist() == [3, 3, 3, 3]
    a = np.arange(4).reshape(2, 2, 1)
    out = capacity_array(a, (2, 2, 1))
    assert out.dtype == np.int32 and out.tolist() == [0, 1, 2, 3]
