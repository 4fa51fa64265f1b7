"""The points where TissueModel reaches into Mesa's own machinery, each in one function.

TissueModel overrides Mesa's ``agents``, ``agents_by_type`` and ``agent_types`` (its
cells are array-backed), so it reads Mesa's own registry of *ordinary* agents
through the base class's public properties (:func:`ordinary_agents`,
:func:`ordinary_agents_by_type`). One thing has no public route in Mesa 3.3: the
per-model counter that gives an ordinary agent its ``unique_id``
(``mesa.Agent._ids``, a class-level dict keyed by model). Cells and ordinary agents
of one model must share one counter (one id space, ids in order of registration),
so :func:`share_id_counter` replaces that entry; it is the project's only use of a
private Mesa name, checked by ``tests/cells/test_mesa_hooks.py`` so that a Mesa
that changes it fails loudly there, not silently in a run.
"""

from __future__ import annotations

from collections.abc import MutableMapping

import mesa

__all__ = ["ordinary_agents", "ordinary_agents_by_type", "share_id_counter"]


def share_id_counter(model, counter) -> None:
    """Make the ordinary Mesa agents of ``model`` take their unique ids from ``counter``.

    Parameters
    ----------
    model : mesa.Model
    counter : iterator of int
        ``next(counter)`` gives the next unique id (shared with the model's cells).

    Raises
    ------
    RuntimeError
        When Mesa no longer keeps its per-model id counters in ``mesa.Agent._ids``
        (a Mesa outside the tested range, ``mesa>=3.3,<3.4``).
    """
    ids = getattr(mesa.Agent, "_ids", None)
    if not isinstance(ids, MutableMapping):
        raise RuntimeError(
            f"mesa {mesa.__version__} does not keep its agent id counters in "
            f"mesa.Agent._ids, which TissueModel uses to give cells and ordinary agents "
            f"one id space; install a Mesa of the tested range (mesa>=3.3,<3.4)")
    ids[model] = counter


def ordinary_agents(model) -> mesa.agent.AgentSet:
    """Mesa's own set of the model's ordinary (not array-backed) agents, in registration order.

    Read through ``mesa.Model.agents`` (public), which TissueModel overrides.
    """
    return mesa.Model.agents.fget(model)


def ordinary_agents_by_type(model) -> dict:
    """Mesa's own ``agents_by_type`` of the model's ordinary agents (``mesa.Model.agents_by_type``)."""
    return mesa.Model.agents_by_type.fget(model)
