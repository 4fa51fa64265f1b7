"""Micro-CT morphometry on geometry of known answer, and the readouts through a scenario run.

Plates of thickness t and spacing s (Tb.Th = t, Tb.Sp = s, BV/TV = t/(t+s), Tb.N = 1/(t+s)),
a lattice of round rods, a hollow cylinder (Ct.Th = its wall), a known mineral field (BMD),
and the Carter-Hayes ultimate load (quadratic in density, 0 without mineral). The voxel
method's resolution limit is +-0.5 voxel on a plate (docs/bone-morphometry.md); the
tolerances below are that limit, not looser.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm import TissueModel
from abm.biology.bone import morphometry as M
from abm.cli import main
from abm.errors import ModelInputError
from abm.fields import TissueClass
from abm.readouts import evaluate_readouts, parse_readout
from abm.runfile import open_run
from abm.scenario import load_scenario_text

N, NZ, OFF = 96, 12, 3


def plates(t: int, s: int, n: int = N, nz: int = NZ) -> tuple[np.ndarray, np.ndarray]:
    """Plates normal to x, ``t`` voxels thick, ``s`` voxels apart; the VOI holds whole periods."""
    b = np.zeros(n, bool)
    x = OFF
    while x + t + s <= n - OFF:
        b[x:x + t] = True
        x += t + s
    voi1 = np.zeros(n, bool)
    voi1[OFF:x] = True          # first plate's near face to the last gap's far face
    bone = np.broadcast_to(b[:, None, None], (n, n, nz)).copy()
    voi = np.broadcast_to(voi1[:, None, None], (n, n, nz)).copy()
    return bone, voi


@pytest.mark.parametrize("dx", [10.0, 20.0])
@pytest.mark.parametrize("t", [3, 4, 5, 6, 8, 10])
def test_parallel_plates_give_their_thickness_spacing_fraction_and_number(t, dx):
    s = 12
    bone, voi = plates(t, s)
    assert M.bv_tv(bone, voi) == pytest.approx(t / (t + s), rel=1e-12)
    th, sp = M.tb_th(bone, voi, dx), M.tb_sp(bone, voi, dx)
    # the voxel method: t +- 0.5 voxel (odd t reads t + 0.5, even t reads t - 0.5)
    assert th == pytest.approx((t + (0.5 if t % 2 else -0.5)) * dx, abs=1e-9)
    assert abs(th - t * dx) <= 0.5 * dx + 1e-9
    assert sp == pytest.approx((s - 0.5) * dx, abs=1e-9)     # s = 12 is even
    tbn = M.tb_n(th_um=th, sp_um=sp)
    assert tbn == pytest.approx(1000.0 / (th + sp))
    # Tb.Th + Tb.Sp is within 1 voxel of the period (both -0.5 when t and s are even)
    assert abs(1000.0 / tbn - (t + s) * dx) <= dx + 1e-9
    assert M.tb_n(bone, voi, dx) == pytest.approx(tbn)


def test_thickness_scales_with_the_voxel_size():
    bone, voi = plates(5, 9)
    assert M.tb_th(bone, voi, 15.0) == pytest.approx(M.tb_th(bone, voi, 10.0) * 1.5)


def rods(d: float, period: int, n: int = 80, nz: int = 10) -> np.ndarray:
    """Round rods along z of diameter ``d`` voxels on a square lattice, axes on voxel centres."""
    y, x = np.mgrid[:n, :n].astype(float)
    c = period // 2
    disk = ((x % period) - c) ** 2 + ((y % period) - c) ** 2 <= (d / 2) ** 2
    return np.broadcast_to(disk[:, :, None], (n, n, nz)).copy()


@pytest.mark.parametrize("d", [5, 7, 9, 11])
def test_a_rod_lattice_gives_the_rod_diameter_and_a_spacing_between_its_bounds(d):
    period, dx = 20, 20.0
    bone = rods(d, period)
    voi = np.ones_like(bone)
    # the digital rod's own diameter: that of a disk of its cross-section's area
    d_eq = 2 * math.sqrt(bone[:period, :period, 0].sum() / math.pi)
    assert M.bv_tv(bone, voi) == pytest.approx(math.pi * d_eq**2 / 4 / period**2, rel=1e-9)
    th = M.tb_th(bone, voi, dx)
    assert abs(th / dx - d_eq) <= 0.5 + 0.05 * d_eq
    # the space between rods: wider than the gap along a row (period - d), narrower than the
    # sphere at a cell's centre (sqrt(2) period - d), each to the method's half voxel
    sp = M.tb_sp(bone, voi, dx) / dx
    assert period - d_eq - 0.5 < sp < math.sqrt(2) * period - d_eq + 0.5


@pytest.mark.parametrize("wall", [4, 6, 9])
def test_a_hollow_cylinder_gives_its_wall_thickness_as_ct_th(wall):
    n, dx = 90, 10.0
    y, x = np.mgrid[:n, :n].astype(float) - (n - 1) / 2
    r = np.hypot(x, y)
    r_out = 40.0
    ring = (r < r_out) & (r >= r_out - wall)
    cortex = np.broadcast_to(ring[:, :, None], (n, n, 8)).copy()
    ct = M.ct_th(cortex, dx)
    assert abs(ct / dx - wall) <= 0.5 + 0.05 * wall


def test_local_thickness_is_in_um_and_zero_outside():
    bone, _ = plates(4, 8)
    lt = M.local_thickness(bone, 20.0)
    assert np.all(lt[~bone] == 0) and np.all(lt[bone] > 0)
    assert lt[bone].max() == pytest.approx(3.5 * 20.0)


def test_bmd_is_the_mean_mineral_of_the_voi_times_the_calibration():
    rng = np.random.default_rng(3)
    m = rng.uniform(0, 1, (20, 20, 10))
    voi = np.zeros(m.shape, bool)
    voi[2:15, 3:18, 1:9] = True
    tmd = M.bone_constants()["tmd_fully_mineralised"][0]
    assert M.bmd(m, voi) == pytest.approx(tmd * m[voi].mean(), rel=1e-12)
    assert M.bmd(m, voi, tmd_full=1000.0) == pytest.approx(1000.0 * m[voi].mean())
    full = np.ones_like(m)
    assert M.bmd(full, voi) == pytest.approx(tmd)
    assert M.bmd(np.zeros_like(m), voi) == 0.0


def test_ultimate_load_is_carter_hayes_on_the_weakest_slice():
    k = M.bone_constants()
    c = k["carter_hayes_coefficient"][0] * k["test_strain_rate"][0] ** \
        k["carter_hayes_rate_exponent"][0]
    rho_t = k["tissue_density_full"][0]
    shape, dx = (10, 10, 6), 20.0
    voi = np.ones(shape, bool)
    m = np.full(shape, 0.3)
    m[:, :, 4] = 0.2                                  # the weakest slice
    area_mm2 = 100 * (dx * 1e-3) ** 2
    want = c * (rho_t * 0.2) ** 2 * area_mm2
    f = M.ultimate_load(m, [voi], dx)
    assert f == pytest.approx(want, rel=1e-12)
    # doubling the density quadruples the strength; no mineral carries nothing
    assert M.ultimate_load(2 * m, [voi], dx) == pytest.approx(4 * f, rel=1e-12)
    assert M.ultimate_load(np.zeros(shape), [voi], dx) == 0.0
    # two compartments side by side add their loads
    cort = np.zeros(shape, bool)
    cort[:2] = True
    m2 = np.where(cort, 1.0, 0.25)
    want2 = c * ((rho_t * 0.25) ** 2 * 80 + rho_t ** 2 * 20) * (dx * 1e-3) ** 2
    assert M.ultimate_load(m2, [voi & ~cort, cort], dx) == pytest.approx(want2, rel=1e-12)


def test_nothing_to_measure_is_nan_not_an_error():
    shape = (12, 12, 6)
    none, voi = np.zeros(shape, bool), np.ones(shape, bool)
    assert M.bv_tv(none, voi) == 0.0
    assert math.isnan(M.bv_tv(none, none))
    assert math.isnan(M.tb_th(none, voi, 20.0))
    assert math.isnan(M.tb_sp(voi, voi, 20.0))          # all bone: no marrow space
    assert math.isnan(M.tb_n(none, voi, 20.0))
    assert math.isnan(M.ct_th(none, 20.0))
    assert math.isnan(M.bmd(np.ones(shape), none))
    assert math.isnan(M.ultimate_load(np.ones(shape), [none], 20.0))
    with pytest.raises(ModelInputError, match="same lattice"):
        M.bv_tv(none, np.ones((3, 3, 3), bool))
    with pytest.raises(ModelInputError, match="dx must be > 0"):
        M.tb_th(voi, voi, 0.0)


SCENARIO = """
name: micro-ct
domain:
  extent: [400 um, 400 um, 160 um]
  voxel: 20 um
  dt: 1 min
  duration: 2 min
  seed: 1
