"""Virtual experiments: the arms of a scenario over several animals, and the paper's findings.

=====================  ================================================================
:mod:`.animals`        :func:`run_arms`: every arm once per seed, the readout tables back
:mod:`.claims`         :func:`compare_claim`: a reported finding over runs of both arms
:mod:`.effect_size`    Hedges' g with its small-sample correction and 95 % interval
:mod:`.shortening`     :func:`shorten`: a scenario cut to its first treatment and a few steps
:mod:`.exact_table`    readout tables as text that round-trips bit for bit (golden files)
=====================  ================================================================

Example
-------
>>> from abm.experiment import compare_claim, run_arms
>>> from abm.scenario import load_scenario
>>> path = "scenarios/brain/zhang2006_mcao_intracarotid.yaml"
>>> runs = run_arms(path, seeds=range(1, 11), overrides=["domain.duration=2 d"])
>>> sc = load_scenario(path)
>>> for claim in sc.reported:
...     print(compare_claim(claim, runs).describe())
"""

from .animals import NO_ARM, RunTable, arm_names, run_arms
from .claims import ArmValues, ClaimResult, compare_claim, format_minutes
from .effect_size import hedges_correction, hedges_g, hedges_g_ci95
from .exact_table import ExactTable, first_difference, read_exact_table, write_exact_table
from .shortening import Shortening, shorten, treatment_times

__all__ = ["NO_ARM", "RunTable", "arm_names", "run_arms", "ArmValues", "ClaimResult",
           "compare_claim", "format_minutes", "hedges_correction", "hedges_g", "hedges_g_ci95",
           "ExactTable", "first_difference", "read_exact_table", "write_exact_table",
           "Shortening", "shorten", "treatment_times"]
