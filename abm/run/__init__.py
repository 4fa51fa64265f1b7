"""Running a scenario headless.

Build the model, play the timeline, record the run
(:mod:`.runner`), after checking that it fits in memory (:mod:`.memory`).
"""

from .runner import build_model, evaluate_readouts, resume_run, run_scenario

__all__ = ["build_model", "evaluate_readouts", "resume_run", "run_scenario"]
