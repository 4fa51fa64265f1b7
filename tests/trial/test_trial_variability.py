"""Between-animal variability: distributions as declared, reproducible, independent per animal."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from abm.trial.animals import plan_animals
from abm.trial.load import load_trial
from abm.trial.variability import parse_variation

sys.path.insert(0, str(Path(__file__).parent))

from trial_helpers import TRIAL, write_trial  # noqa: E402


def _many(v, n=20000, seed=1):
    rng = np.random.default_rng(seed)
    return np.array([v.draw(rng) for _ in range(n)])


def test_lognormal_has_the_declared_mean_and_coefficient_of_variation():
    v = parse_variation("x", {"lognormal": {"mean": "150 cells", "cv": 0.3}})
    x = _many(v)
    # sampling error of the mean: 0.3 * 150 / sqrt(20000) = 0.32 cells; of the CV about 0.2%
    assert x.mean() == pytest.approx(150, abs=1.5)
    assert x.std(ddof=1) / x.mean() == pytest.approx(0.3, abs=0.01)
    assert (x > 0).all()
    # the median of a log-normal is mean / sqrt(1 + cv^2)
    assert np.median(x) == pytest.approx(150 / math.sqrt(1.09), rel=0.01)


def test_normal_truncation_and_uniform_bounds_hold():
    v = parse_variation("r", {"normal": {"mean": "260 um", "sd": "20 um"}, "min": "250 um",
                              "max": "0.3 mm"})
    assert (v.unit, v.low, v.high) == ("um", 250.0, 300.0)     # bounds in the mean's unit
    x = _many(v, 5000)
    assert x.min() >= 250 and x.max() <= 300
    u = _many(parse_variation("t", {"uniform": {"low": "1 h", "high": "3 h"}}), 5000)
    assert 1 <= u.min() and u.max() <= 3 and u.mean() == pytest.approx(2, abs=0.05)


def test_whole_numbers_and_the_override_text_keep_the_users_unit():
    v = parse_variation("events.2.injection.dose", {"lognormal": {"mean": "1.5e5 cells", "cv": 0.2},
                                                    "whole": True})
    x = v.draw(np.random.default_rng(0))
    assert x == int(x)
    assert v.override(x) == f"events.2.injection.dose={int(x)} cells"
    d = parse_variation("populations.0.density", {"normal": {"mean": "2e4 cells/mm^3",
                                                             "sd": "1e3 cells/mm^3"}})
    assert d.override(21234.5678) == "populations.0.density=21234.6 cells/mm^3"


def test_the_plan_is_reproducible_and_each_animal_has_its_own_seed_and_draws(tmp_path):
    t = load_trial(write_trial(tmp_path, animals=5))
    a, b = plan_animals(t, tmp_path / "out"), plan_animals(t, tmp_path / "out")
    assert a == b
    assert len({x.seed for x in a}) == len(a) == 10
    doses = [x.draws["events.0.injection.dose"] for x in a]
    assert len(set(doses)) > 3
    assert a[0].overrides == ("arm=treated", f"events.0.injection.dose={int(doses[0])} cells")
    assert Path(a[0].path).name == "tiny-treated-000.h5"


def test_more_animals_or_another_seed_leave_or_change_the_draws_as_they_should(tmp_path):
    small = plan_animals(load_trial(write_trial(tmp_path, animals=3)), tmp_path)
    big = plan_animals(load_trial(write_trial(tmp_path, animals=6)), tmp_path)
    by_name = {x.name: x for x in big}
    # adding animals does not change the animals already planned
    assert all(by_name[x.name] == x for x in small)
    other = plan_animals(load_trial(write_trial(tmp_path, animals=3,
                                                trial=TRIAL.format(animals=3).replace("seed: 7",
                                                                                      "seed: 8"))),
                         tmp_path)
    assert [x.seed for x in other] != [x.seed for x in small]
