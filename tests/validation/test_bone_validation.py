"""Validation of the bone biology: OVX, sham and BMSC-EV treatment over 10 virtual animals per arm.

A reduced-size variant of scenarios/bone/ovx_rat_evs.yaml (tests/validation/reduced.py: a
0.7 x 0.5 x 0.1 mm block of the same metaphysis across its lateral wall, on the long axis of
the cross-section's ellipse, so that the block holds the cortex's full 200 um thickness and
the trabecular bone inside it; 8 weeks at 6 h steps, EVs weekly from week 1) runs for seeds 1-10 in the arms sham, ovx and
ev_weekly_8wk (7 weekly doses within the 8 weeks). Checked as two-sided Welch t-tests at p < 0.05
plus the direction (abm.experiment.compare_claim, whose one-line description with mean +/- SD
and n per arm is the failure message):

* seed 002_d22e3df16e83e9bf.txt (Zhang et al. 2025): against OVX controls, BMSC-EVs raise BMD,
  BV/TV, Tb.N, Tb.Th, Ct.Th and ultimate load and lower Tb.Sp;
* seed 001_70475427c1d3b693.txt: EVs shift marrow macrophages towards M2;
* OVX loses trabecular bone against sham (Wronski et al. 1988, 1989);
* a sham animal's bone stays steady: BV/TV and BMD at 8 weeks within 5% of their start on
  average, with the 95% interval of the change inside +/- 10%.

All seven outcomes reach p < 0.05 (an outcome that did not would be listed in :data:`NOT_MET`,
marked as an expected failure with its numbers). The full-size runs are
benchmarks/bone_report.py's job.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))

from reduced import reduced_bone  # noqa: E402

from abm.experiment import compare_claim, run_arms  # noqa: E402
from abm.scenario.arms import Claim  # noqa: E402

SEEDS = range(1, 11)
BLOCK_MM = (0.7, 0.5, 0.1)        # x across the lateral cortex, y along it, z the long axis
AXIS_UM = (-1250, 250)            # the block spans 1250-1950 um from the axis: periosteum at 1900
P_MAX = 0.05
EV = "ev_weekly_8wk"


@pytest.fixture(scope="module")
def ovx():
    path, ov = reduced_bone("ovx_rat_evs", extent_mm=BLOCK_MM, axis_um=AXIS_UM,
                            duration="8 week",
                            extra=["outputs.readout_every=1 week",
                                   "outputs.snapshot_every=8 week",
                                   "outputs.checkpoint_every=8 week"])
    return run_arms(path, arms=["sham", "ovx", EV], seeds=SEEDS, workers=2, overrides=ov)


def _check(runs, readout, a, op, b, source):
    result = compare_claim(Claim(readout, None, a, op, b, source), runs)
    print(result.describe())         # shown with pytest -s: the numbers for the record
    assert result.a.n == len(SEEDS) and result.b.n == len(SEEDS), result.describe()
    assert result.holds and result.p_welch < P_MAX, result.describe()
    return result


# Outcomes not met yet, each with its measured numbers (marked strict xfail, so that a model
# change that makes one hold fails here until its mark is removed). Empty since Ct.Th is read
# as a scan segments the cortex (measured 2026-12-03, this reduced block, 10 animals an arm:
# EVs 191.4 +/- 2.4 um vs OVX 188.2 +/- 2.1 um, Welch p = 0.0049, g = 1.37).
NOT_MET: dict[str, str] = {}


def _outcome(readout, op):
    if readout in NOT_MET:
        return pytest.param(readout, op, marks=pytest.mark.xfail(reason=NOT_MET[readout],
                                                                 strict=True))
    return pytest.param(readout, op)


@pytest.mark.parametrize("readout, op", [_outcome(r, o) for r, o in (
    ("BMD", ">"), ("BV/TV", ">"), ("Tb.N", ">"), ("Tb.Th", ">"), ("Ct.Th", ">"),
    ("ultimate_load", ">"), ("Tb.Sp", "<"))])
def test_evs_move_every_micro_ct_outcome_the_way_seed_002_pools_them(ovx, readout, op):
    _check(ovx, readout, EV, op, "ovx", "seed 002_d22e3df16e83e9bf.txt")


def test_evs_shift_marrow_macrophages_towards_m2(ovx):
    _check(ovx, "fraction Macrophage M2", EV, ">", "ovx", "seed 001_70475427c1d3b693.txt")


def test_ovx_loses_trabecular_bone_against_sham(ovx):
    r = _check(ovx, "BV/TV", "ovx", "<", "sham", "Wronski et al. 1988, 1989")
    assert r.a.mean < 0.85 * r.b.mean, r.describe()     # a loss, not a nuance


@pytest.mark.parametrize("readout", ["BV/TV", "BMD"])
def test_a_sham_animals_bone_stays_steady(ovx, readout):
    change = []
    for run in ovx["sham"]:
        v = np.asarray(run.readouts[readout], dtype=float)
        change.append(v[-1] / v[0] - 1.0)
    change = np.array(change)
    lo, hi = stats.t.interval(0.95, len(change) - 1, loc=change.mean(), scale=stats.sem(change))
    print(f"sham {readout} change over 8 weeks: {change.mean():+.3f} (95% CI {lo:+.3f} to "
          f"{hi:+.3f}, n = {len(change)})")
    assert abs(change.mean()) < 0.05, change
    assert -0.10 < lo and hi < 0.10, (lo, hi)
