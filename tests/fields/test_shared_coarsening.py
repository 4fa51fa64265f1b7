"""The species of one tissue share one AMG coarsening (kernels/implicit.py, SHARE_COARSENING).

Every implicit species and step length on a tissue takes its AMG hierarchy from one set-up
of the tissue's canonical matrix (its own Galerkin operators on it). These tests check, over
many steps of tissue that changes (small surface changes, changes far past any trial cap,
and a wall that seals a cavity), that the fields equal those of solvers whose every matrix
has its own set-up (to the CG tolerance), that mass is conserved, impermeable voxels keep
their values and a sealed cavity its contents, that one set-up per tissue is all that runs,
that the CG needs no more iterations than with a set-up per matrix (within 1 a solve), and
that the result does not depend on which species asks first.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

import kernels.implicit as ki
from abm.fields import FieldSolver, Species, TissueClass

sys.path.insert(0, str(Path(__file__).parent))

from changing_bone import bone_blobs, surface_flips  # noqa: E402

DX = 20.0
TISSUE = [TissueClass("marrow"), TissueClass("mineral", permeable=False)]
#: (name, D µm²/min, decay 1/min): different operators, as the bone scenarios' five fields
SPECIES = [("A", 1600.0, 0.0), ("B", 1300.0, 0.03), ("C", 60.0, 0.001)]
SHAPE = (24, 24, 16)        # 9,216 voxels (the tests take AMG at any size)


def _tissues(n_steps=12, seed=3):
    """A chain of tissues: surface changes, two large ones (a tenth of the lattice), a seal."""
    rng = np.random.default_rng(seed)
    lab = bone_blobs(SHAPE)
    out = []
    for k in range(n_steps):
        if k in (4, 8):
            flip = rng.random(SHAPE) < 0.1
            lab = lab.copy()
            lab[flip] = 1 - lab[flip]
        else:
            lab = surface_flips(lab, 12, rng)
        out.append(lab)
    # a closed shell around a cavity, opened (one region) and then sealed (two regions)
    shell = out[-1].copy()
    shell[4:12, 4:12, 4:12] = 1
    shell[5:11, 5:11, 5:11] = 0
    shell[4, 7, 7] = 0
    sealed = shell.copy()
    sealed[4, 7, 7] = 1
    return out + [shell, sealed, surface_flips(sealed, 4, rng)]


def _solver(lab, reuse, species=SPECIES):
    sp = [Species(n, d, k) for n, d, k in species]
    return FieldSolver(lab.shape, DX, sp, labels=lab, tissue=TISSUE, scheme="implicit",
                       reuse_preconditioners=reuse)


def _run(share, reuse, monkeypatch, species=SPECIES, dt=360.0):
    """Fields and iterations after each step, AMG set-ups run; checks mass and walls on the way."""
    monkeypatch.setattr(ki, "SHARE_COARSENING", share)
    monkeypatch.setattr(ki, "DIRECT_MAX", 0)             # AMG on every tissue, none by LU
    monkeypatch.setattr(ki, "CHANGING_DIRECT_MAX", 0)
    setups = []
    rs = ki._ruge_stuben

    def counted(A):
        setups.append(A.shape[0])
        return rs(A)
    monkeypatch.setattr(ki, "_ruge_stuben", counted)
    rng = np.random.default_rng(7)
    start = {n: gaussian_filter(rng.random(SHAPE), 1.0) for n, *_ in SPECIES}
    tissues = _tissues()
    f = _solver(tissues[0], reuse, species)
    for n, *_ in species:
        f.field(n)[...] = start[n]
    cavity = np.zeros(SHAPE, bool)
    cavity[5:11, 5:11, 5:11] = True
    fields, its = [], []
    for k, lb in enumerate(tissues):
        f.set_tissue(lb, TISSUE)
        if k == len(tissues) - 2:     # just sealed: give the cavity its own contents
            for n, *_ in species:
                f.field(n)[cavity] = 2.0
        before = {n: f.field_numpy(n) for n, *_ in species}
        m0 = f.total_amount("A") if "A" in before else None
        f.step(dt)
        imp = lb == 1
        for n, *_ in species:
            after = f.field_numpy(n)
            if n == "A":      # no decay: impermeable voxels keep their values
                np.testing.assert_allclose(after[imp], before[n][imp], rtol=1e-13, atol=0)
            assert after.min() >= 0.0
            if k >= len(tissues) - 2 and n == "A":    # the sealed cavity keeps its contents
                np.testing.assert_allclose(after[cavity], before[n][cavity], rtol=1e-12,
                                           atol=0)
        if m0 is not None:                # A: no decay, no sources
            assert f.total_amount("A") == pytest.approx(m0, rel=1e-6)
        fields.append({n: f.field_numpy(n) for n, *_ in species})
        its.append([f._implicit[i].last_iterations for i in range(len(species))])
    return fields, np.array(its), len(setups), len(tissues)


@pytest.mark.parametrize("reuse", [True, False])
def test_shared_coarsening_equals_a_set_up_per_matrix_over_changing_tissue(reuse, monkeypatch):
    """15 changing tissues, 3 species of different D and decay, 6 h steps.

    The same fields as with a set-up for every matrix, to 1e-7 of each field's peak (the
    CG tolerance is 1e-10), at every step; at most one set-up per tissue and fixed-face
    mask over all species (here one mask), where a set-up per matrix runs one per species
    and step length; CG iterations within 1 a solve of those of a set-up per matrix.
    """
    shared, it_s, setups_s, n_tissues = _run(True, reuse, monkeypatch)
    own, it_o, setups_o, _ = _run(False, reuse, monkeypatch)
    for a, b in zip(shared, own):
        for n in a:
            np.testing.assert_allclose(a[n], b[n], rtol=0, atol=1e-7 * b[n].max())
    assert 0 < setups_s <= n_tissues, setups_s
    if reuse:       # kept hierarchies tried over small changes: fewer, but still more
        assert setups_o > setups_s, (setups_o, setups_s)
    else:           # positive control: one per species and matrix
        assert setups_o >= len(SPECIES) * n_tissues, setups_o
    # (each step is 2 or 3 solves)
    assert (it_s <= it_o + 3).all(), (it_s, it_o)
    assert it_s.sum() <= it_o.sum() + it_s.size, (it_s.sum(), it_o.sum())


def test_the_shared_coarsening_does_not_depend_on_which_species_asks_first(monkeypatch):
    """Species in the opposite order: each field the same bit for bit.

    The coarsening is set up on the tissue's canonical matrix, not on the matrix of the
    species that needs it first (a hierarchy of the first species' matrix would make the
    others' solves, and a resumed run's, depend on the order).
    """
    fwd, *_ = _run(True, False, monkeypatch, species=SPECIES)
    rev, *_ = _run(True, False, monkeypatch, species=SPECIES[::-1])
    for a, b in zip(fwd, rev):
        for n in a:
            np.testing.assert_array_equal(a[n], b[n])


def test_lu_ordering_and_retake_start_change_nothing_beyond_the_tolerance(monkeypatch):
    """The sparse LU's ordering (LU_OPTIONS) and the backward-Euler retake's start.

    A small lattice (sparse LU) with spikes that make TR-BDF2 undershoot at a 6 h step, so
    the retake runs; 10 changing tissues. Against SciPy's default LU and a retake started
    from the step's start: the same fields to 1e-7 of the peak, mass (no decay) to 1e-6,
    impermeable voxels unchanged, and the retake takes no more iterations.
    """
    tissues = _tissues(n_steps=10, seed=5)
    shape = SHAPE
    runs = {}
    for new in (True, False):
        monkeypatch.setattr(ki, "LU_OPTIONS", ki.LU_OPTIONS if new else None)
        monkeypatch.setattr(ki, "BACKWARD_EULER_FROM_TRBDF2", new)
        monkeypatch.setattr(ki, "CHANGING_DIRECT_MAX", 10**6)     # LU on every tissue
        rng = np.random.default_rng(2)
        f = _solver(tissues[0], True, species=[("A", 1600.0, 0.0)])
        u = np.zeros(shape)
        u.reshape(-1)[rng.choice(u.size, 40, replace=False)] = 100.0    # sharp peaks
        f.field("A")[...] = u
        m0 = f.total_amount("A")
        methods, its = [], 0
        for lb in tissues[:10]:
            f.set_tissue(lb, TISSUE)
            before = f.field_numpy("A")
            f.step(360.0)
            after = f.field_numpy("A")
            np.testing.assert_allclose(after[lb == 1], before[lb == 1], rtol=1e-13, atol=0)
            assert f.total_amount("A") == pytest.approx(m0, rel=1e-6)
            assert after.min() >= 0.0
            p = f._implicit[0]
            methods.append(p.last_method)
            its += p.last_iterations
        runs[new] = (f.field_numpy("A"), methods, its)
    (a, ma, ia), (b, mb, ib) = runs[True], runs[False]
    assert "backward Euler" in ma and ma == mb
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-7 * b.max())
    assert ia <= ib, (ia, ib)
