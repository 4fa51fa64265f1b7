"""Reading an animal's run file: is it finished, and what are its outcomes.

A run is finished when its file says ``status = finished`` (set by the runner after the
last checkpoint is complete, see :mod:`abm.runfile`) and it was made with this animal's
scenario, overrides and seed. A file that holds another animal's settings (the trial
file was changed) is never silently reused.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..runfile import RunFileError, open_run
from .spec import outcome_label

__all__ = ["run_state", "outcome_values", "FINISHED", "PARTIAL", "ABSENT"]

FINISHED, PARTIAL, ABSENT = "finished", "partial", "absent"


def run_state(animal) -> str:
    """``finished``, ``partial`` (resumable: same settings, not finished) or ``absent``.

    Raises
    ------
    RunFileError
        The file exists and was made with other settings (scenario, overrides or seed).
    """
    path = Path(animal.path)
    if not path.exists():
        return ABSENT
    try:
        with open_run(path) as r:
            a = r.attrs
            same = (list(a.get("overrides", [])) == list(animal.overrides)
                    and int(a.get("seed", -1)) == animal.seed
                    and Path(str(a.get("scenario_file", ""))).name == Path(animal.scenario).name)
            done = str(a.get("status", "")) == FINISHED
            has_ckpt = bool(r.checkpoint_steps)
    except RunFileError:
        return ABSENT          # unreadable (killed while it was being created): run it again
    if not same:
        raise RunFileError(f"{path} holds a run with other settings than animal {animal.name} of "
                           "this trial (was the trial file changed?); move it away, or give "
                           "another --out")
    if done:
        return FINISHED
    return PARTIAL if has_ckpt else ABSENT


def outcome_values(path, outcomes) -> dict:
    """``{label: value}`` (:func:`~abm.trial.spec.outcome_label`) for ``outcomes`` ((readout, time min or None), ...).

    A time that the run did not reach (or a readout it does not hold) gives NaN.
    """
    out = {}
    with open_run(path) as r:
        ro = r.readouts()
    t = ro.get("time_min", np.zeros(0))
    for name, time in outcomes:
        label = outcome_label(name, time)
        col = ro.get(name)
        if col is None or not len(t):
            out[label] = math.nan
            continue
        if time is None:
            out[label] = float(col[-1])
            continue
        hit = np.flatnonzero(np.abs(t - time) <= 1e-6 * max(1.0, time))
        out[label] = float(col[hit[0]]) if hit.size else math.nan
    return out
