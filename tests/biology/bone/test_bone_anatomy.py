"""The bone geometries (abm/biology/bone/anatomy, docs/bone-anatomy.md).

The random field is checked against its exact discrete statistics, the generator for
determinism and for the sub-block property, the sham morphometry of the generated
metaphysis against the published ranges of seeds/anatomy.csv (rat_tibia_sham), the cortex
against the analytic volume and thickness of its elliptical shell, the calvarial defect
against the analytic volume of a disc cut to the domain, and the region shapes end to end
through the scenario loader.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from abm.biology.bone.anatomy import (
    CALVARIA_STRUCTURES,
    METAPHYSIS_STRUCTURES,
    CalvarialDefect,
    Metaphysis,
    band_half_width,
    bone_preset,
    gaussian_field,
)
from abm.biology.bone.anatomy.randomfield import kernel1d
from abm.scenario import ScenarioError, load_scenario_text

EXAMPLE = Path(__file__).resolve().parents[3] / "scenarios" / "examples" / \
    "rat_tibia_geometry.yaml"

TIBIA = bone_preset("rat_tibia")
SHAM = bone_preset("rat_tibia_sham")
CODE = METAPHYSIS_STRUCTURES

#: The default block: a quadrant of the cross-section, 0.4 mm along the axis, 20 µm voxels.
EXTENT = (2000.0, 1600.0, 400.0)


def lattice(extent, dx):
    """Lattice shape (voxels) of a domain ``extent`` (µm) at voxel edge ``dx`` (µm)."""
    return tuple(int(round(e / dx)) for e in extent)


def tibia(seed, center=(0.0, 0.0), **kw):
    """The preset metaphysis with its axis at ``center`` (µm)."""
    p = dict(radii=(TIBIA["periosteal_semi_axis_x"], TIBIA["periosteal_semi_axis_y"]),
             cortical_thickness=TIBIA["cortical_thickness"], bv_tv=TIBIA["bv_tv"],
             smoothing=TIBIA["smoothing"])
    p.update(kw)
    return Metaphysis(center, p["radii"], p["cortical_thickness"], p["bv_tv"], p["smoothing"],
                      seed)


# ---------------------------------------------------------------- morphometry used here
def _mean_thickness(mask, dx):
    """Volume-weighted mean local thickness (µm) of ``mask``: porespy's maximal spheres."""
    import porespy  # noqa: PLC0415

    lt = porespy.filters.local_thickness(mask, method="dt")
    return float(2.0 * lt[mask].mean() * dx)


def morphometry(lab, dx):
    """BV/TV, Tb.Th (µm), Tb.Sp (µm), Tb.N (1/mm) of the endocortical VOI, Ct.Th (µm).

    The project's micro-CT module (abm.biology.bone.morphometry) when it is there, else
    porespy's local thickness directly with Tb.N = 1 / (Tb.Th + Tb.Sp).
    """
    bone = lab == CODE["trabecular"]
    voi = bone | (lab == CODE["marrow"])
    cortex = lab == CODE["cortex"]
    try:
        from abm.biology.bone import morphometry as mct  # noqa: PLC0415
    except ImportError:
        mct = None
    if mct is not None and all(hasattr(mct, f) for f in ("bv_tv", "tb_th", "tb_sp", "ct_th")):
        th, sp = mct.tb_th(bone, voi, dx), mct.tb_sp(bone, voi, dx)
        ct = mct.ct_th(cortex, dx) if cortex.any() else math.nan
        return (mct.bv_tv(bone, voi), th, sp, 1000.0 / (th + sp), ct)
    pytest.importorskip("porespy")
    th = _mean_thickness(bone, dx)
    sp = _mean_thickness(voi & ~bone, dx)
    ct = _mean_thickness(cortex, dx) if cortex.any() else math.nan
    return (np.count_nonzero(bone) / np.count_nonzero(voi), th, sp, 1000.0 / (th + sp), ct)


# ---------------------------------------------------------------- the random field
def test_the_field_has_unit_variance_and_the_covariance_of_its_kernel():
    """Over 64 seeds × 64 far-apart voxels: variance 1 and the exact lag-2s correlation."""
    s_vox, lag = 2.0, 4
    w = kernel1d(s_vox)
    want = float(np.sum(w[:-lag] * w[lag:]) / np.sum(w ** 2))    # exact for the kernel
    assert want == pytest.approx(math.exp(-lag ** 2 / (4 * s_vox ** 2)), abs=0.01)
    a, b = [], []
    for seed in range(64):
        f = gaussian_field((64, 32, 32), 10.0, 10.0 * s_vox, seed)
        a.append(f[::16, ::8, ::16].ravel())        # 4 x 4 x 2 voxels 8+ kernel widths apart
        b.append(f[lag::16, ::8, ::16].ravel())
    a, b = np.concatenate(a), np.concatenate(b)
    n = a.size                                      # 2048 nearly independent pairs
    assert abs(a.mean()) < 4 / math.sqrt(n)
    assert a.var() == pytest.approx(1.0, abs=4 * math.sqrt(2 / n))
    assert np.corrcoef(a, b)[0, 1] == pytest.approx(want, abs=4 / math.sqrt(n))


