"""The parametric forebrain and its lesions (abm/biology/brain/anatomy, docs/anatomy.md).

Volumes are checked against the analytic volumes of the ellipsoids the parameters define,
the rims against a brute-force distance computation, symmetry and scaling against the
same anatomy mirrored or enlarged, and the scenario path (anchors, errors, abm validate)
end to end.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from abm.biology.brain.anatomy import STRUCTURES, Contusion, Forebrain, MCAOLesion
from abm.biology.brain.anatomy.dimensions import species_dims
from abm.biology.brain.anatomy.forebrain import structure_code
from abm.scenario import ScenarioError, load_scenario_text

EXAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "examples" / \
    "forebrain_mcao_geometry.yaml"


def hemisphere_lattice(species, dx, slab=None, side="right"):
    """A lattice just holding one hemisphere, and the forebrain placed in it."""
    g = species_dims(species)
    nx = int(math.ceil(g.brain_half_width / dx)) + 2
    ny = int(math.ceil(2 * g.brain_half_height / dx)) + 2
    length = 2 * g.brain_half_length if slab is None else slab
    nz = int(math.ceil(length / dx)) + 2
    ox = dx if side == "right" else (nx - 1) * dx
    oz = (nz * dx) / 2 if slab is not None else dx + g.brain_half_length - g.brain_center_ap \
        + g.default_level
    fb = Forebrain(species, (ox, (ny - 1) * dx, oz), 1.0, side, None, slab)
    return fb, (nx, ny, nz)


def centres(fb, shape, dx):
    """Anatomical coordinates (m, d, a) of every voxel centre, full arrays."""
    x, y, z = np.meshgrid(*[(np.arange(n) + 0.5) * dx for n in shape], indexing="ij")
    return fb.anatomical(x, y, z)


def ellipsoid_bound(radii, dx):
    """Worst-case bound on |voxels·dx³ − volume|: surface area × half a voxel diagonal."""
    a, b, c = radii
    p = 1.6075  # Thomsen's approximation of the surface area (within about 1 %)
    area = 4 * math.pi * (((a * b) ** p + (a * c) ** p + (b * c) ** p) / 3) ** (1 / p)
    return area * dx * math.sqrt(3) / 2


def lattice_bound(radii, dx):
    """Typical bound on |voxels·dx³ − volume| for a smooth convex body, µm³.

    The number of lattice points in a smooth convex body of size R differs from its volume
    by O((R/dx)^(3/2)) points in 3D (Hlawka), far below the worst case of
    :func:`ellipsoid_bound`; the constant 3 is a margin (the errors measured here are
    below 1 × that).
    """
    return 3.0 * (max(radii) / dx) ** 1.5 * dx ** 3


# ---------------------------------------------------------------- volumes
@pytest.mark.parametrize("species,dx", [("rat", 100.0), ("mouse", 60.0)])
def test_brain_cortex_and_striatum_volumes_match_their_ellipsoids(species, dx):
    g = species_dims(species)
    fb, shape = hemisphere_lattice(species, dx)
    lab = fb.labels(shape, dx)
    W, H, L = g.brain_half_width, g.brain_half_height, g.brain_half_length
    # the hemisphere is half the cerebral ellipsoid
    brain = np.count_nonzero(lab) * dx ** 3
    assert brain == pytest.approx(2 / 3 * math.pi * W * H * L, abs=lattice_bound((W, H, L), dx))
    # the cortex is the half-shell between the brain and the ellipsoid t_c inside it
    t = g.cortex_thickness
    shell = 2 / 3 * math.pi * (W * H * L - (W - t) * (H - t) * (L - t))
    cortex = np.count_nonzero(lab == structure_code("cortex")) * dx ** 3
    assert cortex == pytest.approx(shell, abs=lattice_bound((W, H, L), dx)
                                   + lattice_bound((W - t, H - t, L - t), dx))
    # the striatum is its whole ellipsoid: the same voxels as a plain NumPy ellipsoid here
    rs = (g.striatum_radius_lateral, g.striatum_radius_dv, g.striatum_radius_ap)
    cs = (g.striatum_center_lateral, g.striatum_center_depth, g.striatum_center_ap)
    m, d, a = centres(fb, shape, dx)
    mine = ((m - cs[0]) / rs[0]) ** 2 + ((d - cs[1]) / rs[1]) ** 2 + ((a - cs[2]) / rs[2]) ** 2 <= 1
    striatum = lab == structure_code("striatum")
    assert np.array_equal(striatum, mine)
    vol = 4 / 3 * math.pi * rs[0] * rs[1] * rs[2]
    assert np.count_nonzero(striatum) * dx ** 3 == pytest.approx(vol, abs=lattice_bound(rs, dx))
    assert abs(np.count_nonzero(striatum) * dx ** 3 - vol) <= ellipsoid_bound(rs, dx)


def test_structures_are_disjoint_and_tile_the_slab():
    dx = 50.0
    fb, shape = hemisphere_lattice("rat", dx, slab=1000.0)
    masks = {s: fb.labels(shape, dx) == structure_code(s) for s in STRUCTURES}
    stack = np.stack(list(masks.values()))
    assert stack.sum(axis=0).max() == 1                       # disjoint
    assert all(np.count_nonzero(v) > 0 for v in masks.values())
    # their union is the brain: the half ellipsoid cut to the slab, computed here directly
    g = species_dims("rat")
    m, d, a = centres(fb, shape, dx)
    z = (np.arange(shape[2]) + 0.5) * dx
    brain = ((m / g.brain_half_width) ** 2 + ((d - g.brain_half_height) / g.brain_half_height) ** 2
             + ((a - g.brain_center_ap) / g.brain_half_length) ** 2 <= 1) & (m >= 0) \
        & (np.abs(z - fb.origin[2]) <= 500.0)[None, None, :]
    assert np.array_equal(stack.any(axis=0), brain)


# ---------------------------------------------------------------- side, scale
def test_left_is_the_mirror_of_right_and_both_is_their_union():
    dx, shape = 50.0, (240, 180, 20)
    origin = (shape[0] * dx / 2, 8800.0, 500.0)
    right = Forebrain("rat", origin, 1.0, "right", 500.0, 1000.0).labels(shape, dx)
    left = Forebrain("rat", origin, 1.0, "left", 500.0, 1000.0).labels(shape, dx)
    both = Forebrain("rat", origin, 1.0, "both", 500.0, 1000.0).labels(shape, dx)
    assert np.count_nonzero(right) > 0
    assert np.array_equal(left, right[::-1, :, :])
    assert np.array_equal(both, np.maximum(left, right))
    assert np.all(right[: shape[0] // 2] == 0) and np.all(left[shape[0] // 2:] == 0)


def test_scale_enlarges_every_length():
    # scale 2 on a lattice of twice the voxel edge is the same set of voxels (exact)
    dx = 100.0
    fb, shape = hemisphere_lattice("mouse", dx, slab=1000.0)
    big = Forebrain("mouse", tuple(2 * v for v in fb.origin), 2.0, "right", None, 2000.0)
    assert np.array_equal(fb.labels(shape, dx), big.labels(shape, 2 * dx))
    # scale 1.5 on the same lattice: volumes grow by 1.5³ (up to discretisation)
    fb1, shape1 = hemisphere_lattice("mouse", 80.0)
    g = species_dims("mouse")
    o = fb1.origin
    s = 1.5
    big1 = Forebrain("mouse", (o[0], o[1] * s, (o[2] - 80.0) * s + 80.0), s, "right")
    shape_big = tuple(int(math.ceil(n * s)) + 2 for n in shape1)
    for name in ("striatum", "cortex"):
        n1 = np.count_nonzero(fb1.labels(shape1, 80.0) == structure_code(name))
        n2 = np.count_nonzero(big1.labels(shape_big, 80.0) == structure_code(name))
        assert n2 / n1 == pytest.approx(s ** 3, rel=0.03), name
    assert g.brain_half_width > 0


# ---------------------------------------------------------------- SVZ
@pytest.mark.parametrize("dx", [20.0, 50.0])
def test_the_svz_lines_the_lateral_wall_of_the_ventricle(dx):
    fb, shape = hemisphere_lattice("rat", dx, slab=400.0)
    lab = fb.labels(shape, dx)
    svz = lab == structure_code("svz")
    vent = lab == structure_code("lateral_ventricle")
    striatum = lab == structure_code("striatum")
    assert svz.any() and vent.any()
    t = max(species_dims("rat").svz_thickness, dx)
    # every SVZ voxel centre lies within the SVZ thickness (+ half a voxel diagonal) of the ventricle
    dist = ndimage.distance_transform_edt(~vent, sampling=dx)
    assert dist[svz].max() <= t + dx * math.sqrt(3) / 2
    # the SVZ separates the ventricle from the striatum: no face contact between them
    grown = ndimage.binary_dilation(vent)
    assert not np.any(grown & striatum)
    # it lies on the lateral side of the ventricle (the striatal wall), medial of the striatum
    m, _, _ = centres(fb, shape, dx)
    assert m[svz].mean() > m[vent].mean()
    assert m[svz].max() < species_dims("rat").striatum_center_lateral


# ---------------------------------------------------------------- lesions
def brute_rim(core, allowed, width, dx):
    """Voxels of ``allowed`` not in ``core`` within ``width`` of a core centre (pairwise distances)."""
    pc = np.argwhere(core) * dx
    lo = np.maximum(np.argwhere(core).min(axis=0) - int(width // dx) - 1, 0)
    hi = np.argwhere(core).max(axis=0) + int(width // dx) + 2
    near = np.zeros(core.shape, dtype=bool)
    near[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = True
    cand = np.argwhere(allowed & ~core & near)
    out = np.zeros(core.shape, dtype=bool)
    for i in range(0, len(cand), 2000):
        c = cand[i:i + 2000]
        d2 = ((c[:, None, :] * dx - pc[None, :, :]) ** 2).sum(axis=2).min(axis=1)
        sel = c[d2 <= width ** 2]
        out[tuple(sel.T)] = True
    return out


def test_mcao_core_takes_the_requested_fraction_of_lateral_striatum_and_cortex():
    dx = 100.0
    fb, shape = hemisphere_lattice("rat", dx, slab=1000.0)
    lab = fb.labels(shape, dx)
    hemi = np.count_nonzero(lab)
    les = MCAOLesion(fb, 0.35, 500.0)
    core, pen, radius = les.parts(shape, dx)
    assert np.count_nonzero(core) / hemi == pytest.approx(0.35, abs=0.005)
    codes = lab[core]
    allowed = {structure_code(s) for s in ("cortex", "corpus_callosum", "striatum")}
    assert set(np.unique(codes)) <= allowed
    assert np.count_nonzero(codes == structure_code("striatum")) > 0.5 * np.count_nonzero(
        lab == structure_code("striatum"))
    assert np.count_nonzero(codes == structure_code("cortex")) > 0
    m, _, _ = centres(fb, shape, dx)
    assert m[core].mean() > m[lab > 0].mean()          # lateral
    # a finer lattice gives the same core radius to within a voxel
    fb2, shape2 = hemisphere_lattice("rat", dx / 2, slab=1000.0)
    r2 = MCAOLesion(fb2, 0.35, 500.0).parts(shape2, dx / 2)[2]
    assert abs(r2 - radius) <= dx
    # a smaller infarct is inside the larger one
    small = MCAOLesion(fb, 0.1, 500.0).parts(shape, dx)[0]
    assert np.all(small <= core) and np.count_nonzero(small) < np.count_nonzero(core)


def test_the_penumbra_is_the_rim_within_its_width_of_the_core():
    dx = 200.0
    fb, shape = hemisphere_lattice("rat", dx, slab=1000.0)
    lab = fb.labels(shape, dx)
    core, pen, _ = MCAOLesion(fb, 0.2, 600.0).parts(shape, dx)
    tissue = (lab > 0) & (lab != structure_code("lateral_ventricle"))
    assert pen.any() and not np.any(pen & core)
    assert np.array_equal(pen, brute_rim(core, tissue, 600.0, dx))


def test_the_contusion_sits_under_the_impactor_with_its_rim():
    dx = 100.0
    g = species_dims("mouse")
    fb = Forebrain("mouse", (100.0, 2 * g.brain_half_height + 100.0, 2000.0), 1.0, "right",
                   -2000.0, 3200.0)
    shape = (int(g.brain_half_width / dx) + 3, int(2 * g.brain_half_height / dx) + 3, 40)
    lab = fb.labels(shape, dx)
    les = Contusion(fb, (2000.0, -2000.0), 3000.0, 1000.0, 500.0)
    core, rim = les.parts(shape, dx)
    assert core.any() and rim.any() and not np.any(core & rim)
    m, d, a = centres(fb, shape, dx)
    assert np.all(np.hypot(m[core] - 2000.0, a[core] + 2000.0) <= 1500.0)
    assert np.all(d[core] <= les.surface_depth() + 1000.0)
    assert np.count_nonzero(lab[core] == structure_code("cortex")) > 0.8 * np.count_nonzero(core)
    # a flat-topped estimate: the volume is at most the half-ellipsoid under the tip
    assert np.count_nonzero(core) * dx ** 3 <= 2 / 3 * math.pi * 1500 ** 2 * 1000 \
        + ellipsoid_bound((1500, 1000, 1500), dx)
    small = Contusion(fb, (2000.0, -2000.0), 3000.0, 1000.0, 300.0)
    assert np.array_equal(small.parts(shape, dx)[0], core)
    tissue = (lab > 0) & (lab != structure_code("lateral_ventricle"))
    assert np.array_equal(rim, brute_rim(core, tissue, 500.0, dx))


# ---------------------------------------------------------------- the scenario path
SCENARIO = """\
name: anatomy
domain: {extent: [6 mm, 9 mm, 1 mm], voxel: 100 um, dt: 1 min, duration: 10 min}
tissue:
  labels:
    - name: cortex
      region: {shape: forebrain, structure: cortex, anatomy: &brain {species: rat, origin: [6 mm, 8.8 mm, 0.5 mm], side: left, slab: 1 mm}}
    - name: striatum
      region: {shape: forebrain, structure: striatum, anatomy: *brain}
    - name: penumbra
      region: {<<: *brain, shape: mcao_penumbra}
    - name: core
      initially: false
