"""Rules whose numbers contradict their direction, and secretion with no target, are refused."""

from __future__ import annotations

import numpy as np
import pytest

from abm import Astrocyte, ModelInputError, TissueModel
from abm.rules import Rule, RuleSet
from abm.rules.semantics import check_rules, rule_problems


def _rule(direction, behaviour, m, signal="BDNF", ct="Astrocyte"):
    return Rule(ct, signal, direction, behaviour, m, 1.0, 1.0, source="test row")


def test_decreases_above_base_would_raise_the_behaviour():
    """The trap the refusal prevents: a 'decreases' rule above its base would raise the behaviour.

    With the grammar's arithmetic, a 'decreases' rule whose max_response exceeds the base
    raises the behaviour as the signal rises.
    """
    r = _rule("decreases", "death", 1e-3)
    b = RuleSet.apply(np, 1e-4, [r], {"BDNF": np.array([0.0, 1.0, 100.0])})
    assert b[0] == 1e-4 and b[2] > 9e-4  # 'protection' that kills ten times faster
    probs = rule_problems("Astrocyte", {"death": 1e-4}, [r], ["BDNF"])
    assert len(probs) == 1 and "above the base value 0.0001" in probs[0][1]


@pytest.mark.parametrize("direction,m,base,bad", [
    ("decreases", 2e-4, 1e-4, True), ("decreases", 1e-4, 1e-4, False),
    ("decreases", 0.0, 1e-4, False), ("increases", 5e-5, 1e-4, True),
    ("increases", 1e-4, 1e-4, False), ("increases", 1.0, 1e-4, False)])
def test_direction_and_numbers_must_agree(direction, m, base, bad):
    probs = rule_problems("Astrocyte", {"death": base}, [_rule(direction, "death", m)], [])
    assert bool(probs) is bad


def test_rules_of_other_types_are_not_checked_against_this_base():
    r = _rule("decreases", "death", 1.0, ct="Microglia")
    assert rule_problems("Astrocyte", {"death": 0.0}, [r], []) == []


def test_secretion_rule_without_target_is_refused_and_a_target_fixes_it():
    r = _rule("increases", "secretion:BDNF", 0.01, signal="VEGF")
    (rule, msg), = rule_problems("Astrocyte", {}, [r], ["BDNF", "VEGF"])
    assert rule is r and "no target:BDNF" in msg
    assert rule_problems("Astrocyte", {"target:BDNF": 2.0}, [r], ["BDNF", "VEGF"]) == []
    t = _rule("increases", "target:BDNF", 2.0, signal="VEGF")
    assert rule_problems("Astrocyte", {}, [r, t], ["BDNF", "VEGF"]) == []
    with pytest.raises(ModelInputError, match="test row: Astrocyte: rule 'VEGF increases "
                                              "secretion:BDNF'"):
        check_rules({"Astrocyte": {}}, [r], ["BDNF", "VEGF"])


def test_tissue_model_refuses_a_decreasing_rule_above_base():
    rules = [("Astrocyte", "BDNF", "decreases", "death", 1e-3, 1.0, 1.0)]
    with pytest.raises(ModelInputError, match="above the base value"):
        TissueModel(shape=(4, 4, 4), fields=["BDNF"], cell_types=[Astrocyte], rules=rules,
                    parameters={"Astrocyte": {"death": 1e-4}}, seed=1)
    ok = [("Astrocyte", "BDNF", "decreases", "death", 1e-5, 1.0, 1.0)]
    m = TissueModel(shape=(4, 4, 4), fields=["BDNF"], cell_types=[Astrocyte], rules=ok,
                    parameters={"Astrocyte": {"death": 1e-4}}, seed=1)
    assert len(m.rules) == 1


def test_tissue_model_refuses_secretion_switched_on_without_target():
    rules = [("Astrocyte", "VEGF", "increases", "secretion:BDNF", 0.01, 1.0, 1.0)]
    with pytest.raises(ModelInputError, match="no target:BDNF"):
        TissueModel(shape=(4, 4, 4), fields=["BDNF", "VEGF"], cell_types=[Astrocyte],
                    rules=rules, seed=1)
