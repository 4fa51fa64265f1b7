"""Neuron viability as a tissue process, against the analytic solution of its ODE.

dv/dt = -(k_c [core] + k_p [penumbra] + k_T T/(T+K_T)) (1 - P N/(N+K_N)) v in fields held
uniform and constant: v(t) = exp(-k t) per label, computed here by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm import ModelInputError, TissueModel
from abm.biology import Microglia, NeuronViability
from abm.fields import Species, TissueClass
from abm.registry import PROCESSES

SHAPE = (6, 4, 3)


def _model(fields, proc, dt=2.0):
    labels = np.zeros(SHAPE, np.uint8)
    labels[:2] = 2         # core
    labels[2:4] = 1        # penumbra
    tissue = [TissueClass("parenchyma"), TissueClass("penumbra"), TissueClass("core")]
    return TissueModel(shape=SHAPE, fields=fields, cell_types=[Microglia], backend="numpy",
                       seed=1, dt=dt, labels=labels, tissue=tissue, processes=[proc])


def test_registered_for_scenarios():
    assert PROCESSES.get("neuron_viability") is NeuronViability


@pytest.mark.parametrize("T,N", [(0.0, 0.0), (0.8, 0.0), (0.8, 3.0), (0.0, 1.5)])
def test_viability_follows_exp_minus_k_t_in_uniform_fields(T, N):
    still = {"diffusion": 0.0, "decay": 0.0, "unit": "ng/mL"}
    fields = [Species("TNF-a", **still), Species("BDNF", **still), Species("GDNF", **still)]
    p = {"core_death": 2e-3, "penumbra_death": 4e-4, "tnf_death": 3e-4, "tnf_half": 0.5,
         "protection": 0.6, "trophic_half": 1.0}
    m = _model(fields, NeuronViability(**p))
    m.fields.u[0][...] = T
    m.fields.u[1][...] = N / 3       # BDNF + GDNF = N
    m.fields.u[2][...] = 2 * N / 3
    steps = 40
    for _ in range(steps):
        m.step()
    t = steps * m.dt
    inflam = p["tnf_death"] * T / (T + p["tnf_half"])
    protect = 1 - p["protection"] * N / (N + p["trophic_half"])
    v = m.tissue_state_arrays()["viability"]
    for sl, base in ((slice(0, 2), p["core_death"]), (slice(2, 4), p["penumbra_death"]),
                     (slice(4, 6), 0.0)):
        want = math.exp(-(base + inflam) * protect * t)
        np.testing.assert_allclose(v[sl], want, rtol=1e-12)
    assert v[0, 0, 0] <= v[3, 0, 0] <= v[5, 0, 0]        # core below penumbra below healthy


def test_healthy_tissue_without_signals_keeps_full_viability():
    m = _model([Species("A", diffusion=0.0)], NeuronViability())
    for _ in range(30):
        m.step()
    v = m.tissue_state_arrays()["viability"]
    assert (v[4:] == 1.0).all() and (v[:2] < v[2:4]).all()


def test_neurotrophins_protect_penumbra_neurons():
    def penumbra_after(N):
        still = {"diffusion": 0.0, "decay": 0.0, "unit": "ng/mL"}
        m = _model([Species("BDNF", **still)], NeuronViability())
        m.fields.u[0][...] = N
        for _ in range(50):
            m.step()
        return float(m.tissue_state_arrays()["viability"][3].mean())
    assert penumbra_after(5.0) > penumbra_after(0.0)


def test_protection_outside_0_1_is_refused():
    with pytest.raises(ModelInputError, match="protection must be between 0 and 1"):
        NeuronViability(protection=1.5)


@pytest.mark.parametrize("D", [0.0, 0.05, 0.4])
def test_the_penumbra_risk_lasts_only_while_damage_signals_do(D):
    """With penumbra_damp_half K_D, the penumbra rate is k_p D/(D + K_D); the core's is not."""
    fields = [Species("DAMP", diffusion=0.0, decay=0.0, unit="nM")]
    p = {"core_death": 2e-3, "penumbra_death": 4e-4, "tnf_death": 0.0, "protection": 0.0,
         "penumbra_damp_half": 0.1}
    m = _model(fields, NeuronViability(**p))
    m.fields.u[0][...] = D
    for _ in range(25):
        m.step()
    t = 25 * m.dt
    v = m.tissue_state_arrays()["viability"]
    np.testing.assert_allclose(v[2:4], math.exp(-4e-4 * D / (D + 0.1) * t), rtol=1e-12)
    np.testing.assert_allclose(v[:2], math.exp(-2e-3 * t), rtol=1e-12)
    assert (v[4:] == 1.0).all()
