"""Choosing what a picture shows: a field or tissue state, a snapshot, a colour range, agents.

A *lattice quantity* is a field (``run.field_names``) or a tissue state
(``run.tissue_state_names``: per-voxel arrays that do not diffuse, such as neuron viability
or mineral fraction); both are drawn the same way (slices, isosurfaces, volume) with their
unit on the colour bar. A name that is both a field and a tissue state means the field.
Everything here reads the run file only.
"""

from __future__ import annotations

import difflib
import math
from typing import Iterable

import numpy as np

from abm.errors import ModelInputError

__all__ = ["field_range", "format_time", "lattice_array", "lattice_names", "lattice_unit",
           "resolve_field", "subsample_stride", "time_to_index"]


def _tissue_states(run) -> list[str]:
    """Tissue states of a run not shadowed by a field of the same name (none for old runs)."""
    fields = set(run.field_names)
    return [n for n in getattr(run, "tissue_state_names", []) or [] if n not in fields]


def lattice_names(run) -> list[str]:
    """The fields, then the tissue states, a picture of ``run`` can show.

    Parameters
    ----------
    run : abm.runfile.RunReader

    Returns
    -------
    list of str
    """
    return list(run.field_names) + _tissue_states(run)


def lattice_unit(run, name: str) -> str:
    """Unit of the field or tissue state ``name`` (``""`` when none is recorded)."""
    if name in run.field_names:
        return str(run.field_units.get(name, ""))
    return str((getattr(run, "tissue_state_units", None) or {}).get(name, ""))


def lattice_array(run, name: str, i: int = -1) -> np.ndarray:
    """The field or tissue state ``name`` at snapshot ``i``, shape (nx, ny, nz), [x, y, z].

    Parameters
    ----------
    run : abm.runfile.RunReader
    name : str
        A name of :func:`lattice_names`.
    i : int
        Snapshot index (negative counts from the end).

    Returns
    -------
    numpy.ndarray
        Values in :func:`lattice_unit` of ``name``.
    """
    if name in run.field_names:
        return run.field(name, i)
    return run.tissue_state(name, i)


def format_time(t_min: float, unit: str = "h") -> str:
    """Simulated time as shown on pictures: ``"t = 12.0 h"``.

    Parameters
    ----------
    t_min : float
        Time, min.
    unit : {"h", "min", "d"}
        Unit to show (the scene uses h for runs of 2 h or more, else min).

    Returns
    -------
    str
    """
    if unit == "min":
        return f"t = {t_min:g} min"
    if unit == "d":
        return f"t = {t_min / 1440.0:.2f} d"
    return f"t = {t_min / 60.0:.1f} h"


def resolve_field(run, field) -> str | None:
    """Check a field or tissue-state name against a run; ``None`` picks the first field.

    Parameters
    ----------
    run : abm.runfile.RunReader
    field : str or None
        Field or tissue-state name (case-insensitive match accepted), ``None`` for the first
        field of the run (or its first tissue state when it has no field), or ``"none"`` /
        ``""`` for no field (cells and tissue only).

    Returns
    -------
    str or None
        The name as stored, or None (nothing to draw).

    Raises
    ------
    ModelInputError
        Unknown name, with the closest names and the lists of the run's fields and tissue
        states.
    """
    names = lattice_names(run)
    if field is None:
        return names[0] if names else None
    if isinstance(field, str) and field.strip().lower() in ("", "none"):
        return None
    if field in names:
        return field
    lower = {n.lower(): n for n in _tissue_states(run)}
    lower.update({n.lower(): n for n in run.field_names})       # a field wins
    if str(field).lower() in lower:
        return lower[str(field).lower()]
    close = difflib.get_close_matches(str(field), names, n=3, cutoff=0.5)
    close += [lower[c] for c in difflib.get_close_matches(str(field).lower(), list(lower), n=3,
                                                           cutoff=0.5) if lower[c] not in close]
    hint = f"did you mean {' or '.join(repr(c) for c in close[:3])}? " if close else ""
    states = _tissue_states(run)
    also = f"; tissue states: {', '.join(states)}" if states else ""
    raise ModelInputError(f"no field {field!r} in {run.path}; {hint}fields in this run: "
                          f"{', '.join(run.field_names) or 'none'}{also}")


