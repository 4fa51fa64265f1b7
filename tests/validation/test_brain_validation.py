"""Validation of the brain biology: treated vs control over 10 virtual animals per arm.

Reduced-size variants of the shipped scenarios (tests/validation/reduced.py: anatomy scaled
down, thinner slab, shorter run, longer step) are run for seeds 1-10 in every arm, and the
seed papers' findings (seed 000_58091ff4731d18ef.txt) are checked as two-sided Welch
t-tests at p < 0.05 (the criterion those papers use) plus the direction of the difference (abm.experiment.compare_claim,
whose one-line description, with mean +/- SD and n per arm, is the failure message):

(a) more proliferating (Ki67-like, cycling over 2 d) SVZ cells with BMSCs after MCAO
    (Zhang et al. 2006; Chen et al. 2003);
(b) BMSCs accumulate in the lesion and penumbra, and far fewer with CXCR4 chemotaxis
    blocked (CXCR4-mediated migration, Tan et al. 2022);
(c) fewer apoptotic (TUNEL-like: deaths over 24 h) border-zone cells with BMSCs
    (Chen et al. 2003);
(d) BMSC exosomes alone after TBI lower TNF-a and raise the M2 fraction (Ni et al. 2019).

The full-size runs at the papers' times are benchmarks/brain_report.py's job.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from reduced import reduced  # noqa: E402

from abm.experiment import compare_claim, run_arms  # noqa: E402
from abm.scenario.arms import Claim  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SEEDS = range(1, 11)
P_MAX = 0.05
OUTPUTS = ["outputs.readout_every=12 h"]


def _runs(path, overrides, arms):
    dur = next(o for o in overrides if o.startswith("domain.duration=")).partition("=")[2]
    return run_arms(path, arms=arms, seeds=SEEDS, workers=2,
                    overrides=list(overrides) + [f"outputs.snapshot_every={dur}",
                                                 f"outputs.checkpoint_every={dur}"])


@pytest.fixture(scope="module")
def mcao():
    """Rat MCAO + intracarotid BMSCs at 24 h, anatomy x0.3, 4 d at 30 min steps."""
    path, ov = reduced("zhang2006_mcao_intracarotid", scale=0.3, slab_um=150, duration="4 d",
                       dt="30 min", extra=OUTPUTS)
    return _runs(path, ov, ["bmsc", "control"])


@pytest.fixture(scope="module")
def local_graft():
    """The quickstart's BMSCs injected 150-350 um outside the penumbra, 8 h."""
    return _runs(ROOT / "scenarios" / "quickstart.yaml",
                 ["domain.duration=8 h", "domain.dt=5 min", "outputs.readout_every=1 h"],
                 ["bmsc", "cxcr4_blocked"])


@pytest.fixture(scope="module")
def tbi():
    """Mouse CCI + IV BMSC exosomes at 15 min, anatomy x0.5, 1 d at 10 min steps."""
    path, ov = reduced("ni2019_tbi_exosomes", scale=0.5, slab_um=150, duration="1 d",
                       dt="10 min", extra=OUTPUTS)
    return _runs(path, ov, ["exosomes", "vehicle"])


def _check(runs, readout, a, op, b):
    result = compare_claim(Claim(readout, None, a, op, b, "seed 000_58091ff4731d18ef.txt"), runs)
    assert result.a.n == len(SEEDS) and result.b.n == len(SEEDS), result.describe()
    assert result.holds and result.p_welch < P_MAX, result.describe()
    print(result.describe())         # shown with pytest -s: the numbers for the record
    return result


def test_a_more_proliferating_svz_cells_with_bmscs_after_mcao(mcao):
    _check(mcao, "cycling NeuralProgenitor in svz over 2 d", "bmsc", ">", "control")


def test_b_bmscs_reach_the_lesion_and_penumbra(mcao):
    for where in ("core", "penumbra"):
        r = _check(mcao, f"count BMSC in {where}", "bmsc", ">", "control")
        assert r.a.mean > 10, r.describe()


def test_b_far_fewer_bmscs_reach_the_penumbra_with_cxcr4_blocked(local_graft):
    r = _check(local_graft, "count BMSC in penumbra", "bmsc", ">", "cxcr4_blocked")
    assert r.b.mean < 0.2 * r.a.mean, r.describe()       # "far fewer": under a fifth
    total = compare_claim(Claim("count BMSC", None, "bmsc", ">", "cxcr4_blocked", ""), local_graft)
    print(total.describe())
    # the graft itself is the same size in both arms: only where the cells go differs
    assert abs(total.a.mean - total.b.mean) < 3 * max(total.a.sem, total.b.sem, 1.0), \
        total.describe()


def test_c_fewer_apoptotic_border_zone_cells_with_bmscs(mcao):
    _check(mcao, "deaths Astrocyte in penumbra over 24 h", "bmsc", "<", "control")


def test_d_exosomes_after_tbi_lower_tnf_a_and_raise_the_m2_fraction(tbi):
    _check(tbi, "mean TNF-a in pericontusion", "exosomes", "<", "vehicle")
    _check(tbi, "fraction Microglia M2 in pericontusion", "exosomes", ">", "vehicle")