def test_a_block_of_the_lattice_gets_the_field_the_whole_lattice_has_there():
    f = gaussian_field((50, 40, 20), 20.0, 100.0, 3)
    assert np.array_equal(gaussian_field((25, 40, 10), 20.0, 100.0, 3), f[:25, :, :10])
    assert np.array_equal(gaussian_field((20, 15, 7), 20.0, 100.0, 3, origin=(30, 25, 13)),
                          f[30:, 25:, 13:])


def test_the_band_holds_the_wanted_fraction_of_a_standard_normal():
    from scipy.stats import norm  # noqa: PLC0415

    for v in (0.1, 0.25, 0.4):
        a = band_half_width(v)
        assert norm.cdf(a) - norm.cdf(-a) == pytest.approx(v, rel=1e-9)


# ---------------------------------------------------------------- the metaphysis
def test_same_seed_same_bone_another_seed_other_bone():
    shape = lattice(EXTENT, 20.0)
    a = tibia(7).labels(shape, 20.0)
    assert np.array_equal(tibia(7).labels(shape, 20.0), a)
    assert np.array_equal(Metaphysis(*tibia(7).__dict__.values()).labels(shape, 20.0), a)
    b = tibia(8).labels(shape, 20.0)
    tb_a, tb_b = a == CODE["trabecular"], b == CODE["trabecular"]
    # the cortex is the same, the networks differ: their overlap is what chance gives
    assert np.array_equal(a == CODE["cortex"], b == CODE["cortex"])
    overlap = np.count_nonzero(tb_a & tb_b) / np.count_nonzero(tb_a)
    assert overlap < 0.5
    # a half-size domain is the corner block of the full one
    half = tibia(7).labels(lattice((1000.0, 800.0, 200.0), 20.0), 20.0)
    assert np.array_equal(half, a[:50, :40, :10])


def test_bv_tv_over_seeds_is_the_preset_value():
    """The expected BV/TV is exact; its spread over animals is the finite block's."""
    shape = lattice(EXTENT, 20.0)
    v = []
    for seed in range(24):
        lab = tibia(seed).labels(shape, 20.0)
        bone = np.count_nonzero(lab == CODE["trabecular"])
        v.append(bone / (bone + np.count_nonzero(lab == CODE["marrow"])))
    v = np.array(v)
    se = v.std(ddof=1) / math.sqrt(len(v))
    assert abs(v.mean() - TIBIA["bv_tv"]) < 4 * se
    assert 0.05 < v.std(ddof=1) / v.mean() < 0.2      # animal-to-animal CV of a real cohort


def test_the_cortex_is_the_quarter_elliptical_shell():
    dx = 20.0
    m = tibia(1)
    lab = m.labels(lattice(EXTENT, dx), dx)
    (a, b), t, h = m.radii, m.cortical_thickness, EXTENT[2]
    shell = math.pi / 4 * (a * b - (a - t) * (b - t)) * h
    envelope = math.pi / 4 * (a - t) * (b - t) * h
    # lattice counts of smooth outlines: within a few voxel columns of the analytic areas
    col = dx * dx * h
    assert np.count_nonzero(lab == CODE["cortex"]) * dx ** 3 == pytest.approx(shell, abs=20 * col)
    voi = (lab == CODE["trabecular"]) | (lab == CODE["marrow"])
    assert np.count_nonzero(voi) * dx ** 3 == pytest.approx(envelope, abs=20 * col)
    # nothing of the bone outside the periosteal ellipse
    x = (np.arange(lab.shape[0]) + 0.5) * dx
    y = (np.arange(lab.shape[1]) + 0.5) * dx
    r2 = (x[:, None] / a) ** 2 + (y[None, :] / b) ** 2
    assert not np.any(lab[r2 > 1.0])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sham_morphometry_at_20_um_is_in_the_published_ranges(seed):
    bvtv, th, sp, tbn, ctth = morphometry(tibia(seed).labels(lattice(EXTENT, 20.0), 20.0), 20.0)
    print(f"seed {seed}: BV/TV {bvtv:.3f}  Tb.Th {th:.0f} um  Tb.Sp {sp:.0f} um  "
          f"Tb.N {tbn:.2f}/mm  Ct.Th {ctth:.0f} um")
    assert SHAM["bv_tv_low"] <= bvtv <= SHAM["bv_tv_high"]
    assert SHAM["tb_th_low"] <= th <= SHAM["tb_th_high"]
    assert SHAM["tb_sp_low"] <= sp <= SHAM["tb_sp_high"]
    assert SHAM["tb_n_low"] <= tbn <= SHAM["tb_n_high"]
    assert SHAM["ct_th_low"] <= ctth <= SHAM["ct_th_high"]
    # the cortex measures its built thickness, within one voxel
    assert ctth == pytest.approx(TIBIA["cortical_thickness"], abs=20.0)