fields: {SDF-1a: }
events:
  - at: 0 h
    injury: {region: {<<: *brain, shape: mcao_core}, label: core}
"""


def test_anchors_and_merge_keys_carry_the_anatomy_to_every_region():
    sc = load_scenario_text(SCENARIO, name="anatomy.yaml")
    cortex, striatum, pen = (t.region for t in sc.tissue[1:4])
    fb = Forebrain("rat", (6000.0, 8800.0, 500.0), 1.0, "left", None, 1000.0)
    assert cortex.forebrain == fb and striatum.forebrain == fb and pen.forebrain == fb
    core = sc.events[0].spec.region
    assert core.lesion == MCAOLesion(fb, 0.35, 500.0)
    shape, dx = sc.domain.shape, sc.domain.dx
    assert np.array_equal(striatum.mask(shape, dx), fb.labels(shape, dx) == structure_code("striatum"))


@pytest.mark.parametrize("old,new,line,what", [
    ("origin: [6 mm, 8.8 mm, 0.5 mm]", "origin: [4 mm, 8.8 mm, 0.5 mm]", 6,
     "the lattice does not contain the rat forebrain"),
    ("structure: striatum", "structure: striatun", 8, "unknown structure 'striatun' (did you mean "
     "'striatum'?)"),
    ("species: rat", "species: rats", 6, "unknown species 'rats' (did you mean 'rat'?)"),
    ("shape: mcao_core}", "shape: mcao_core, side: both}", 16, "in one hemisphere"),
    ("shape: mcao_core}", "shape: mcao_core, infarct_fraction: 0.97}", 16,
     "larger than the MCA territory"),
    ("origin: [6 mm, 8.8 mm, 0.5 mm], ", "", 6, "give the anatomy's origin"),
    ("slab: 1 mm}", "slab: 1 mm, level: 30 mm}", 6, "misses the cerebrum"),
])
def test_bad_anatomy_is_one_line_precise_problem(old, new, line, what):
    assert old in SCENARIO
    with pytest.raises(ScenarioError) as ei:
        load_scenario_text(SCENARIO.replace(old, new, 1), name="anatomy.yaml")
    assert what in ei.value.problem
    assert ei.value.line == line


def test_abm_validate_of_the_example_shows_label_voxel_counts(capsys):
    from abm.cli import main

    assert main(["validate", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    tissue = next(line for line in out.splitlines() if line.strip().startswith("tissue:"))
    for name in ("cortex", "corpus_callosum", "striatum", "lateral_ventricle", "svz", "penumbra"):
        n = int(tissue.split(f" {name} (")[1].split(" voxels")[0])
        assert n > 0, name
    assert "core (painted by an event)" in tissue


def test_keys_given_one_by_one_win_over_the_anchored_anatomy():
    text = SCENARIO.replace(
        "region: {shape: forebrain, structure: striatum, anatomy: *brain}",
        "region: {shape: forebrain, structure: striatum, anatomy: *brain, slab: 0.5 mm}").replace(
        "region: {<<: *brain, shape: mcao_penumbra}",
        "region: {<<: *brain, shape: mcao_penumbra, slab: 0.6 mm}")
    sc = load_scenario_text(text, name="anatomy.yaml")
    cortex, striatum, pen = (t.region for t in sc.tissue[1:4])
    assert (cortex.forebrain.slab, striatum.forebrain.slab, pen.forebrain.slab) == (1000, 500, 600)
    assert striatum.forebrain.origin == cortex.forebrain.origin == (6000.0, 8800.0, 500.0)


def test_abm_validate_refuses_a_misspelt_structure_with_exit_2(tmp_path, capsys):
    from abm.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("structure: striatum,", "structure: striatun,"))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "unknown structure 'striatun' (did you mean 'striatum'?)" in err
    assert "Traceback" not in err and err.count("\n") == 1
