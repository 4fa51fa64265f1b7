"""Virtual trials: animals per arm, between-animal variability, effect sizes and pooling.

``abm trial TRIAL.yaml`` runs one simulated animal per run on Dask and reports, per
outcome, the group means and SDs, Hedges' g with its 95% CI, and the DerSimonian-Laird
random-effects pooling over studies with subgroups, as a preclinical meta-analysis would.
``abm sweep SWEEP.yaml`` runs parameter sweeps on the same layer. See docs/trials.md.

Modules: :mod:`.spec` (what a trial declares), :mod:`.load` (reading and checking a trial
file), :mod:`.variability` (distributions with units), :mod:`.animals` (seeds, draws,
run files), :mod:`.worker` (one run as a Dask task), :mod:`.outcomes` (reading a run),
:mod:`.clusters` (local, existing, SLURM and PBS clusters), :mod:`.dispatch` (submitting
runs and collecting their results), :mod:`.execute` (a trial on Dask), :mod:`.statistics`
(statsmodels' meta-analysis), :mod:`.analysis` (the effects table), :mod:`.table` (CSV
and Parquet), :mod:`.forest` (forest plots), :mod:`.sweep`, :mod:`.designs` and
:mod:`.sensitivity` (``abm sweep``: designs, SALib indices), :mod:`.command` (the command
line).
"""

__all__ = ["Trial", "TrialResult", "load_trial", "check_trial", "is_trial_file", "run_trial"]

#: Public name -> module holding it (imported on first use: ``abm validate`` of a scenario
#: and ``abm --help`` do not pay for pandas and Dask).
_WHERE = {"Trial": "spec", "TrialResult": "execute", "run_trial": "execute",
          "load_trial": "load", "check_trial": "load", "is_trial_file": "load"}


def __getattr__(name):
    if name in _WHERE:
        import importlib  # noqa: PLC0415

        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
