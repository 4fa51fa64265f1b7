"""Per-cell markers that a pulse of a label leaves on dividing cells (BrdU, EdU).

A marker is a boolean column ``marker:<name>`` in every population, created only when a
scenario (or the user) declares it (:func:`add_marker`), so a model without markers pays
nothing. A pulse (:func:`start_pulse`, the ``pulse`` event) makes the marker available for a
while: every cell that divides in a step starting within the pulse, mother and daughter, is
marked; a daughter copies its mother's columns, so the descendants of a marked cell stay
marked (a real label is diluted by each division; this marker is not), and a cell that
changes type keeps its markers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MARKER_PREFIX", "add_marker", "marker_column", "start_pulse", "pulses_now",
           "markers_state", "restore_markers"]

#: Column name prefix of a marker.
MARKER_PREFIX = "marker:"

_EPS = 1e-9


def marker_column(name: str) -> str:
    """The population column of marker ``name``."""
    return MARKER_PREFIX + name


def add_marker(model, name: str) -> None:
    """Give every population of ``model`` the (unset) marker column ``name``, once."""
    col = marker_column(name)
    for pop in model.populations.values():
        if col not in pop.spec:
            pop.add_column(col, np.bool_, f"marked by a pulse of {name} (bool)")
    if name not in model.markers:
        model.markers.append(name)


def start_pulse(model, name: str, start: float, duration: float) -> None:
    """Make marker ``name`` available from ``start`` for ``duration`` (both min).

    The pulse marks divisions in the steps that start in ``[start, start + duration)``, and
    always in the step it starts in (a pulse shorter than a step marks that one step).
    """
    add_marker(model, name)
    end = max(float(start) + float(duration), float(model.time) + 0.5 * model.dt)
    model.marker_pulses.append((name, float(model.time), end))


def pulses_now(model, step_start: float) -> list[str]:
    """Marker columns a division marks in the step that starts at ``step_start`` (min)."""
    cols = []
    for name, a, b in model.marker_pulses:
        if a - _EPS <= step_start < b - _EPS and marker_column(name) not in cols:
            cols.append(marker_column(name))
    return cols


def markers_state(model) -> dict | None:
    """The markers and pulses as plain values (part of a checkpoint), or None without markers."""
    if not model.markers:
        return None
    p = model.marker_pulses
    return {"names": list(model.markers),
            "pulse_marker": np.asarray([model.markers.index(n) for n, _, _ in p], np.int64),
            "pulse_start": np.asarray([a for _, a, _ in p], np.float64),
            "pulse_end": np.asarray([b for _, _, b in p], np.float64)}


def restore_markers(model, state: dict | None) -> None:
    """Recreate the marker columns and pulses of a checkpoint (before its columns are read)."""
    model.marker_pulses = []
    if not state:
        return
    names = [str(n) for n in state["names"]]
    for n in names:
        add_marker(model, n)
    idx = np.asarray(state["pulse_marker"], np.int64).reshape(-1)
    a = np.asarray(state["pulse_start"], np.float64).reshape(-1)
    b = np.asarray(state["pulse_end"], np.float64).reshape(-1)
    if not (idx.shape == a.shape == b.shape) or (idx.size and
                                                 (idx.min() < 0 or idx.max() >= len(names))):
        raise ValueError("the checkpoint's marker pulses are malformed")
    model.marker_pulses = [(names[int(i)], float(s), float(e)) for i, s, e in zip(idx, a, b)]
