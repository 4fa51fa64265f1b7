"""Tissue processes in the model.

Analytic evolution, the tissue_state signal, order, checkpoints and refusals.
"""

import copy
import math

import numpy as np
import pytest

from abm import BMSC, Microglia, ModelInputError, TissueModel
from abm.fields import Species
from abm.tissue import TissueProcess
from abm.units import RATE

SHAPE = (6, 5, 4)


class FieldDecay(TissueProcess):
    """A state decaying at a rate proportional to a (static) field: dv/dt = -k c v."""

    name = "field_decay"
    states = {"viability": (1.0, "1")}
    parameters = {"k": (0.0, RATE)}
    field = "A"

    def step(self, model, states, dt):
        c = model.fields.field(self.field).reshape(-1).astype(np.float64)
        states["viability"] *= model.xp.exp(-self.p["k"] * c * dt)


class Constant(TissueProcess):
    """A state fixed at a given per-voxel pattern (flat ramp 0 .. top)."""

    name = "constant"
    states = {"s": (0.0, "nM")}
    parameters = {"top": (1.0, RATE)}

    def initial(self, model):
        return {"s": model.xp.linspace(0.0, self.p["top"], model.n_voxels)}

    def step(self, model, states, dt):
        pass


class SdfDecay(FieldDecay):
    name = "sdf_decay"
    field = "SDF-1a"


class Follower(TissueProcess):
    """Copies the viability of FieldDecay after it has stepped (tests the order)."""

    name = "follower"
    states = {"seen": (-1.0, "1")}

    def step(self, model, states, dt):
        states["seen"] = model.tissue_states["viability"].copy()   # replaces the array


def _ramp_field_model(**kw):
    m = TissueModel(shape=SHAPE, fields=(Species("A", diffusion=0.0),), cell_types=[BMSC],
                    backend="numpy", seed=3, dt=2.0, **kw)
    ramp = np.linspace(0.5, 3.0, SHAPE[0])[:, None, None] * np.ones(SHAPE)
    m.fields.u[0][...] = ramp
    return m, ramp


def test_a_state_decaying_at_a_field_rate_follows_exp_minus_k_c_t():
    k = 0.01
    m, ramp = _ramp_field_model(processes=[FieldDecay(k=k)])
    assert np.array_equal(m.tissue_state_arrays()["viability"], np.ones(SHAPE))
    for _ in range(25):
        m.step()
    t = 25 * 2.0
    got = m.tissue_state_arrays()["viability"]
    assert got.shape == SHAPE
    np.testing.assert_allclose(got, np.exp(-k * ramp * t), rtol=1e-12)
    assert got[0, 0, 0] > got[-1, 0, 0]          # faster where the field is higher
    assert m.tissue_state_units() == {"viability": "1"}


def test_processes_advance_in_the_given_order_and_before_diffusion():
    m, ramp = _ramp_field_model(processes=[FieldDecay(k=0.02), Follower()])
    assert (m.tissue_states["seen"] == -1.0).all()
    m.step()
    # the follower saw the viability after this step's decay, not before
    np.testing.assert_allclose(m.tissue_state_arrays()["seen"], np.exp(-0.02 * ramp * 2.0),
                               rtol=1e-12)
    assert m.tissue_states["seen"].shape == (m.n_voxels,)


def test_a_rule_on_a_tissue_state_changes_a_behaviour_as_the_hill_law_says():
    gmax, K, h, loss, dt = 0.05, 0.4, 2.0, 0.01, 1.0
    m = TissueModel(shape=SHAPE, fields=("SDF-1a",), cell_types=[BMSC], backend="numpy",
                    seed=5, dt=dt, processes=[Constant(top=1.0)],
                    parameters={"BMSC": {"speed": 0.0, "death": 0.0, "division": 0.0,
                                         "gain:CXCR4": 0.0, "loss:CXCR4": loss,
                                         "initial:CXCR4": 0.3}},
                    rules=[("BMSC", "tissue_state:s", "increases", "gain:CXCR4", gmax, K, h)])
    assert "tissue_state:s" in m.signal_names("BMSC")
    m.seed_cells("BMSC", 60)
    flat = np.ravel_multi_index(m.positions("BMSC").T, SHAPE)
    s = np.linspace(0.0, 1.0, m.n_voxels)[flat]
    m.step()
    x = (s / K) ** h
    g = gmax * x / (1 + x)                       # Hill law from a base of 0
    eq = g / (g + loss)
    want = eq + (0.3 - eq) * np.exp(-(g + loss) * dt)
    got = np.asarray(m.populations["BMSC"].columns["CXCR4"])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got.max() - got.min() > 0.01          # the state made a difference


