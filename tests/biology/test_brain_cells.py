"""Brain cells with their seed defaults: healthy tissue stays healthy, a graft shrinks.

Also: BDNF comes only from BDNF-positive BMSCs and TNF-a only from M1 microglia (the
shipped rules tables), and a rare BMSC turns neural-like.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm import TissueModel
from abm.biology import BMSC, Astrocyte, Microglia, NeuralLikeCell
from abm.fields import Species
from abm.rules import load_rules
from abm.seeds import load_cell_defaults, load_field_defaults, rules_table

SEED_FIELDS = list(load_field_defaults())


@pytest.mark.parametrize("with_rules", [False, True], ids=["no rules", "shipped rules"])
def test_healthy_tissue_keeps_microglia_resting_and_astrocytes_quiescent(with_rules):
    """No injury, 6 simulated hours: every microglia stays M0, every astrocyte at reactivity 0."""
    rules = ([*load_rules(rules_table("microglia")), *load_rules(rules_table("astrocyte"))]
             if with_rules else None)
    for seed in (1, 2, 3):
        m = TissueModel(shape=(10, 10, 6), dx=25.0, dt=2.0, fields=SEED_FIELDS,
                        cell_types=[Microglia, Astrocyte], backend="numpy", seed=seed,
                        capacity=2, rules=rules)
        m.seed_cells("Microglia", 150, state="M0")
        m.seed_cells("Astrocyte", 200)
        for _ in range(180):
            m.step()
        states = np.asarray(m.populations["Microglia"].columns["state"])
        react = np.asarray(m.populations["Astrocyte"].columns["reactivity"])
        assert (states == 0).all(), f"seed {seed}: {int((states != 0).sum())} microglia left M0"
        assert (react == 0).all(), f"seed {seed}: astrocyte reactivity up to {react.max()}"
        assert m.count("Astrocyte") == 200


def test_an_uninjured_bmsc_graft_shrinks_over_a_week():
    """Count at 7 d below the count at 0 in each of 10 seeds; expected ~e^-(death - division) t."""
    p = load_cell_defaults()["BMSC"]
    n0, days = 200, 7
    kept = []
    for seed in range(10):
        m = TissueModel(shape=(12, 12, 12), dx=25.0, dt=60.0, fields=["VEGF"], cell_types=[BMSC],
                        backend="numpy", seed=100 + seed, capacity=2)
        m.seed_cells("BMSC", n0)
        for _ in range(days * 24):
            m.step()
        kept.append(m.count("BMSC"))
    kept = np.asarray(kept, float)
    msg = (f"BMSCs at {days} d: {kept.mean():.1f} +/- {kept.std(ddof=1):.1f} of {n0} "
           f"(10 seeds, mean +/- sd)")
    assert (kept < n0).all(), msg
    # a pure birth-death process: E[n(t)] = n0 exp((division - death) t), sd ~ sqrt(n)
    want = n0 * np.exp((p["division"] - p["death"]) * days * 1440)
    assert want < 0.2 * n0
    assert abs(kept.mean() - want) < 4 * np.sqrt(want), f"{msg}; expected {want:.1f}"


def _two_cells(cls, states, fields, rules, **kw):
    m = TissueModel(shape=(9, 3, 3), dx=25.0, dt=1.0, fields=fields, cell_types=[cls],
                    backend="numpy", seed=4, rules=rules, **kw)
    m.add_cells(cls, [(1, 1, 1), (7, 1, 1)], state=list(states))
    return m


def test_only_bdnf_positive_bmscs_secrete_bdnf():
    bdnf = Species("BDNF", diffusion=0.0, decay=0.0, unit="ng/mL")
    m = _two_cells(BMSC, ["BDNF_positive", "BDNF_negative"], [bdnf],
                   load_rules(rules_table("bmsc")),
                   parameters={"BMSC": {"speed": 0.0, "death": 0.0, "division": 0.0}})
    m.step()
    c = m.fields.field("BDNF")
    assert c[1, 1, 1] > 0 and abs(c[7, 1, 1]) < 1e-12 * c[1, 1, 1]   # round-off only
    # relaxation toward the target at the rule's rate (0.01 * 256/257 1/min) for 1 min: S T dt
    # to first order in S dt = 0.01 (implicit and exact-exponential schemes differ by ~S dt)
    S, T = 0.01 * 256 / 257, load_cell_defaults()["BMSC"]["target:BDNF"]
    assert c[1, 1, 1] == pytest.approx(S * T, rel=0.015)


def test_only_m1_microglia_secrete_tnf_and_only_m2_il10():
    tnf = Species("TNF-a", diffusion=0.0, decay=0.0, unit="ng/mL")
    il10 = Species("IL-10", diffusion=0.0, decay=0.0, unit="ng/mL")
    rules = [r for r in load_rules(rules_table("microglia")) if r.signal.startswith("state:")]
    m = _two_cells(Microglia, ["M1", "M2"], [tnf, il10], rules,
                   parameters={"Microglia": {"speed": 0.0, "death": 0.0,
                                             "transition:M1->M0": 0.0,
                                             "transition:M2->M0": 0.0}})
    m.step()
    t, i = m.fields.field("TNF-a"), m.fields.field("IL-10")
    assert t[1, 1, 1] > 0 and abs(t[7, 1, 1]) < 1e-12 * t[1, 1, 1]
    assert i[7, 1, 1] > 0 and abs(i[1, 1, 1]) < 1e-12 * i[7, 1, 1]


def test_a_rare_bmsc_turns_neural_like():
    m = TissueModel(shape=(10, 10, 10), dx=25.0, dt=60.0, fields=["VEGF"],
                    cell_types=[BMSC, NeuralLikeCell], backend="numpy", seed=7, capacity=4,
                    parameters={"BMSC": {"death": 0.0, "division": 0.0,
                                         "differentiation:NeuralLikeCell": 1e-4}})
    m.seed_cells("BMSC", 2000)
    for _ in range(24):
        m.step()
    n = m.count("NeuralLikeCell")
    want = 2000 * (1 - np.exp(-1e-4 * 24 * 60))   # 266
    assert abs(n - want) < 4 * np.sqrt(want), (n, want)
    assert load_cell_defaults()["BMSC"]["differentiation:NeuralLikeCell"] < 1e-5   # rare


def test_default_chemotaxis_homes_bmscs_over_100s_of_um_in_a_day():
    """A static SDF-1a border profile (1 ng/mL at the border, decay length 370 um).

    Keller-Segel drift with the seed sensitivity moves BMSCs > 100 um up the gradient in
    24 h; without chemotaxis (CXCR4 blocked) the mean moves by random motility only.
    """
    shape, dx, L = (40, 4, 4), 25.0, 370.0
    x = (np.arange(shape[0]) + 0.5) * dx
    profile = np.exp((x - x[-1]) / L)[:, None, None] * np.ones(shape)   # ng/mL
    sdf = Species("SDF-1a", diffusion=0.0, decay=0.0, unit="ng/mL")

    def mean_shift(blocked):
        m = TissueModel(shape=shape, dx=dx, dt=5.0, fields=[sdf], cell_types=[BMSC],
                        backend="numpy", seed=11, capacity=8,
                        parameters={"BMSC": {"death": 0.0, "division": 0.0,
                                             **({"initial:CXCR4": 0.0, "gain:CXCR4": 0.0}
                                                if blocked else {})}})
        m.fields.u[0][...] = profile
        start = np.zeros(shape, bool)
        start[14:18] = True                       # 350-450 um, c ~ 0.2-0.3 ng/mL
        m.seed_cells("BMSC", 100, region=start)
        x0 = m.positions("BMSC")[:, 0].mean() * dx
        for _ in range(24 * 12):
            m.step()
        return m.positions("BMSC")[:, 0].mean() * dx - x0

    homed, blocked = mean_shift(False), mean_shift(True)
    assert homed > 100.0, f"mean shift up the gradient {homed:.0f} um in 24 h"
    assert abs(blocked) < 25.0, f"CXCR4 blocked: mean shift {blocked:.0f} um"


def test_damage_turns_microglia_m1_at_the_rate_the_rule_table_gives():
    """Uniform static DAMP at the rule's half-max: M0 -> M1 at 0.01/2 1/min, back at 1e-4.

    Two-state kinetics from all-M0: M1(t) = n k / (k + r) (1 - exp(-(k + r) t)).
    """
    damp = Species("DAMP", diffusion=0.0, decay=0.0, unit="nM")
    rules = [r for r in load_rules(rules_table("microglia"))
             if r.signal == "DAMP" and r.behaviour == "transition:M0->M1"]
    assert len(rules) == 1 and rules[0].half_max == 0.5
    n, t = 3000, 120.0
    m = TissueModel(shape=(15, 15, 15), dx=25.0, dt=2.0, fields=[damp], cell_types=[Microglia],
                    backend="numpy", seed=21, capacity=1, rules=rules,
                    parameters={"Microglia": {"death": 0.0}})
    m.fields.u[0][...] = 0.5
    m.seed_cells("Microglia", n, state="M0")
    for _ in range(int(t / m.dt)):
        m.step()
    k, r = rules[0].max_response / 2, load_cell_defaults()["Microglia"]["transition:M1->M0"]
    want = n * k / (k + r) * (1 - np.exp(-(k + r) * t))
    got = int((np.asarray(m.populations["Microglia"].columns["state"]) == 1).sum())
    assert abs(got - want) < 4 * np.sqrt(want), (got, want)


def test_the_healthy_svz_holds_steady_progenitors_feeding_dying_neuroblasts():
    """Seed rates without injury signals keep both SVZ states at their starting numbers.

    Progenitors divide at k and turn neuroblast at k, so E[P(t)] = P0; neuroblasts gain k P
    and lose (d - k) N with d = 2k, so E[N(t)] = P0 when N0 = P0. Birth-death noise over
    3 d is about sqrt(2 k t P0) ~ 50 cells for P0 = 1000. The cells start away from the faces
    of the lattice: a division whose daughter voxel lies outside waits, which would lower the
    division rate near a face.
    """
    from abm.biology import NeuralProgenitor

    rules = [r for r in load_rules(rules_table("neural_progenitor"))
             if r.signal == "state:neuroblast" and r.behaviour != "chemotaxis"]
    assert {r.behaviour for r in rules} == {"speed", "death"}
    shape = (28, 28, 16)
    m = TissueModel(shape=shape, dx=50.0, dt=10.0, fields=[Species("A", diffusion=0.0)],
                    cell_types=[NeuralProgenitor], backend="numpy", seed=8, capacity=40,
                    rules=rules)
    inner = np.zeros(shape, bool)
    inner[6:-6, 6:-6, 5:-5] = True
    m.seed_cells("NeuralProgenitor", 1000, region=inner, state="progenitor")
    m.seed_cells("NeuralProgenitor", 1000, region=inner, state="neuroblast")
    for _ in range(3 * 144):
        m.step()
    c = m.state_counts("NeuralProgenitor")
    k, t = 0.00035, 3 * 1440.0
    sd = np.sqrt(2 * k * t * 1000)
    assert abs(c["progenitor"] - 1000) < 4 * sd, c
    assert abs(c["neuroblast"] - 1000) < 4 * 2 * sd, c
