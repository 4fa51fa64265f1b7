"""Hill rules (documented responses, combination, table loading) and the counter-based RNG."""

import numpy as np
import pytest

from abm import BMSC, Microglia, ModelInputError, TissueModel
from abm.rules import Rule, RuleSet, load_rules
from kernels import rng as R

B0 = 0.3


@pytest.mark.parametrize("direction,limit", [("increases", 1.1), ("decreases", 0.05)])
@pytest.mark.parametrize("power", [1.0, 2.5])
def test_hill_rule_documented_points(direction, limit, power):
    h = 4.0
    rule = Rule("BMSC", "SDF-1a", direction, "speed", limit, h, power)
    s = np.array([0.0, h, 1e12])
    out = RuleSet.apply(np, B0, [rule], {"SDF-1a": s})
    np.testing.assert_allclose(out, [B0, (B0 + limit) / 2, limit], rtol=1e-9)
    # strictly monotone in between, toward the limit
    mid = RuleSet.apply(np, B0, [rule], {"SDF-1a": np.array([h / 2, 2 * h])})
    assert (np.diff(mid) > 0).all() if direction == "increases" else (np.diff(mid) < 0).all()


def test_rules_combine_as_documented():
    up1 = Rule("BMSC", "a", "increases", "division", 1.0, 1.0, 1)
    up2 = Rule("BMSC", "b", "increases", "division", 1.0, 2.0, 1)
    down = Rule("BMSC", "c", "decreases", "division", 0.0, 1.0, 1)
    sig = {"a": np.array([1.0]), "b": np.array([2.0]), "c": np.array([0.0])}
    # shared maximum: PhysiCell's multivariate Hill, x = 1 + 1 -> 2/3 of the way
    got = RuleSet.apply(np, 0.0, [up1, up2, down], sig)
    assert got[0] == pytest.approx(2 / 3)
    # an inhibitor at its half-max then halves what the activators gave
    sig["c"] = np.array([1.0])
    assert RuleSet.apply(np, 0.0, [up1, up2, down], sig)[0] == pytest.approx(1 / 3)
    # order of rows does not matter
    assert RuleSet.apply(np, 0.0, [down, up2, up1], sig)[0] == pytest.approx(1 / 3)


def test_rule_changes_behaviour_inside_model():
    """A rule 'speed increases with SDF-1a' at s = h moves cells with the halfway speed."""
    from abm.fields import Species

    sdf = Species("SDF-1a", 0.0, 0.0, initial=3.0, unit="ng/mL")
    params = {"BMSC": {"speed": 0.0, "persistence": 1.0, "chemotaxis": 0.0, "division": 0.0,
                       "death": 0.0}}
    m = TissueModel((41, 41, 41), 10.0, fields=[sdf], cell_types=[BMSC], parameters=params,
                    rules=[("BMSC", "SDF-1a", "increases", "speed", 4.0, 3.0, 2)],
                    capacity=10_000, seed=3)
    region = np.zeros((41, 41, 41), bool)
    region[19:22, 19:22, 19:22] = True
    m.seed_cells(BMSC, 3000, region=region)
    start = m.positions(BMSC)
    for _ in range(40):
        m.step()
    r2 = (((m.positions(BMSC) - start) * 10.0) ** 2).sum(axis=1)
    D = 2.0**2 * 1.0 / 3                      # halfway speed 2 µm/min
    assert abs(r2.mean() - 6 * D * 40) < 4 * r2.std() / np.sqrt(r2.size)


def test_rules_table_loads_and_bad_rows_are_named(tmp_path):
    good = tmp_path / "rules.csv"
    good.write_text("# homing\ncell_type,signal,direction,behaviour,max_response,half_max,hill_power\n"
                    "BMSC,SDF-1a,increases,speed,0.6,2,2\n"
                    "Microglia,exosome,increases,transition:M1->M2,0.01,1,1\n")
    rs = load_rules(good)
    assert len(rs) == 2 and rs.rules[1].behaviour == "transition:M1->M2"
    TissueModel((8, 8, 8), cell_types=[BMSC, Microglia], rules=good, seed=1)

    bad = tmp_path / "bad.csv"
    bad.write_text("cell_type,signal,direction,behaviour,max_response,half_max,hill_power\n"
                   "BMSC,SDF-1a,increases,speed,0.6,0,2\n")
    with pytest.raises(ModelInputError, match="bad.csv line 2: half_max must be > 0"):
        load_rules(bad)
    with pytest.raises(ModelInputError, match="no behaviour 'flying'"):
        TissueModel((8, 8, 8), cell_types=[BMSC], seed=1,
                    rules=[("BMSC", "SDF-1a", "increases", "flying", 1, 1, 1)])
    with pytest.raises(ModelInputError, match="cannot sense 'TNF'"):
        TissueModel((8, 8, 8), cell_types=[BMSC], seed=1,
                    rules=[("BMSC", "TNF", "increases", "speed", 1, 1, 1)])
    with pytest.raises(ModelInputError, match="direction must be"):
        Rule("BMSC", "SDF-1a", "boosts", "speed", 1, 1, 1)
    with pytest.raises(ModelInputError, match="not found"):
        load_rules(tmp_path / "missing.csv")


def _splitmix_reference(x):
    m = (1 << 64) - 1
    x &= m
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
    return x ^ (x >> 31)


def test_rng_matches_an_independent_scalar_implementation():
    seed, step, purpose = 12345, 77, "death"
    ids = np.array([1, 2, 3, 10**12, 2**62], dtype=np.int64)
    got = R.draw_bits(np, R.agent_keys(np, seed, step, ids), purpose)
    m = (1 << 64) - 1
    sk = _splitmix_reference(_splitmix_reference(seed) + step * 0x9E3779B97F4A7C15)
    pk = _splitmix_reference(R.PURPOSES[purpose] * 0x9E3779B97F4A7C15 + 1)
    for i, uid in enumerate(ids.tolist()):
        k = _splitmix_reference(((uid * 0xD1B54A32D192ED03) & m) ^ sk)
        assert int(got[i]) == _splitmix_reference(k ^ pk)


def test_rng_is_uniform_and_purposes_are_independent():
    ids = np.arange(1, 200_001)
    u = R.uniform(np, 1, 5, ids, "move")
    v = R.uniform(np, 1, 5, ids, "death")
    w = R.uniform(np, 1, 6, ids, "move")
    assert u.min() >= 0 and u.max() < 1
    counts = np.histogram(u, bins=20, range=(0, 1))[0]
    expected = ids.size / 20
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 45                          # 19 dof; p ~ 1e-3
    for other in (v, w):
        assert abs(np.corrcoef(u, other)[0, 1]) < 0.01
    np.testing.assert_array_equal(u, R.uniform(np, 1, 5, ids, "move"))   # a pure function