def time_to_index(run, time) -> int:
    """Index of the snapshot nearest a simulated time.

    Parameters
    ----------
    run : abm.runfile.RunReader
    time : str, float or None
        A time with its unit (``"12 h"``, ``"90 min"``, ``"1.5 d"``), a number of minutes
        (float, or a string without unit), or None for the last snapshot.

    Returns
    -------
    int
        Index among the complete snapshots (ties go to the earlier one).

    Raises
    ------
    ModelInputError
        Not a time, or outside the snapshots of the run (with the range to choose from).
    """
    times = np.asarray(run.times, dtype=float)
    if len(times) == 0:
        raise ModelInputError(f"{run.path} holds no complete snapshot yet; wait for the run to "
                              "write its first snapshot")
    if time is None:
        return len(times) - 1
    if isinstance(time, str):
        from abm.units import parse_quantity, ureg  # noqa: PLC0415
        try:
            q, bare = parse_quantity(time)
            t = float(q.magnitude) if bare else float(q.to(ureg.minute).magnitude)
        except Exception as e:  # UnitProblem, pint DimensionalityError
            raise ModelInputError(f"cannot read time {time!r} ({e}); give a time with its unit, "
                                  "e.g. '12 h' or '90 min'") from None
    else:
        try:
            t = float(time)
        except (TypeError, ValueError):
            raise ModelInputError(f"time must be a time with its unit (e.g. '12 h') or minutes, "
                                  f"got {time!r}") from None
    if not math.isfinite(t):
        raise ModelInputError(f"time must be finite, got {time!r}")
    span = max(times[-1] - times[0], 1.0)
    if t < times[0] - 1e-9 * span or t > times[-1] + 1e-9 * span:
        raise ModelInputError(
            f"time {time!r} ({t / 60:g} h) is outside the run {run.path}: its snapshots span "
            f"t = {times[0] / 60:g} .. {times[-1] / 60:g} h ({times[0]:g} .. {times[-1]:g} min); "
            "choose a time in that range")
    return int(np.argmin(np.abs(times - t)))


def field_range(run, name: str, which="all") -> tuple[float, float]:
    """Colour range of a field or tissue state, fixed for a whole run (comparable frames).

    Parameters
    ----------
    run : abm.runfile.RunReader
    name : str
        Field or tissue-state name (see :func:`lattice_names`).
    which : {"all", "last"} or int
        ``"all"``: min and max over every complete snapshot, read one snapshot at a time
        (memory of one field); ``"last"``: the last snapshot only; an int: that snapshot.

    Returns
    -------
    (float, float)
        ``(lo, hi)`` in the quantity's unit, ``hi > lo`` (a constant field gets
        ``(v, v + max(|v|, 1))``). Non-finite values are ignored.
    """
    idx = range(run.n_snapshots) if which == "all" else [-1 if which == "last" else int(which)]
    lo, hi = math.inf, -math.inf
    for i in idx:
        a = lattice_array(run, name, i)
        fin = a[np.isfinite(a)] if not np.all(np.isfinite(a)) else a
        if fin.size:
            lo, hi = min(lo, float(fin.min())), max(hi, float(fin.max()))
        del a, fin
    if not math.isfinite(lo):
        lo, hi = 0.0, 1.0
    if not hi > lo:
        hi = lo + (abs(lo) if lo != 0 else 1.0)
    return lo, hi


def subsample_stride(counts: Iterable[int], max_points: int) -> int:
    """Smallest k such that every k-th row of each population is at most ``max_points`` agents.

    Parameters
    ----------
    counts : iterable of int
        Agents per (visible) cell type.
    max_points : int
        Most agents to draw per frame (>= 1).

    Returns
    -------
    int
        k >= 1 (1: all drawn).
    """
    counts = [int(c) for c in counts]
    total = sum(counts)
    max_points = max(1, int(max_points))
    if total <= max_points:
        return 1
    k = max(1, math.ceil(total / max_points))
    while sum(math.ceil(c / k) for c in counts) > max_points:
        k += 1
    return k