tissue:
  labels:
    - name: marrow
      region: {{shape: box, lower: [0 um, 0 um, 0 um], upper: [400 um, 400 um, 160 um]}}
    - name: trabecular
      permeable: false
      capacity: 0
      region: {{shape: box, lower: [100 um, 80 um, 0 um], upper: [{top} um, 400 um, 160 um]}}
    - name: cortex
      permeable: false
      capacity: 0
      region: {{shape: box, lower: [0 um, 20 um, 0 um], upper: [400 um, 80 um, 160 um]}}
fields:
  VEGF: {{}}
outputs:
  readout_every: 1 min
  readouts: [BV/TV, Tb.Th, Tb.Sp, Tb.N, BMD, Ct.Th, ultimate_load, mean VEGF]
"""


def test_the_readouts_of_a_static_geometry_reach_the_run_file(tmp_path):
    p = tmp_path / "b.yaml"
    p.write_text(SCENARIO.format(top=200))
    out = tmp_path / "b.h5"
    assert main(["run", str(p), "--out", str(out), "--quiet"]) == 0
    with open_run(out) as r:
        ro, units = r.readouts(), r.readout_units
    assert units["BV/TV"] == "1" and units["Tb.Th"] == "um" and units["Tb.N"] == "1/mm"
    assert units["BMD"] == "mg HA/cm^3" and units["ultimate_load"] == "N"
    assert len(ro["BV/TV"]) == 3                          # t = 0, 1, 2 min
    # VOI: 20 x 17 voxels in x-y (the cortex takes rows y = 1-3); the trabecular slab is
    # 5 voxels in x by 16 in y (rows 4-19)
    assert np.allclose(ro["BV/TV"], 5 * 16 / (20 * 17))
    assert np.allclose(ro["Tb.Th"], 5.5 * 20.0)           # 5 voxels: t + 0.5 voxel
    assert np.allclose(ro["Ct.Th"], 3.5 * 20.0)           # 3 voxels
    tmd = M.bone_constants()["tmd_fully_mineralised"][0]
    assert np.allclose(ro["BMD"], tmd * 5 * 16 / (20 * 17))
    assert np.all(ro["ultimate_load"] > 0)
    assert np.allclose(ro["Tb.N"], 1000.0 / (ro["Tb.Th"] + ro["Tb.Sp"]))


def test_a_scenario_without_bone_labels_refuses_the_readouts_at_load():
    text = SCENARIO.format(top=200).replace("name: marrow", "name: soft") \
        .replace("name: trabecular", "name: gel").replace("name: cortex", "name: skin")
    with pytest.raises(ModelInputError, match="needs a 'marrow' or 'trabecular' label"):
        load_scenario_text(text)
    with pytest.raises(ModelInputError, match="takes no arguments"):
        load_scenario_text(SCENARIO.format(top=200).replace("Ct.Th,", "Ct.Th cortex,"))


def test_thickness_is_computed_only_when_readouts_are_recorded_and_once_per_time(
        tmp_path, monkeypatch):
    calls = []
    real = M.local_thickness
    monkeypatch.setattr(M, "local_thickness", lambda *a, **k: calls.append(1) or real(*a, **k))
    text = SCENARIO.format(top=200).replace("duration: 2 min", "duration: 6 min") \
        .replace("readout_every: 1 min", "readout_every: 3 min") \
        .replace("[BV/TV, Tb.Th, Tb.Sp, Tb.N, BMD, Ct.Th, ultimate_load, mean VEGF]",
                 "[Tb.Th, Tb.Sp, Tb.N, Ct.Th]")
    p = tmp_path / "c.yaml"
    p.write_text(text)
    out = tmp_path / "c.h5"
    assert main(["run", str(p), "--out", str(out), "--quiet"]) == 0
    with open_run(out) as r:
        times = r.readouts()["time_min"]
    assert list(times) == [0.0, 3.0, 6.0]            # 6 steps, recorded 3 times
    # per recording: Tb.Th and Tb.Sp once each (Tb.N reuses them) and Ct.Th once
    assert len(calls) == 3 * 3


def test_the_readouts_read_the_mineral_state_when_there_is_one():
    shape = (20, 20, 6)
    labels = np.zeros(shape, np.uint8)            # 0 marrow
    labels[5:10] = 1                              # trabecular slab, 5 voxels in x
    tissue = [TissueClass("marrow"), TissueClass("trabecular", permeable=False)]
    m = TissueModel(shape=shape, dx=20.0, fields=["VEGF"], cell_types=[], backend="numpy",
                    seed=1, labels=labels, tissue=tissue)
    mineral = np.where(labels == 1, 0.8, 0.0)
    mineral[5] = 0.4                              # under the threshold: not bone, but mineral
    m.tissue_states["mineral"] = mineral.reshape(-1).astype(np.float64)
    specs = [parse_readout(t, {}, {"VEGF": "ng/mL"}, ["marrow", "trabecular"],
                           {"mineral": "1"}) for t in ("BV/TV", "BMD", "Tb.Th")]
    got = evaluate_readouts(m, specs)
    assert got["BV/TV"] == pytest.approx(4 / 20)
    tmd = M.bone_constants()["tmd_fully_mineralised"][0]
    assert got["BMD"] == pytest.approx(tmd * (0.4 + 4 * 0.8) / 20)
    assert got["Tb.Th"] == pytest.approx(3.5 * 20.0)     # 4 voxels: t - 0.5 voxel
    # no bone at all: BV/TV 0, Tb.Th NaN, never an error
    m.tissue_states["mineral"][:] = 0.0
    got = evaluate_readouts(m, specs)
    assert got["BV/TV"] == 0.0 and math.isnan(got["Tb.Th"]) and got["BMD"] == 0.0


def _slab(nx=24, ny=24, nz=8, lo=6, hi=14):
    """A cortex-like slab normal to x, voxels lo..hi-1 (8 voxels thick by default)."""
    m = np.zeros((nx, ny, nz))
    m[lo:hi] = 1.0
    return m


def test_the_scan_filter_keeps_a_flat_surface_and_a_patch_but_not_single_voxel_roughness():
    m = _slab()
    assert np.array_equal(M.filtered_bone(m), m >= 0.5)         # flat faces stay put
    rough = m.copy()
    rough[5, 4, 3] = rough[5, 11, 5] = 1.0                        # single-voxel deposits
    rough[13, 7, 2] = rough[6, 17, 6] = 0.0                       # single-voxel pits
    assert np.array_equal(M.filtered_bone(rough), m >= 0.5)
    patch = m.copy()
    patch[5, 8:10, 2:4] = 1.0                                     # a 2 x 2 deposit is kept
    seg = M.filtered_bone(patch)
    assert seg[5, 8:10, 2:4].all() and seg.sum() == (m >= 0.5).sum() + 4
    with pytest.raises(ModelInputError, match="sigma >= 0 and support >= 1"):
        M.filtered_bone(m, sigma=-1.0)


def test_single_voxel_roughness_leaves_ct_th_unchanged_and_a_new_layer_raises_it():
    dx = 20.0
    m = _slab()
    flat = M.ct_th(M.filtered_bone(m), dx)
    assert flat == pytest.approx(7.5 * dx)          # 8 voxels: t - 0.5 voxel, as a plate
    rng = np.random.default_rng(3)
    rough = m.copy()
    for x in (5, 14):                               # deposits on both surfaces, 3% of them
        yz = rng.random((24, 8)) < 0.03
        rough[x][yz] = 1.0
    for x in (6, 13):                               # and pits in both surfaces
        yz = rng.random((24, 8)) < 0.03
        rough[x][yz] = 0.0
    # unfiltered, the scattered voxels change the reading (here by more than 1%)
    assert abs(M.ct_th(rough >= 0.5, dx) - flat) > 0.01 * flat
    assert M.ct_th(M.filtered_bone(rough), dx) == pytest.approx(flat, abs=0.02 * flat)
    thicker = m.copy()
    thicker[14] = 1.0                               # a whole new endocortical layer
    assert M.ct_th(M.filtered_bone(thicker), dx) == pytest.approx(9.5 * dx)


@pytest.mark.parametrize("wall", [4, 6, 9])
def test_a_hollow_cylinder_seen_through_the_scan_filter_keeps_its_wall_thickness(wall):
    n, dx = 90, 10.0
    y, x = np.mgrid[:n, :n].astype(float) - (n - 1) / 2
    r = np.hypot(x, y)
    ring = (r < 40.0) & (r >= 40.0 - wall)
    mineral = np.broadcast_to(ring[:, :, None], (n, n, 8)).astype(float)
    ct = M.ct_th(M.filtered_bone(mineral), dx)
    assert abs(ct / dx - wall) <= 0.5 + 0.05 * wall


def test_ct_th_counts_new_bone_next_to_the_cortex_before_its_label_follows():
    from abm.biology.bone.readouts import bone_state, cortical_bone

    shape = (24, 24, 8)
    labels = np.zeros(shape, np.uint8)              # 0 marrow
    labels[6:14] = 2                                # cortex, 8 voxels in x
    labels[18:20] = 1                               # a trabecular plate, not cortex
    tissue = [TissueClass("marrow"), TissueClass("trabecular", permeable=False),
              TissueClass("cortex", permeable=False)]
    m = TissueModel(shape=shape, dx=20.0, fields=["VEGF"], cell_types=[], backend="numpy",
                    seed=1, labels=labels, tissue=tissue)
    mineral = np.where(labels > 0, 1.0, 0.0)
    m.tissue_states["mineral"] = mineral.reshape(-1).copy()
    spec = [parse_readout("Ct.Th", {}, {"VEGF": "ng/mL"}, ["marrow", "trabecular", "cortex"],
                          {"mineral": "1"})]
    before = evaluate_readouts(m, spec)["Ct.Th"]
    assert before == pytest.approx(7.5 * 20.0)       # 8 voxels: t - 0.5 voxel
    mineral[14] = 0.9                               # a layer deposited in marrow voxels
    m.tissue_states["mineral"] = mineral.reshape(-1).copy()
    after = evaluate_readouts(m, spec)["Ct.Th"]
    assert after == pytest.approx(9.5 * 20.0)        # 9 voxels: t + 0.5 voxel
    # the trabecular plate is never part of the cortex
    assert not cortical_bone(bone_state(m))[18:20].any()
