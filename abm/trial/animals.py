"""The animals of a trial: who is run, with which seed, draws and run file.

Every animal is one run of its arm's scenario with the arm's, the study's and its own
drawn overrides, and its own seed. Seeds and draws come from
:func:`abm.trial.variability.stream` keyed by (trial seed, study, arm, animal, purpose),
so planning the same trial file again gives the same animals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .spec import Trial
from .variability import stream

__all__ = ["Animal", "plan_animals", "RUNS_DIR"]

#: Folder (under the trial's output folder) holding one run file per animal.
RUNS_DIR = "runs"


@dataclass(frozen=True)
class Animal:
    """One virtual animal.

    Attributes
    ----------
    study, arm : str
    index : int
        0-based within its study and arm.
    seed : int
        The run's seed (31 bits).
    scenario : str
        Absolute path of the scenario file.
    overrides : tuple of str
        The trial's, the arm's, the study's (its ``set`` of every arm, then its ``arms:``
        entry of this arm) and the drawn ``--set`` overrides, in that order (stored in the
        run file).
    draws : dict
        Varied key path -> drawn value (in the unit of its distribution).
    path : str
        Run file (HDF5).
    outcomes : tuple of (str, float or None)
        (readout, time in min or None for the end) to read when the run is done.
    """

    study: str
    arm: str
    index: int
    seed: int
    scenario: str
    overrides: tuple
    draws: dict
    path: str
    outcomes: tuple

    @property
    def name(self) -> str:
        """``study-arm-003``: the run file's stem."""
        return f"{self.study}-{self.arm}-{self.index:03d}"


def plan_animals(trial: Trial, out_dir) -> list[Animal]:
    """Every animal of ``trial``, study by study, arm by arm, with run files in ``out_dir/runs``."""
    runs = Path(out_dir).absolute() / RUNS_DIR
    outcomes = tuple((o.readout, o.time) for o in trial.outcomes)
    animals = []
    for study in trial.studies:
        for arm in trial.arms.values():
            for i in range(study.animals):
                seed = int(stream(trial.seed, study.name, arm.name, i, "seed")
                           .generate_state(1)[0] & 0x7FFFFFFF)
                draws, sets = {}, []
                for v in trial.variability:
                    if v.arms is not None and arm.name not in v.arms:
                        continue
                    rng = np.random.default_rng(stream(trial.seed, study.name, arm.name, i, v.key))
                    x = v.draw(rng)
                    draws[v.key] = x
                    sets.append(v.override(x))
                overrides = (*trial.overrides, *arm.overrides, *study.overrides_of(arm.name), *sets)
                a = Animal(study.name, arm.name, i, seed, str(arm.scenario), overrides, draws, "",
                           outcomes)
                animals.append(Animal(**{**a.__dict__, "path": str(runs / f"{a.name}.h5")}))
    return animals
