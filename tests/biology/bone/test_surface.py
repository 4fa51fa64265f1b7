"""The ``bone_surface`` region: soft voxels with a face on mineralised bone (issue 12).

Exact voxel counts on known geometry: a slab (one plane of faces), cubes inside the lattice
(6 faces of n² voxels, no edges or corners) and against the lattice's face (5 faces), the
calvarial strip of docs/bone-anatomy.md (host-bone faces to the dura and periosteum and the
defect's rim column), and through the scenario loader (placement, errors at their key).
"""

from __future__ import annotations

import numpy as np
import pytest

import abm.biology.bone.surface as S  # noqa: F401  (registers the shape)
from abm.errors import ModelInputError
from abm.run.build import build_model, place_populations
from abm.scenario import ScenarioError, load_scenario_text

DX = 20.0
NAMES = ["marrow", "trabecular", "cortex"]


def surface(labels, names=NAMES, **kw):
    of = kw.pop("of", None)
    on = kw.pop("on", None)
    r = S.BoneSurfaceRegion(of or S.DEFAULT_SOFT, on or S.DEFAULT_BONE, of is not None,
                            on is not None)
    return r.mask(labels.shape, DX, labels, names)


def test_a_slab_has_one_plane_of_surface_voxels():
    lab = np.zeros((8, 6, 5), np.uint8)
    lab[:3] = 1                                   # trabecular bone for x < 3
    m = surface(lab)
    assert m.sum() == 6 * 5
    assert m[3].all() and not m[:3].any() and not m[4:].any()
    # a slab in the middle has two planes
    lab = np.zeros((9, 6, 5), np.uint8)
    lab[3:5] = 2                                  # cortex at x = 3, 4
    m = surface(lab)
    assert m.sum() == 2 * 6 * 5 and m[2].all() and m[5].all()


@pytest.mark.parametrize("n", [1, 2, 3])
def test_a_cube_inside_the_lattice_has_six_faces_of_n_squared_voxels(n):
    lab = np.zeros((9, 9, 9), np.uint8)
    lab[3:3 + n, 3:3 + n, 3:3 + n] = 1
    m = surface(lab)
    assert m.sum() == 6 * n * n
    # edges and corners of the cube touch it only diagonally: not surface
    assert not m[2, 2, 3] and not m[2, 2, 2]


def test_a_cube_on_the_lattice_face_loses_the_face_beyond_the_lattice():
    lab = np.zeros((6, 6, 6), np.uint8)
    lab[0:2, 2:4, 2:4] = 1                        # 2-cube against x = 0
    assert surface(lab).sum() == 5 * 4


def test_of_and_on_choose_the_labels():
    lab = np.zeros((10, 6, 6), np.uint8)
    lab[:2] = 2                                   # cortex plane x = 0, 1: surface at x = 2
    lab[6:8, 2:4, 2:4] = 1                        # trabecular 2-cube: 24 surface voxels
    assert surface(lab).sum() == 36 + 24
    assert surface(lab, on=("cortex",)).sum() == 36
    assert surface(lab, on=("trabecular",)).sum() == 24
    # a third soft label: only the voxels of 'of' count
    lab[2, :3] = 3                                # half the cortex's surface plane is 'defect'
    names = NAMES + ["defect"]
    assert surface(lab, names, on=("cortex",)).sum() == 18
    assert surface(lab, names, of=("marrow", "defect"), on=("cortex",)).sum() == 36
    assert surface(lab, names, of=("defect",), on=("cortex",)).sum() == 18


def test_the_mask_follows_the_labels_it_is_given():
    lab = np.zeros((8, 6, 5), np.uint8)
    lab[:3] = 1
    before = surface(lab)
    lab[3] = 1                                    # the bone grew by one plane
    after = surface(lab)
    assert before[3].all() and not after[3].any() and after[4].all()
    assert before.sum() == after.sum() == 30


def test_labels_it_cannot_find_are_refused():
    lab = np.zeros((4, 4, 4), np.uint8)
    with pytest.raises(ModelInputError, match="unknown tissue label 'bone'"):
        surface(lab, on=("bone",))
    with pytest.raises(ModelInputError, match="needs a label of"):
        surface(lab, ["marrow", "outside"])       # neither trabecular nor cortex
    with pytest.raises(ModelInputError, match="labels="):
        S.BoneSurfaceRegion().mask(lab.shape, DX)


# ---------------------------------------------------------------- the calvarial strip
STRIP = """\
name: strip
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
cell_types:
  Osteoblast: {}
fields: {TGF-b: }
populations:
  - {cell_type: Osteoblast, region: REGION, count: 500, state: lining}
"""


def _strip(region):
    return load_scenario_text(STRIP.replace("REGION", region), name="strip.yaml")


def test_the_calvarial_strip_surface_is_its_host_bone_faces_and_the_defect_rim():
    # host bone x = 4-5 mm (50 voxels) x 20 across, plate 40 voxels thick from z = 0.2 mm;
    # the rim column of the defect (x index 199) lies wholly inside the 4 mm radius
    sc = _strip("{shape: bone_surface, of: [outside, defect], on: [cortex]}")
    (pop,) = sc.populations
    model = build_model(sc, backend="numpy")
    lab = np.asarray(model.fields.labels)
    mask = pop.region.mask(model.shape, model.dx, lab, model.tissue_names)
    assert mask.sum() == 2 * 50 * 20 + 20 * 40
    assert mask[200:, :, 9].all() and mask[200:, :, 50].all()      # under and over the plate
    assert mask[199, :, 10:50].all() and not mask[:199].any()
    rim = S.BoneSurfaceRegion(("defect",), ("cortex",), True, True)
    assert rim.voxel_count(model.shape, model.dx, lab, model.tissue_names) == 800
    # cells placed on it sit on surface voxels only
    place_populations(model, sc)
    pos = np.asarray(model.populations["Osteoblast"].pos)
    assert len(pos) == 500 and mask[tuple(pos.T)].all()


def test_a_bare_on_key_in_yaml_is_read_as_on():
    # YAML 1.1 reads 'on' as true; the shape reads it back (here with a flow mapping)
    sc = _strip("{shape: bone_surface, of: defect, on: cortex}")
    assert sc.populations[0].region.on == ("cortex",)
    assert sc.populations[0].region.of == ("defect",)
    assert sc.populations[0].region.voxel_count(sc.domain.shape, sc.domain.dx) == 800


@pytest.mark.parametrize("region, words", [
    ("{shape: bone_surface, of: [outside], on: [cortx]}", "unknown tissue label 'cortx'"),
    ("{shape: bone_surface}", "none of the labels ['marrow']"),
    ("{shape: bone_surface, of: [cortex], on: [cortex]}", "both 'of' (soft) and 'on'"),
    ("{shape: bone_surface, of: outside, onto: cortex}", "unknown key 'onto'"),
])
def test_bad_surfaces_are_one_problem_at_their_key(region, words):
    with pytest.raises(ScenarioError, match=words.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        _strip(region)
