"""The base class of tissue processes.

A tissue process owns one or more *tissue states*: per-voxel float arrays on the
model's backend (flat, one value per voxel) that do not diffuse. Each step, after
the cells' fate phase and before the fields diffuse, the model calls
:meth:`TissueProcess.step` of every process in the order they were given; a process
reads what it needs (fields, cell densities, tissue labels, its own and other
processes' states) and updates its states in place. Cells sense a tissue state as
the signal ``tissue_state:<state>`` at their voxel. States are checkpointed and
written to snapshots like fields.

A process is declared once and registered::

    from abm.registry import PROCESSES
    from abm.tissue import TissueProcess
    from abm import units as U

    @PROCESSES.register
    class NeuronViability(TissueProcess):
        name = "neuron_viability"
        states = {"viability": (1.0, "1")}                 # initial value, unit
        parameters = {"death_rate": (0.0, U.RATE)}          # default (internal unit), kind

        def step(self, model, states, dt):
            v = states["viability"]
            v *= model.xp.exp(-self.p["death_rate"] * dt)

and a scenario enables it with its parameters (``processes: {neuron_viability:
{death_rate: 0.001 1/min}}``).
"""

from __future__ import annotations

from typing import ClassVar

from ..errors import ModelInputError
from ..units import Kind

__all__ = ["TissueProcess"]


class TissueProcess:
    """A per-voxel tissue process (subclass it; see the module docs).

    Class attributes
    ----------------
    name : str
        Registry name, used in scenario files.
    states : dict
        Tissue state name to ``(initial value, unit)``; the unit is a label (the
        engine does not convert), e.g. ``"1"`` for a fraction.
    parameters : dict
        Parameter name to ``(default value in the internal unit, Kind)``; the
        :class:`abm.units.Kind` tells scenario files which unit to convert from.

    Parameters
    ----------
    **parameters : float
        Values overriding the defaults, in internal units.
    """

    name: ClassVar[str] = ""
    states: ClassVar[dict[str, tuple[float, str]]] = {}
    parameters: ClassVar[dict[str, tuple[float, Kind]]] = {}

    def __init__(self, **parameters: float):
        unknown = set(parameters) - set(self.parameters)
        if unknown:
            raise ModelInputError(
                f"tissue process {self.name!r}: unknown parameter(s) {sorted(unknown)}; known: "
                f"{', '.join(sorted(self.parameters)) or 'none'}")
        self.p: dict[str, float] = {k: float(v) for k, (v, _) in self.parameters.items()}
        self.p.update({k: float(v) for k, v in parameters.items()})

    def initial(self, model) -> dict:
        """Initial state arrays (flat, one value per voxel, on ``model.xp``).

        The default fills each state with its declared initial value.
        """
        xp = model.xp
        return {s: xp.full(model.n_voxels, float(v0), dtype=xp.float64)
                for s, (v0, _) in self.states.items()}

    def step(self, model, states: dict, dt: float) -> None:
        """Advance the states by ``dt`` minutes, in place (``states[name]`` arrays).

        ``states`` holds this process's own states (name to flat float64 array on
        ``model.xp``); every process's states, as the earlier processes of the step
        left them, are in ``model.tissue_states`` (read them, do not write them).
        ``model.time`` is the start of the step, min. Assigning a new array to
        ``states[name]`` also works (it is copied into place).
        """
        raise NotImplementedError(f"tissue process {self.name!r} defines no step()")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.p}>"
