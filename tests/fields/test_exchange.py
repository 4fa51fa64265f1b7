"""Secretion toward a target and uptake: bounded, non-negative, with the schemes' closed forms."""

from __future__ import annotations

import math

import pytest

from abm import FieldSolver, Species

DX = 20.0


@pytest.mark.parametrize("scheme", ["spectral", "explicit"])
def test_exchange_update_matches_its_closed_form(scheme):
    """With D = 0 a secreting voxel follows the scheme's closed form exactly.

    Spectral (exchange coupled at the step's time-averaged value, ``g = dt/2`` when
    nothing diffuses): ``p_n - T = (p0 - T) ((1 - S dt/2)/(1 + S dt/2))^n``, second
    order. Explicit (implicit in the voxel's own value, one sub-step when nothing
    diffuses): ``p_n - T = (p0 - T)/(1 + S dt)^n``, first order. Both approach the
    exact ``T + (p0 - T) e^{-S t}``, the spectral one more closely.
    """
    f = FieldSolver((4, 4, 4), DX, [Species("A", 0.0, initial=0.5)], scheme=scheme)
    S, T, dt = 0.3, 2.0, 0.7
    f.set_point_exchange("A", [[1, 2, 3]], secretion_rate=S, target=T)
    factor = (1 - S * dt / 2) / (1 + S * dt / 2) if scheme == "spectral" else 1 / (1 + S * dt)
    for n in range(1, 11):
        f.step(dt)
        assert f.field_numpy("A")[1, 2, 3] == pytest.approx(T + (0.5 - T) * factor ** n, rel=1e-12)
    assert f.field_numpy("A")[0, 0, 0] == pytest.approx(0.5, rel=1e-12)  # untouched elsewhere
    exact = T + (0.5 - T) * math.exp(-S * dt * 10)
    err = abs(f.field_numpy("A")[1, 2, 3] - exact)
    assert err < (2e-3 if scheme == "spectral" else 5e-2)


@pytest.mark.parametrize("scheme", ["spectral", "explicit"])
def test_agents_in_one_voxel_add_their_terms(scheme):
    """Two agents in one voxel add their terms: ``st = Σ S T``, ``su = Σ (S + U)``."""
    f = FieldSolver((3, 3, 3), DX, [Species("A", 0.0, initial=1.0)], scheme=scheme)
    f.set_point_exchange("A", [[1, 1, 1], [1, 1, 1]], secretion_rate=[0.2, 0.4],
                         target=[3.0, 1.0], uptake_rate=[0.1, 0.0])
    f.step(2.0)
    st, su, dt, p0 = 0.2 * 3.0 + 0.4 * 1.0, 0.2 + 0.4 + 0.1, 2.0, 1.0
    if scheme == "spectral":
        expect = p0 + dt * (st - su * p0) / (1 + su * dt / 2)
    else:
        expect = (p0 + dt * st) / (1 + dt * su)
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
            # it secretes (never loses) every step; at these rates the box can reach the
            # target within one long step, and then nothing more is secreted
            assert now >= total * (1 - 1e-12) and now > 0
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
    before = start = f.total_amount("A")
    for dt in (0.1, 10.0, 1e3, 1e3, 1e3):
        f.step(dt)
        assert f.field_numpy("A").min() >= 0.0
        now = f.total_amount("A")
        assert now <= before      # drains (down to exactly 0 once empty, never below)
        before = now
    assert now < 1e-9 * start


def test_release_adds_exact_amount_without_decay():
    """A fixed release q for t minutes adds q t (amount) when nothing decays."""
    f = FieldSolver((10, 10, 10), DX, [Species("A", 1800.0)])
    f.set_point_exchange("A", [[1, 1, 1], [8, 8, 8]], release=[3.0, 5.0])
    for _ in range(7):
        f.step(1.5)
    assert f.total_amount("A") == pytest.approx(8.0 * 7 * 1.5, rel=1e-10)
