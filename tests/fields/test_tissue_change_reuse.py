"""Tissue that changes every step keeps its solve preconditioners (kernels/implicit.py).

When the labels change (mineral deposited or resorbed, a growing lesion), each implicit
species' propagator for the new tissue takes over the preconditioners of the old one:
a sparse LU as it is, an AMG hierarchy with its coarsening kept and its coarse operators
recomputed, both masked to the voxels permeable now and held to a fresh build's iteration
count. These tests check that the fields stay those of a solver built afresh at every
change (to the solve tolerance), that mass is conserved and no flux enters impermeable
voxels, that reuse happens (and can be refused or undone), and that a sealed cavity, a
different step or a different D never gets a wrong preconditioner.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

import kernels.implicit as ki
from abm.fields import FieldSolver, Species, TissueClass
from kernels.backend import get_backend
from kernels.explicit import ExplicitGeometry
from kernels.implicit import ImplicitPropagator

sys.path.insert(0, str(Path(__file__).parent))

from changing_bone import bone_blobs, surface_flips  # noqa: E402

DX = 20.0
TISSUE = [TissueClass("marrow"), TissueClass("mineral", permeable=False)]




def _solver(lab, reuse, species=None):
    sp = species or [Species("A", 600.0, 0.0)]
    return FieldSolver(lab.shape, DX, sp, labels=lab, tissue=TISSUE, scheme="implicit",
                       reuse_preconditioners=reuse)


def _pc(f, i=0):
    return f._implicit[i].preconditioners


def test_changing_tissue_matches_a_fresh_solver_conserves_mass_and_blocks_impermeable_voxels(
        monkeypatch):
    """25% mineral, 1% of the voxels flipping every step for 10 steps (60-min steps).

    Against a solver whose preconditioners are built anew at every change: the same field
    to 1e-7 of its peak (the CG tolerance is 1e-10); the total (no decay, no sources)
    within 1e-6; voxels impermeable during a step keep their values to round-off, 1e-13
    (a donated preconditioner not masked to today's permeable voxels would move them by
    about the solve tolerance). Every change is tried (no cap on the changed voxels), the
    hardest case for the masked, taken-over preconditioners.
    """
    monkeypatch.setattr(ki, "TRIAL_MAX_CHANGED", 10**9)
    monkeypatch.setattr(ki, "TRIAL_MAX_CHANGED_LU", 10**9)
    shape = (24, 24, 16)        # above CHANGING_DIRECT_MAX: AMG refreshes after the first
    lab = bone_blobs(shape)
    rng = np.random.default_rng(7)
    u0 = rng.random(shape)
    runs = {}
    for reuse in (True, False):
        r = np.random.default_rng(11)
        lb = lab.copy()
        f = _solver(lb, reuse)
        f.field("A")[...] = u0
        m0 = f.total_amount("A")
        for _ in range(10):
            flip = r.random(shape) < 0.01
            lb[flip] = 1 - lb[flip]
            f.set_tissue(lb, TISSUE)
            before = f.field_numpy("A")
            f.step(60.0)
            after = f.field_numpy("A")
            imp = lb == 1
            # (to round-off: the TR-BDF2 stages' combination a·u − b·u is not u bit for bit)
            np.testing.assert_allclose(after[imp], before[imp], rtol=1e-13, atol=0)
            assert f.total_amount("A") == pytest.approx(m0, rel=1e-6)
            assert after.min() >= 0.0
        runs[reuse] = (f.field_numpy("A"), _pc(f))
    (u_reuse, pc), (u_fresh, _) = runs[True], runs[False]
    np.testing.assert_allclose(u_reuse, u_fresh, rtol=0, atol=1e-7 * u_fresh.max())
    assert pc.reused_solves > 0          # the reuse path was taken at all


@pytest.mark.parametrize("tried", [False, True])
def test_preconditioner_is_reused_over_small_changes_and_rebuilt_after_a_large_one(
        tried, monkeypatch):
    """A few surface voxels changing a step: at most 5 builds over 10 steps, not 10.

    (The first tissue's sparse LU is tried and replaced by AMG, which the lattice takes
    once its tissue changes; a flip that splits a marrow pocket in two refuses one.)

    Then a change of a third of the mineral: far more voxels than a kept preconditioner
    follows, so it is not tried but built afresh (``untried``); tried anyway (the cap
    lifted), the solve needs more than a fresh build's iterations + 3, so it stops and a
    fresh one continues (``rebuilds``). Either way the field equals a fresh solver's.
    """
    shape = (24, 24, 16)
    lab = bone_blobs(shape, seed=2)
    rng = np.random.default_rng(3)
    u0 = rng.random(shape)
    f = _solver(lab.copy(), True)
    g = _solver(lab.copy(), False)
    for s in (f, g):
        s.field("A")[...] = u0
    lb = lab.copy()
    for _ in range(10):
        lb = surface_flips(lb, 4, rng)
        for s in (f, g):
            s.set_tissue(lb, TISSUE)
            s.step(60.0)
    pc = _pc(f)
    assert pc.builds <= 5, vars(pc)
    assert pc.refreshes >= 5, vars(pc)
    assert pc.reused_solves >= 10
    big = lb.copy()
    flip = (rng.random(shape) < 0.33) & (lb == 1)
    big[flip] = 0
    if tried:
        monkeypatch.setattr(ki, "TRIAL_MAX_CHANGED", 10**9)
        monkeypatch.setattr(ki, "TRIAL_MAX_CHANGED_LU", 10**9)
    rebuilds, untried = pc.rebuilds, pc.untried
    for s in (f, g):
        s.set_tissue(big, TISSUE)
        s.step(60.0)
    pc = _pc(f)
    if tried:
        assert pc.rebuilds > rebuilds and pc.untried == untried, vars(pc)
    else:
        assert pc.untried > untried and pc.rebuilds == rebuilds, vars(pc)
    ref = g.field_numpy("A")
    np.testing.assert_allclose(f.field_numpy("A"), ref, rtol=0, atol=1e-7 * ref.max())


def _cavity(hole: bool):
    """A closed impermeable shell around a 6x6x6 cavity in a 20^3 lattice, open at one voxel."""
    lab = np.zeros((20, 20, 20), np.uint8)
    lab[6:14, 6:14, 6:14] = 1
    lab[7:13, 7:13, 7:13] = 0
    if hole:
        lab[6, 9, 9] = 0
    return lab


@pytest.mark.parametrize("cavity_value", [0.0, 2.0])
def test_sealing_a_cavity_builds_afresh_and_the_cavity_keeps_its_contents(cavity_value):
    """A wall closes the hole (one permeable region becomes two): a fresh build.

    The preconditioner of the open tissue would couple the cavity with the outside, so it
    is refused and a fresh one built; the cavity then keeps its contents (an empty one
    stays exactly empty, a uniform one its value to round-off) while the outside diffuses.
    """
    rng = np.random.default_rng(5)
    f = _solver(_cavity(hole=True), True)
    f.step(60.0)                         # builds for the open tissue
    assert _pc(f).builds == 1
    sealed = _cavity(hole=False)
    f.set_tissue(sealed, TISSUE)
    u = rng.random(sealed.shape) * (sealed == 0)
    inside = np.zeros(sealed.shape, bool)
    inside[7:13, 7:13, 7:13] = True
    u[inside] = cavity_value
    f.field("A")[...] = u
    for _ in range(3):
        f.step(60.0)
    pc = _pc(f)
    assert pc.refused >= 1 and pc.reused_solves == 0 and pc.refreshes == 0, vars(pc)
    got = f.field_numpy("A")[inside]
    if cavity_value == 0.0:
        np.testing.assert_array_equal(got, 0.0)
    else:   # round-off of the TR-BDF2 stage combination only (a leak is ~1e-10)
        np.testing.assert_allclose(got, cavity_value, rtol=1e-13, atol=0)


def test_a_new_step_length_never_takes_another_steps_preconditioner():
    """Tissue changed, step 60 then 7 min: the 7-min step gets its own (fresh) build.

    So it needs the CG iterations a fresh solver needs, not the many a 60-min matrix's LU
    would cost.
    """
    lab = bone_blobs((20, 20, 12), seed=4)
    rng = np.random.default_rng(9)
    u0 = rng.random(lab.shape)
    f = _solver(lab.copy(), True)
    f.field("A")[...] = u0
    f.step(60.0)
    lb = surface_flips(lab, 3, rng)
    builds = _pc(f).builds
    f.set_tissue(lb, TISSUE)
    f.step(7.0)
    g = _solver(lb, False)
    g.field("A")[...] = f.field_numpy("A")   # any field: compare one step's solve effort
    h = _solver(lb, True)
    h.field("A")[...] = f.field_numpy("A")
    f.step(7.0)
    h.step(7.0)
    assert _pc(f).builds > builds
    assert f._implicit[0].last_iterations == h._implicit[0].last_iterations
    np.testing.assert_allclose(f.field_numpy("A"), h.field_numpy("A"), rtol=0,
                               atol=1e-9 * h.field_numpy("A").max())


def test_a_different_diffusion_coefficient_is_not_given_the_donors_preconditioner():
    """A donor's preconditioners go only to the same operator family.

    With another D the propagator starts its own cache and solves in a fresh build's
    iterations, with a fresh build's result.
    """
    be = get_backend("numpy")
    lab = bone_blobs((20, 20, 12), seed=6)
    rng = np.random.default_rng(2)
    lb = surface_flips(lab, 3, rng)
    u = be.xp.asarray(rng.random(lab.shape))

    def prop(labels, d, donor=None):
        g = ExplicitGeometry(be, labels.shape, np.float64, labels=labels,
                             diffusion_scale=[1.0, 0.0], decay_scale=[1.0, 1.0])
        return ImplicitPropagator(be, g, DX, d, 0.0, donor=donor)

    p1 = prop(lab, 600.0)
    p1.step(u, None, 60.0)
    same = prop(lb, 600.0, donor=p1)
    other = prop(lb, 2400.0, donor=p1)
    fresh = prop(lb, 2400.0)
    assert same.preconditioners is p1.preconditioners     # positive control
    assert other.preconditioners is not p1.preconditioners
    out = other.step(u, None, 60.0)
    ref = fresh.step(u, None, 60.0)
    assert other.last_iterations == fresh.last_iterations
    np.testing.assert_array_equal(out, ref)
    assert other.preconditioners.reused_solves == 0


def test_a_run_resumed_from_a_checkpoint_equals_the_uninterrupted_one_bit_for_bit():
    """A checkpoint starts the handed-on preconditioners afresh, as resuming does.

    They depend on tissues a checkpoint does not hold; taking one (get_state) drops them,
    as resuming (set_state) does, so the two runs solve with the same preconditioners.
    """
    shape = (24, 24, 16)
    lab = bone_blobs(shape, seed=8)
    rng = np.random.default_rng(4)
    tissues = [lab]
    for _ in range(8):
        tissues.append(surface_flips(tissues[-1], 4, rng))
    u0 = gaussian_filter(rng.random(shape), 1.0)
    a = _solver(lab.copy(), True)
    a.field("A")[...] = u0
    for lb in tissues[1:5]:
        a.set_tissue(lb, TISSUE)
        a.step(60.0)
    assert _pc(a).reused_solves > 0
    state = a.get_state()
    state = {**state, "fields": {k: v.copy() for k, v in state["fields"].items()}}
    b = _solver(tissues[4].copy(), True)
    b.set_state(**state)
    for lb in tissues[5:]:
        for s in (a, b):
            s.set_tissue(lb, TISSUE)
            s.step(60.0)
    assert _pc(a).reused_solves > 0
    np.testing.assert_array_equal(a.field_numpy("A"), b.field_numpy("A"))
