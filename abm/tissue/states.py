"""The tissue states of a model.

Checking the processes, initialising their states and advancing them by one step
(the model's *tissue* phase).

``model.tissue_states`` maps every state name to a float64 array with one value
per voxel (flat, C order over the lattice) on the model's backend. State names
are global: two processes declaring the same state are refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ModelInputError
from .process import TissueProcess

__all__ = ["check_processes", "initial_states", "advance_states"]


def check_processes(processes: Sequence[TissueProcess] | None) -> list[TissueProcess]:
    """The processes as a list, checked.

    Anything but :class:`TissueProcess` instances, and two processes that declare
    the same state name, are refused (:class:`ModelInputError`).
    """
    out = list(processes or ())
    owner: dict[str, str] = {}
    for p in out:
        if not isinstance(p, TissueProcess):
            what = (f"the class {p.__name__}; pass an instance, {p.__name__}(...)"
                    if isinstance(p, type) else repr(p))
            raise ModelInputError(f"tissue processes must be TissueProcess instances, got {what}")
        for s in p.states:
            if s in owner:
                raise ModelInputError(
                    f"tissue state {s!r} is declared by both {owner[s]!r} and {p.name!r}; "
                    f"rename the state in one of the processes or use only one of them")
            owner[s] = p.name
    return out


def _as_state(model, proc: TissueProcess, name: str, value):
    """``value`` as a new flat float64 array of ``model.n_voxels`` on the model's backend."""
    xp = model.xp
    a = xp.array(value, dtype=np.float64)  # a copy: no state shares memory with anything
    if a.size != model.n_voxels or a.ndim not in (1, 3):
        raise ModelInputError(
            f"tissue process {proc.name!r}: state {name!r} must hold one value per voxel "
            f"({model.n_voxels}, flat or of shape {model.shape}), got shape {tuple(a.shape)}")
    return a.reshape(-1)


def initial_states(model, processes: Sequence[TissueProcess]) -> dict:
    """Initial tissue states of every process, in process order (``{state: array}``).

    From :meth:`TissueProcess.initial`; each declared state must be given.
    """
    states = {}
    for proc in processes:
        got = proc.initial(model)
        missing = set(proc.states) - set(got)
        extra = set(got) - set(proc.states)
        if missing or extra:
            raise ModelInputError(
                f"tissue process {proc.name!r}: initial() must return exactly its states "
                f"{sorted(proc.states)}, got {sorted(got)}")
        for s in proc.states:
            states[s] = _as_state(model, proc, s, got[s])
    return states


def advance_states(model, processes: Sequence[TissueProcess], dt: float) -> None:
    """Advance every process by ``dt`` minutes, in order.

    Each sees the states the earlier ones left. A process may update its arrays in
    place or replace them.
    """
    ts = model.tissue_states
    for proc in processes:
        own = {s: ts[s] for s in proc.states}
        proc.step(model, own, dt)
        for s in proc.states:
            a = own[s]
            ts[s] = a if a is ts[s] else _as_state(model, proc, s, a)
