"""What a trial file declares, once read and checked (:mod:`abm.trial.load`).

A trial is a virtual animal experiment: arms (a scenario plus overrides), animals per
arm, between-animal variability, the outcomes read from each animal's run, the
comparisons between arms, and optionally several studies that differ in protocol or N
and are pooled as a meta-analysis would. See docs/trials.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Arm", "Study", "Outcome", "Comparison", "Resources", "Trial", "outcome_label"]


@dataclass(frozen=True)
class Arm:
    """One group of animals: a scenario file and the overrides that make this arm."""

    name: str
    scenario: Path
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Study:
    """One (virtual) study: its animals per arm, its protocol overrides, its subgroups.

    Attributes
    ----------
    name : str
    animals : int
        Animals per arm.
    overrides : tuple of str
        ``--set`` overrides of every arm of this study (``studies[i].set``).
    subgroups : dict of str to str
        This study's level of each subgroup factor.
    arm_overrides : dict of str to tuple of str
        ``--set`` overrides of one arm in this study only (``studies[i].arms.ARM.set``),
        applied after :attr:`overrides`: e.g. the treated arm's schedule
        (``arm=ev_3d_4wk``) while the control keeps its own.
    """

    name: str
    animals: int
    overrides: tuple[str, ...] = ()
    subgroups: dict = field(default_factory=dict)
    arm_overrides: dict = field(default_factory=dict)

    def overrides_of(self, arm: str) -> tuple[str, ...]:
        """The overrides of arm ``arm`` in this study: the study's own, then the arm's here."""
        return (*self.overrides, *self.arm_overrides.get(arm, ()))


@dataclass(frozen=True)
class Outcome:
    """A readout at a time (min), as a paper reports it at its end point."""

    readout: str
    time: float | None          # None: the end of the run

    @property
    def label(self) -> str:
        """``count BMSC @ 24 h`` (whole hours in h, else min); the end is ``@ end``."""
        return outcome_label(self.readout, self.time)


def outcome_label(readout: str, time: float | None) -> str:
    """The column name of an outcome: ``count BMSC @ 24 h``, ``... @ 90 min``, ``... @ end``."""
    if time is None:
        return f"{readout} @ end"
    if time >= 60 and abs(time / 60 - round(time / 60)) < 1e-9:
        return f"{readout} @ {round(time / 60)} h"
    return f"{readout} @ {time:g} min"


@dataclass(frozen=True)
class Comparison:
    """``treated vs control``: the effect is treated minus control, standardized."""

    treated: str
    control: str

    @property
    def label(self) -> str:
        """``treated vs control``."""
        return f"{self.treated} vs {self.control}"


@dataclass(frozen=True)
class Resources:
    """What each batch job asks for (SLURM or PBS through dask-jobqueue).

    Attributes
    ----------
    cores : int
        CPU cores per job (one Dask worker per job).
    memory : str
        Memory per job, e.g. ``"16GiB"`` (dask's notation).
    walltime : str
        ``HH:MM:SS``.
    queue, account : str or None
        Partition (queue) and account to charge.
    gpus : int
        GPUs per job (``--gres=gpu:N`` on SLURM, ``ngpus=N`` on PBS).
    jobs : int
        Jobs (workers) to start; ``--workers`` overrides.
    job_extra : tuple of str
        More scheduler directives, e.g. ``--constraint=a100``.
    prologue : tuple of str
        Shell lines run before the worker starts (``module load cuda``, activating an
        environment).
    """

    cores: int = 1
    memory: str = "4GiB"
    walltime: str = "01:00:00"
    queue: str | None = None
    account: str | None = None
    gpus: int = 0
    jobs: int = 1
    job_extra: tuple[str, ...] = ()
    prologue: tuple[str, ...] = ()


@dataclass(frozen=True)
class Trial:
    """A checked trial file.

    Attributes
    ----------
    name : str
    source : Path
        The trial file.
    seed : int
        Seed of every draw (animal seeds and variability).
    arms : dict of str to Arm
    studies : list of Study
        At least one (a trial without ``studies:`` is one study named after the trial).
    variability : list of Variation
    outcomes : list of Outcome
    comparisons : list of Comparison
    resources : Resources
    overrides : tuple of str
        ``--set`` overrides of every arm (``trial.set``), applied before the arm's own.
    """

    name: str
    source: Path
    seed: int
    arms: dict
    studies: list
    variability: list
    outcomes: list
    comparisons: list
    resources: Resources
    overrides: tuple = ()

    @property
    def n_runs(self) -> int:
        """Animals in the whole trial (one run each)."""
        return sum(s.animals for s in self.studies) * len(self.arms)