def test_a_tissue_state_signal_equals_the_same_values_as_a_field_signal():
    """The same rule read from a tissue state or from a field with equal values: the same run."""
    def run(signal, processes):
        m = TissueModel(shape=SHAPE, fields=(Species("A", diffusion=0.0),), backend="numpy",
                        cell_types=[BMSC, Microglia], seed=9, processes=processes,
                        rules=[("BMSC", signal, "increases", "death", 0.2, 0.5, 3.0),
                               ("Microglia", signal, "decreases", "speed", 0.0, 0.3, 1.0)])
        m.fields.u[0][...] = np.linspace(0.0, 1.0, m.n_voxels).reshape(SHAPE)
        m.seed_cells("BMSC", 40)
        m.seed_cells("Microglia", 40)
        for _ in range(6):
            m.step()
        return m.positions("BMSC"), m.positions("Microglia")

    a = run("A", [])
    b = run("tissue_state:s", [Constant(top=1.0)])
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert len(a[0]) < 40                        # the rule killed some cells


def _state_equal(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_state_equal(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


def test_checkpoint_round_trip_and_resume_are_bit_identical_with_a_process():
    def build():
        return TissueModel(
            shape=SHAPE, fields=("SDF-1a", "VEGF"), cell_types=[BMSC, Microglia], backend="numpy",
            seed=21, processes=[Constant(top=2.0), SdfDecay(k=0.1)],
            rules=[("BMSC", "tissue_state:viability", "decreases", "division", 0.0, 0.5, 2.0),
                   ("Microglia", "tissue_state:s", "increases", "death", 0.05, 1.0, 2.0)])

    ref = build()
    ref.fields.u[0][...] = np.linspace(0, 5, ref.n_voxels).reshape(SHAPE)
    ref.seed_cells("BMSC", 50)
    ref.seed_cells("Microglia", 50)
    for _ in range(4):
        ref.step()
    mid = copy.deepcopy(ref.get_state())      # on NumPy the arrays share the model's memory
    assert set(mid["tissue_states"]) == {"s", "viability"}
    assert mid["tissue_states"]["viability"].shape == (ref.n_voxels,)
    for _ in range(6):
        ref.step()
    end = ref.get_state()
    resumed = build()
    resumed.set_state(mid)
    assert _state_equal(resumed.get_state(), mid)               # round trip
    for _ in range(6):
        resumed.step()
    assert _state_equal(resumed.get_state(), end)               # resume: bit-identical
    assert not np.array_equal(mid["tissue_states"]["viability"], end["tissue_states"]["viability"])


def test_set_state_refuses_a_checkpoint_with_other_tissue_states():
    m, _ = _ramp_field_model(processes=[FieldDecay(k=0.1)])
    plain, _ = _ramp_field_model()
    with pytest.raises(ModelInputError, match="tissue states"):
        plain.set_state(m.get_state())
    with pytest.raises(ModelInputError, match="tissue states"):
        m.set_state(plain.get_state())
    old = plain.get_state()
    del old["tissue_states"]                      # a checkpoint from before processes existed
    plain.set_state(old)
    assert plain.tissue_states == {}


def test_no_process_means_no_tissue_state():
    m, _ = _ramp_field_model()
    assert m.processes == [] and m.tissue_states == {}
    assert m.tissue_state_arrays() == {} and m.tissue_state_units() == {}
    assert not any(s.startswith("tissue_state:") for s in m.signal_names("BMSC"))


def test_two_processes_declaring_the_same_state_are_refused():
    class Other(TissueProcess):
        name = "other"
        states = {"viability": (0.5, "1")}

    with pytest.raises(ModelInputError, match="'viability' is declared by both 'field_decay' "
                                              "and 'other'"):
        _ramp_field_model(processes=[FieldDecay(), Other()])


def test_bad_processes_are_refused_with_a_clear_message():
    with pytest.raises(ModelInputError, match="pass an instance, FieldDecay"):
        _ramp_field_model(processes=[FieldDecay])

    class Misshapen(TissueProcess):
        name = "misshapen"
        states = {"m": (0.0, "1")}

        def initial(self, model):
            return {"m": model.xp.zeros(7)}

    with pytest.raises(ModelInputError, match="one value per voxel"):
        _ramp_field_model(processes=[Misshapen()])
    with pytest.raises(ModelInputError, match="unknown parameter"):
        FieldDecay(rate=1.0)
    with pytest.raises(ModelInputError, match="tissue_state:viabilty"):
        _ramp_field_model(processes=[FieldDecay()],
                          rules=[("BMSC", "tissue_state:viabilty", "increases", "death",
                                  0.1, 0.5, 1.0)])


def test_a_process_initial_value_can_be_lattice_shaped():
    class Shaped(TissueProcess):
        name = "shaped"
        states = {"m": (0.0, "1")}

        def initial(self, model):
            return {"m": np.arange(math.prod(model.shape), dtype=float).reshape(model.shape)}

        def step(self, model, states, dt):
            states["m"] += dt

    m, _ = _ramp_field_model(processes=[Shaped()])
    m.step()
    np.testing.assert_array_equal(m.tissue_state_arrays()["m"],
                                  np.arange(m.n_voxels).reshape(SHAPE) + 2.0)
