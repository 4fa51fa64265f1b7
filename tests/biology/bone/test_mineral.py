"""The bone-mineral tissue process: formation and resorption at their rates, mass kept, labels followed.

Against closed forms: an active osteoblast on a flat surface puts MAR·A/dx³ per minute into
the surface voxels it touches, a pit fills faster and a spike's tip slower by the concavity
factor; an osteoclast removes V/dx³ per minute shared over the mineral it touches by exposure;
the TGF-β it frees
is exactly matrix_tgfb × the resorbed volume; voxels change label when the mineral crosses the
threshold, at the relabelling times, and cortex grows as cortex.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm import TissueModel
from abm.biology import MineralTissue, Osteoblast, Osteoclast
from abm.biology.bone.mineral import bone_neighbour_sum, neighbourhood_sum, surface_share
from abm.errors import ModelInputError
from abm.fields import Species, TissueClass

DX = 20.0
STILL = {"speed": 0.0, "death": 0.0, "transition:active->lining": 0.0}


def _model(labels, fields=("TGF-b",), dt=60.0, **proc):
    tissue = [TissueClass("marrow"), TissueClass("trabecular", permeable=False),
              TissueClass("cortex", permeable=False)]
    species = [Species(f, 0.0, 0.0, unit="ng/mL") for f in fields]   # inert: amounts stay put
    return TissueModel(shape=labels.shape, dx=DX, fields=species,
                       cell_types=[Osteoblast, Osteoclast], labels=labels, tissue=tissue,
                       label_capacity=[2, 0, 0], dt=dt, seed=3, backend="numpy",
                       parameters={"Osteoblast": STILL, "Osteoclast": {"speed": 0.0, "death": 0.0}},
                       processes=[MineralTissue(**proc)])


def _slab(shape=(8, 6, 6), label=1):
    lab = np.zeros(shape, np.uint8)
    lab[:3] = label                  # bone for x < 3: the surface voxels are at x = 3
    return lab


def test_initial_mineral_and_surface_follow_the_labels():
    m = _model(_slab())
    mn = m.tissue_states["mineral"].reshape(m.shape)
    assert (mn[:3] == 1).all() and (mn[3:] == 0).all()
    s = m.tissue_states["surface"].reshape(m.shape)
    assert np.allclose(s[3], 1 / 6) and (s[4:] == 0).all() and (s[:3] == 0).all()
    # the helpers on their own: a single bone voxel has six soft neighbours at 1/6 each
    one = np.zeros((3, 3, 3), bool)
    one[1, 1, 1] = True
    assert surface_share(np, one).sum() == pytest.approx(1.0)
    assert bone_neighbour_sum(np, one.astype(float))[1, 1, 1] == 0


def test_an_active_osteoblast_on_a_flat_surface_lays_its_whole_output_on_the_voxels_it_lines():
    m = _model(_slab(), relabel_every=0.0)
    m.add_cells(Osteoblast, np.array([[3, 2, 2]]), state="active")
    p = m.processes[0].p
    f = p["apposition_rate"] * p["osteoblast_footprint"] / DX**3   # 1/min
    steps = 20
    for _ in range(steps):
        m.step()
    mn = m.tissue_states["mineral"].reshape(m.shape)
    # its own voxel and its four surface neighbours, a fifth each (flat: concavity factor 1)
    lined = [(3, 2, 2), (3, 1, 2), (3, 3, 2), (3, 2, 1), (3, 2, 3)]
    for v in lined:
        assert mn[v] == pytest.approx(f * m.dt * steps / 5, rel=1e-12)
    assert mn[3:].sum() == pytest.approx(f * m.dt * steps, rel=1e-12)   # the cell's output
    for v in lined:
        mn[v] = 0.0
    assert (mn[3:] == 0).all() and (mn[:3] == 1).all()    # nowhere else


@pytest.mark.parametrize("a", [0.0, 1.0, 2.0])
def test_a_pit_fills_faster_and_a_spike_tip_slower_by_the_concavity_factor(a):
    lab = np.zeros((7, 7, 7), np.uint8)
    lab[:, :, :2] = 1                                   # floor: bone for z < 2
    lab[1, 3, 2:5] = lab[3, 1, 2:5] = lab[3, 3, 2:4] = 1   # two walls and a post around ...
    lab[5, 5, 2:5] = 1                                  # ... and a spike, tip at z = 4
    m = _model(lab, relabel_every=0.0, concavity=a)
    pit, tip = (2, 2, 2), (5, 5, 5)
    m.add_cells(Osteoblast, np.array([pit, tip]), state="active")
    m.step()
    bone = lab.astype(float)
    b26 = neighbourhood_sum(np, bone)
    nb6 = bone_neighbour_sum(np, bone)
    soft_surface = (nb6 > 0) & (bone == 0)
    f = m.processes[0].p["apposition_rate"] * m.processes[0].p["osteoblast_footprint"] / DX**3
    mn = m.tissue_states["mineral"].reshape(m.shape)
    for v in (pit, tip):
        reach = soft_surface[v] + sum(
            soft_surface[tuple(np.add(v, d))] for d in ((1, 0, 0), (-1, 0, 0), (0, 1, 0),
                                                        (0, -1, 0), (0, 0, 1), (0, 0, -1)))
        assert mn[v] == pytest.approx(f * m.dt / reach * (b26[v] / 9) ** a, rel=1e-12)
    assert b26[pit] > 9 > b26[tip]
    if a > 0:     # per covering cell, the pit gains more than a flat voxel, the tip less
        assert mn[pit] * 5 > f * m.dt > mn[tip] * 1


def test_an_osteoblast_away_from_bone_or_lining_deposits_nothing():
    m = _model(_slab(), relabel_every=0.0)
    m.add_cells(Osteoblast, np.array([[6, 2, 2]]), state="active")   # not on the surface
    m.add_cells(Osteoblast, np.array([[3, 2, 2]]), state="lining")   # on it, but quiescent
    for _ in range(10):
        m.step()
    mn = m.tissue_states["mineral"].reshape(m.shape)
    assert (mn[3:] == 0).all()


def test_a_filled_voxel_becomes_bone_and_takes_its_neighbours_label():
    lab = _slab(label=2)             # cortex
    m = _model(lab, relabel_every=0.0)
    m.tissue_states["mineral"].reshape(m.shape)[3, 2, 2] = 0.4999   # a fifth of f dt fills it
    m.add_cells(Osteoblast, np.array([[3, 2, 2]]), state="active")
    m.step()
    assert m.tissue_names[int(m.fields.labels[3, 2, 2])] == "cortex"
    assert m.fields.labels.sum() == 2 * (lab.sum() // 2 + 1)
    s = m.tissue_states["surface"].reshape(m.shape)
    assert s[3, 2, 2] == 0 and s[4, 2, 2] == pytest.approx(1 / 6)


def test_labels_follow_the_mineral_only_at_the_relabelling_times():
    m = _model(_slab(), dt=60.0, relabel_every=240.0)
    m.tissue_states["mineral"].reshape(m.shape)[3, 2, 2] = 0.6     # past the threshold
    for k in range(4):
        assert m.fields.labels[3, 2, 2] == 0, f"relabelled early, after step {k}"
        m.step()
    assert m.fields.labels[3, 2, 2] == 1


def _exposure(lab, v, b):
    """The exposure weight (e/9)^b of mineral voxel v: e non-bone voxels of its 26."""
    e = 26.0 - neighbourhood_sum(np, (lab > 0).astype(float))[v]
    return (e / 9.0) ** b


@pytest.mark.parametrize("b", [0.0, 2.0])
def test_an_osteoclast_resorbs_its_rate_shared_by_exposure_and_frees_tgfb(b):
    lab = np.zeros((7, 7, 7), np.uint8)
    lab[2, 3, 3] = lab[4, 3, 3] = lab[3, 2, 3] = 1     # three bone faces around (3, 3, 3)
    m = _model(lab, relabel_every=0.0, exposure=b)
    m.add_cells(Osteoclast, np.array([[3, 3, 3]]))
    p = m.processes[0].p
    r = p["resorption_rate"] / DX**3 * m.dt           # voxel fraction per step
    m.step()
    mn = m.tissue_states["mineral"].reshape(m.shape)
    targets = ((2, 3, 3), (4, 3, 3), (3, 2, 3))
    w = {v: _exposure(lab, v, b) for v in targets}
    for v in targets:
        assert mn[v] == pytest.approx(1 - r * w[v] / sum(w.values()), rel=1e-12)
    if b > 0:     # (3, 2, 3) touches both others diagonally: less exposed, resorbed less
        assert mn[3, 2, 3] > mn[2, 3, 3] == pytest.approx(mn[4, 3, 3], rel=1e-12)
    resorbed = 3 - (mn[2, 3, 3] + mn[4, 3, 3] + mn[3, 2, 3])
    assert resorbed == pytest.approx(r, rel=1e-12)
    # the TGF-beta freed: matrix_tgfb per unit volume resorbed (inert field: all still there)
    freed = m.fields.total_amount("TGF-b")
    assert freed == pytest.approx(p["matrix_tgfb"] * resorbed * DX**3, rel=1e-12)


def test_resorption_never_takes_more_than_a_voxel_holds_and_bone_turns_to_marrow():
    lab = np.zeros((5, 5, 5), np.uint8)
    lab[2, 2, 2] = 1
    m = _model(lab, relabel_every=0.0, resorption_rate=1e4)   # far more than one voxel a step
    m.add_cells(Osteoclast, np.array([[1, 2, 2], [3, 2, 2]]))
    m.step()
    mn = m.tissue_states["mineral"].reshape(m.shape)
    assert mn.min() == 0.0 and mn.sum() == 0.0
    assert m.fields.labels[2, 2, 2] == 0
    assert m.fields.total_amount("TGF-b") == pytest.approx(m.processes[0].p["matrix_tgfb"] * DX**3)


def test_the_process_needs_the_bone_labels_and_sane_parameters():
    with pytest.raises(ModelInputError, match="needs tissue labels 'marrow'"):
        TissueModel(shape=(4, 4, 4), fields=[Species("TGF-b", 0, 0)], backend="numpy", seed=1,
                    cell_types=[Osteoblast], processes=[MineralTissue()])
    with pytest.raises(ModelInputError, match="threshold"):
        MineralTissue(threshold=1.5)
    with pytest.raises(ModelInputError, match="resorption_rate"):
        MineralTissue(resorption_rate=-1.0)


def test_in_a_defect_an_osteoblast_off_the_surface_lays_down_woven_bone_at_its_share():
    lab = np.zeros((8, 6, 6), np.uint8)
    lab[:3] = 1
    lab[5:] = 3                      # the defect, away from the bone
    tissue = [TissueClass("marrow"), TissueClass("trabecular", permeable=False),
              TissueClass("cortex", permeable=False), TissueClass("defect")]
    m = TissueModel(shape=lab.shape, dx=DX, fields=[Species("TGF-b", 0.0, 0.0)],
                    cell_types=[Osteoblast], labels=lab, tissue=tissue,
                    label_capacity=[2, 0, 0, 2], dt=60.0, seed=3, backend="numpy",
                    parameters={"Osteoblast": STILL},
                    processes=[MineralTissue(relabel_every=0.0, de_novo_share=0.25)])
    m.add_cells(Osteoblast, np.array([[6, 2, 2], [4, 2, 2]]), state="active")  # defect, marrow
    for _ in range(10):
        m.step()
    p = m.processes[0].p
    f = p["apposition_rate"] * p["osteoblast_footprint"] / DX**3
    mn = m.tissue_states["mineral"].reshape(m.shape)
    assert mn[6, 2, 2] == pytest.approx(0.25 * f * 600.0, rel=1e-12)
    assert mn[4, 2, 2] == 0.0        # marrow away from bone: nothing


def test_an_osteoclast_also_clears_a_remnant_below_the_threshold_in_its_own_voxel():
    lab = np.zeros((5, 5, 5), np.uint8)
    lab[2, 2, 1] = 1                                   # one bone face below
    m = _model(lab, relabel_every=0.0)
    mn = m.tissue_states["mineral"].reshape(m.shape)
    mn[2, 2, 2] = 0.3                                  # a remnant where the osteoclast sits
    m.add_cells(Osteoclast, np.array([[2, 2, 2]]))
    r = m.processes[0].p["resorption_rate"] / DX**3 * m.dt
    m.step()
    mn = m.tissue_states["mineral"].reshape(m.shape)
    w_own, w_bone = _exposure(lab, (2, 2, 2), 2.0), _exposure(lab, (2, 2, 1), 2.0)
    assert m.processes[0].p["exposure"] == 2.0
    assert mn[2, 2, 2] == pytest.approx(0.3 - r * w_own / (w_own + w_bone), rel=1e-12)
    assert mn[2, 2, 1] == pytest.approx(1 - r * w_bone / (w_own + w_bone), rel=1e-12)
