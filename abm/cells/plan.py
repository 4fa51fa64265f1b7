"""The step plan: what the phases of one step decide and hand to each other.

:meth:`abm.cells.TissueModel.step` builds one :class:`StepPlan`; the *sense*
phase gives it a :class:`PopulationPlan` per non-empty population, and the later
phases fill in and read its typed fields (see :mod:`abm.cells.phases`). Arrays
live on the model's backend (``xp``); ``n`` is the number of rows the plan was
made for (rows appended during the step, such as daughters, come after them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..rules import RuleSet
from .population import Population
from .signals import SignalTable

__all__ = ["PopulationPlan", "StepPlan"]


@dataclass
class PopulationPlan:
    """One population's part of a step.

    Attributes
    ----------
    name : str
        Cell type name.
    cls : type
        The cell type class (a :class:`~abm.cells.LatticeCell` subclass).
    pop : Population
        Its agents.
    n : int
        Rows at the start of the step.
    xp : module
        numpy or cupy.
    params : dict
        The cell type's parameters (internal units).
    rules : dict
        Its rules by behaviour (:meth:`abm.rules.RuleSet.for_type`).
    flat : int64 array (n,)
        Flat voxel of every row (updated by the move phase).
    keys : uint64 array (n,)
        Counter-based keys (seed, step, id) of the rows' random draws.
    signals : SignalTable
        The signals the rows sense, computed on first use.
    hop : float64 array (6, n) or None
        Probability of a hop along each of the 6 face directions over the step;
        None when no row moves.
    hop_total : float64 array (n,) or None
        ``hop`` summed over the directions.
    dies : bool array (n,)
        Rows that die this step.
    diff_targets : list of str
        Cell types this type may differentiate into this step.
    diff_to : int32 array (n,)
        Index into ``diff_targets`` of each row's new type, -1 to stay.
    divides : bool array (n,)
        Rows that try to divide this step.
    new_state : int8 array (n,) or None
        Phenotype state of every row after the step (types with states).
    var_rates : dict
        Variable name to ``(gain, loss)`` rates, 1/min (types with variables).
    daughters : list of dict
        Rows of the daughters placed by the divide phase (appended in fate).
    divisions : int
        Daughters placed this step.
    motion : kernels.cell_motion.Proposal or None
        GPU path only: the fused kernel's probabilities and first-round proposal.
    """

    name: str
    cls: type
    pop: Population
    n: int
    xp: Any
    params: dict
    rules: dict
    flat: Any
    keys: Any
    signals: SignalTable
    hop: Any = None
    hop_total: Any = None
    dies: Any = None
    diff_targets: list = field(default_factory=list)
    diff_to: Any = None
    divides: Any = None
    new_state: Any = None
    var_rates: dict = field(default_factory=dict)
    daughters: list = field(default_factory=list)
    divisions: int = 0
    motion: Any = None

    def uses(self, behaviour: str) -> bool:
        """Whether ``behaviour`` has a non-zero base value or a rule (else it is 0)."""
        return not (self.params.get(behaviour, 0) == 0 and behaviour not in self.rules)

    def behaviour(self, behaviour: str):
        """Value of a behaviour for every row: its base value changed by its rules.

        Returns a float (no rule) or a float64 array (n,), in the behaviour's
        internal unit (rates 1/min, speeds µm/min, amounts concentration × µm³).
        """
        base = self.params.get(behaviour, 0.0)
        r = self.rules.get(behaviour)
        return RuleSet.apply(self.xp, base, r, self.signals) if r else base


@dataclass
class StepPlan:
    """The plan of one model step.

    Attributes
    ----------
    step : int
        Step number (Mesa's counter, already advanced); random draws are keyed by it.
    time : float
        Model time at the start of the step, min.
    dt : float
        Step length, min.
    populations : dict
        Cell type name to :class:`PopulationPlan`, for the populations with agents.
    """

    step: int
    time: float
    dt: float
    populations: dict[str, PopulationPlan] = field(default_factory=dict)

    @property
    def end_time(self) -> float:
        """Model time at the end of the step, min."""
        return self.time + self.dt
