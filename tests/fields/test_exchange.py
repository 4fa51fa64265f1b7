"""Secretion toward a target and uptake: implicit, bounded, non-negative."""

from __future__ import annotations

import pytest

from abm import FieldSolver, Species

DX = 20.0


def test_implicit_update_matches_its_closed_form():
    """With D = 0, one secreting voxel follows p_n = T + (p0 - T)/(1 + S dt)^n exactly."""
    f = FieldSolver((4, 4, 4), DX, [Species("A", 0.0, initial=0.5)])
    S, T, dt = 0.3, 2.0, 0.7
    f.set_point_exchange("A", [[1, 2, 3]], secretion_rate=S, target=T)
    for n in range(1, 11):
        f.step(dt)
        assert f.field_numpy("A")[1, 2, 3] == pytest.approx(T + (0.5 - T) / (1 + S * dt) ** n, rel=1e-12)
    assert f.field_numpy("A")[0, 0, 0] == pytest.approx(0.5, rel=1e-12)  # untouched elsewhere


def test_agents_in_one_voxel_add_their_terms():
    """Two agents in one voxel: p <- (p + dt ΣS T)/(1 + dt Σ(S + U))."""
    f = FieldSolver((3, 3, 3), DX, [Species("A", 0.0, initial=1.0)])
    f.set_point_exchange("A", [[1, 1, 1], [1, 1, 1]], secretion_rate=[0.2, 0.4],
                         target=[3.0, 1.0], uptake_rate=[0.1, 0.0])
    f.step(2.0)
    expect = (1.0 + 2.0 * (0.2 * 3.0 + 0.4 * 1.0)) / (1 + 2.0 * (0.2 + 0.4 + 0.1))
    assert f.field_numpy("A")[1, 1, 1] == pytest.approx(expect, rel=1e-12)


@pytest.mark.parametrize("scheme", ["spectral", "explicit"])
def test_secretion_never_overshoots_target(scheme, rng):
    """Secretors toward T, at huge rates and long steps, never push any voxel above T."""
    n, T = 12, 1.5
    f = FieldSolver((n, n, n), DX, [Species("A", 900.0)], scheme=scheme)
    vox = rng.integers(0, n, size=(40, 3))
    f.set_point_exchange("A", vox, secretion_rate=rng.uniform(0.1, 1e4, 40), target=T)
    total = 0.0
    for dt in (0.01, 1.0, 50.0, 1e3):
        for _ in range(5):
            f.step(dt)
            assert f.field_numpy("A").max() <= T * (1 + 1e-12)
            now = f.total_amount("A")
            assert now > total  # it does secrete every step...
            total = now
    # ...and with enough steps the whole box fills up to (never past) the target
    for _ in range(300):
        f.step(10.0)
    assert f.field_numpy("A").min() == pytest.approx(T, rel=1e-3)
    assert f.field_numpy("A").max() <= T * (1 + 1e-12)


@pytest.mark.parametrize("scheme", ["spectral", "explicit"])
def test_uptake_never_goes_below_zero(scheme, rng):
    """Strong uptake with long steps drains voxels toward zero but never below."""
    n = 12
    f = FieldSolver((n, n, n), DX, [Species("A", 900.0, initial=1.0)], scheme=scheme)
    vox = rng.integers(0, n, size=(200, 3))
    f.set_point_exchange("A", vox, uptake_rate=rng.uniform(1.0, 1e6, 200))
    before = f.total_amount("A")
    for dt in (0.1, 10.0, 1e3, 1e3, 1e3):
        f.step(dt)
        assert f.field_numpy("A").min() >= -1e-12
        now = f.total_amount("A")
        assert now < before
        before = now


def test_release_adds_exact_amount_without_decay():
    """A fixed release q for t minutes adds q t (amount) when nothing decays."""
    f = FieldSolver((10, 10, 10), DX, [Species("A", 1800.0)])
    f.set_point_exchange("A", [[1, 1, 1], [8, 8, 8]], release=[3.0, 5.0])
    for _ in range(7):
        f.step(1.5)
    assert f.total_amount("A") == pytest.approx(8.0 * 7 * 1.5, rel=1e-10)