def test_at_10_um_the_same_network_statistics():
    """10 µm voxels: a block inside the envelope keeps BV/TV and Tb.Th of the 20 µm bone."""
    ext = (1000.0, 1000.0, 200.0)
    centre = (500.0, 500.0)         # the axis in the middle: the envelope covers the block
    lab10 = tibia(5, centre).labels(lattice(ext, 10.0), 10.0)
    assert np.all(lab10 != CODE["cortex"]) and np.all(lab10 != CODE["outside"])
    bvtv, th, sp, tbn, _ = morphometry(lab10, 10.0)
    print(f"10 um: BV/TV {bvtv:.3f}  Tb.Th {th:.0f} um  Tb.Sp {sp:.0f} um  Tb.N {tbn:.2f}/mm")
    assert SHAM["bv_tv_low"] <= bvtv <= SHAM["bv_tv_high"]
    assert SHAM["tb_th_low"] <= th <= SHAM["tb_th_high"]
    assert SHAM["tb_sp_low"] <= sp <= SHAM["tb_sp_high"]


# ---------------------------------------------------------------- the calvarial defect
CALV = bone_preset("rat_calvaria")


@pytest.mark.parametrize("what,extent,center,dx", [
    ("radial strip", (5000.0, 400.0, 1200.0), (0.0, 200.0), 20.0),
    ("quadrant", (5000.0, 5000.0, 1200.0), (0.0, 0.0), 40.0),
    ("full disc", (10000.0, 10000.0, 1200.0), (5000.0, 5000.0), 50.0),
])
def test_the_defect_is_the_disc_cut_to_the_domain(what, extent, center, dx):
    c = CalvarialDefect(center, CALV["defect_diameter"], 200.0, CALV["plate_thickness"])
    lab = c.labels(lattice(extent, dx), dx)
    defect = np.count_nonzero(lab == CALVARIA_STRUCTURES["defect"]) * dx ** 3
    plate = np.count_nonzero(lab > 0) * dx ** 3
    want = c.defect_volume(extent)
    r = c.diameter / 2
    # outline error: about a voxel column per 1 voxel of (cut) circumference, at most
    arc = {"radial strip": extent[1], "quadrant": math.pi * r / 2, "full disc": 2 * math.pi * r}
    assert defect == pytest.approx(want, abs=arc[what] / dx * dx ** 2 * c.thickness)
    assert plate == pytest.approx(extent[0] * extent[1] * c.thickness, rel=1e-9)
    # the plate spans its thickness exactly (z voxel centres in [bottom, top])
    zs = np.nonzero(np.any(lab > 0, axis=(0, 1)))[0]
    assert (zs.max() - zs.min() + 1) * dx == pytest.approx(c.thickness, abs=dx)
    if what == "full disc":
        area = defect / c.thickness
        assert 2 * math.sqrt(area / math.pi) == pytest.approx(8000.0, abs=dx / 4)
    if what == "radial strip":
        # the host bone starts at the defect's radius along the strip
        row = lab[:, lab.shape[1] // 2, zs[0]]
        first_bone = np.argmax(row == CALVARIA_STRUCTURES["bone"])
        assert first_bone * dx == pytest.approx(r, abs=dx)


# ---------------------------------------------------------------- the scenario path
TIBIA_YAML = """\
name: bone
domain: {extent: [2 mm, 1.6 mm, 0.4 mm], voxel: 20 um, dt: 1 h, duration: 1 h}
tissue:
  default: {name: outside}
  labels:
    - name: marrow
      region: {shape: endocortical_space, anatomy: &tibia {center: [0 um, 0 um], seed: 7}}
    - name: trabecular
      region: {shape: trabecular_bone, anatomy: *tibia}
      permeable: false
      capacity: 0
    - name: cortex
      region: {shape: metaphysis_cortex, anatomy: *tibia}
      permeable: false
      capacity: 0
fields: {VEGF: }
"""

DEFECT_YAML = """\
name: defect
domain: {extent: [5 mm, 0.4 mm, 1.2 mm], voxel: 20 um, dt: 1 h, duration: 1 h}
tissue:
  default: {name: outside}
  labels:
    - name: cortex
      region: {shape: calvarial_bone, anatomy: &calv {center: [0 mm, 0.2 mm], bottom: 0.2 mm}}
      permeable: false
      capacity: 0
    - name: defect
      region: {shape: calvarial_defect, anatomy: *calv}
fields: {VEGF: }
"""


def _labels(sc):
    from abm.scenario.objects import build_labels  # noqa: PLC0415

    return build_labels(sc), [t.name for t in sc.tissue]


def test_a_scenario_builds_marrow_trabecular_and_cortex_from_the_shapes():
    sc = load_scenario_text(TIBIA_YAML, name="bone.yaml")
    lab, names = _labels(sc)
    want = tibia(7).labels(sc.domain.shape, sc.domain.dx)
    for name, code in (("marrow", CODE["marrow"]), ("trabecular", CODE["trabecular"]),
                       ("cortex", CODE["cortex"]), ("outside", CODE["outside"])):
        got = lab == names.index(name)
        assert got.any(), name
        assert np.array_equal(got, want == code), name


def test_a_scenario_builds_the_defect_and_its_host_bone():
    sc = load_scenario_text(DEFECT_YAML, name="defect.yaml")
    lab, names = _labels(sc)
    c = CalvarialDefect((0.0, 200.0), 8000.0, 200.0, 800.0)
    want = c.labels(sc.domain.shape, sc.domain.dx)
    assert np.array_equal(lab == names.index("defect"), want == CALVARIA_STRUCTURES["defect"])
    assert np.array_equal(lab == names.index("cortex"), want == CALVARIA_STRUCTURES["bone"])
    assert np.count_nonzero(lab == names.index("defect")) * 20.0 ** 3 == pytest.approx(
        c.defect_volume((5000.0, 400.0, 1200.0)), rel=0.01)


def test_one_override_reseeds_every_shape_of_the_anchored_mapping():
    sc = load_scenario_text(TIBIA_YAML, name="bone.yaml",
                            overrides=["tissue.labels.0.region.anatomy.seed=8"])
    assert [t.region.metaphysis.seed for t in sc.tissue[1:]] == [8, 8, 8]
    lab, names = _labels(sc)
    assert np.array_equal(lab == names.index("trabecular"),
                          tibia(8).labels(sc.domain.shape, sc.domain.dx) == CODE["trabecular"])


@pytest.mark.parametrize("text,old,new,what", [
    (TIBIA_YAML, "center: [0 um, 0 um], ", "", "give the metaphysis's center"),
    (TIBIA_YAML, "seed: 7}", "seed: 7, preset: rat_tibai}", "unknown preset 'rat_tibai' (did "
     "you mean 'rat_tibia'?)"),
    (TIBIA_YAML, "seed: 7}", "seed: 7, cortical_thickness: 2 mm}", "must be smaller than"),
    (TIBIA_YAML, "seed: 7}", "seed: 7, smoothing: 5 um}", "below the voxel edge"),
    (TIBIA_YAML, "center: [0 um, 0 um]", "center: [9 mm, 9 mm]", "no endocortical space"),
    (DEFECT_YAML, "bottom: 0.2 mm", "bottom: 0.6 mm", "enlarge the domain along z"),
    (DEFECT_YAML, "center: [0 mm, 0.2 mm], ", "", "give the defect's center"),
])
def test_bad_bone_geometry_is_one_precise_problem(text, old, new, what):
    assert old in text
    with pytest.raises(ScenarioError) as ei:
        load_scenario_text(text.replace(old, new, 1), name="bone.yaml")
    assert what in ei.value.problem


def test_abm_validate_of_the_example_shows_the_bone_labels(capsys):
    from abm.cli import main  # noqa: PLC0415

    assert main(["validate", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    tissue = next(line for line in out.splitlines() if line.strip().startswith("tissue:"))
    counts = {name: int(tissue.split(f" {name} (")[1].split(" voxels")[0])
              for name in ("outside", "marrow", "trabecular", "cortex")}
    assert sum(counts.values()) == 100 * 80 * 20
    bvtv = counts["trabecular"] / (counts["trabecular"] + counts["marrow"])
    assert SHAM["bv_tv_low"] <= bvtv <= SHAM["bv_tv_high"]
