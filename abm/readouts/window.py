"""What the event readouts share: their time window and the model's event log.

An event readout (``divisions``, ``deaths``, ``cycling``) at time ``t`` counts what happened
in the window ``(t - W, t]``, W given by ``over <duration>``; events carry the end time of
the step they happened in. A window reaching back before the start of the run counts from
``t = 0``. The log a model keeps (:mod:`abm.cells.events_log`) is started by the first
evaluation, which a run makes at step 0, before anything has happened; its horizon is the
longest window asked for.
"""

from __future__ import annotations

from ..cells.events_log import EventLog
from ..errors import ModelInputError
from .base import Readout
from .cells import check_type_state, exact_arity

__all__ = ["window_start", "event_log_for", "label_index", "format_minutes", "parse_windowed"]


def parse_windowed(kind, text, args, label, ctx, window, *, takes_state: bool) -> Readout:
    """The :class:`Readout` of ``<kind> <type> [<state>] [in <label>] over <duration>``.

    Parameters
    ----------
    kind : ReadoutKind
        The event readout kind (its ``name`` and ``grammar`` are used).
    text, args, label, ctx, window
        As given to :meth:`ReadoutKind.parse`; ``window`` in min.
    takes_state : bool
        Whether a phenotype state may follow the type.

    Raises
    ------
    Bad
        Wrong number of words, unknown type or state (with did-you-mean).
    """
    exact_arity(kind, text, args, 1, 2 if takes_state else 1)
    state = args[1] if len(args) > 1 else None
    check_type_state(text, args[0], state, ctx)
    return Readout(text, kind.name, cell_type=args[0], state=state, label=label, unit="cells",
                   window=window)


def format_minutes(minutes: float) -> str:
    """A window for messages: ``'24 h'``, ``'90 min'``."""
    return f"{minutes / 60:g} h" if minutes >= 60 and minutes % 60 == 0 else f"{minutes:g} min"


def window_start(model, window: float) -> float:
    """Start of the window that ends now (min): ``max(t - window, 0)``."""
    return max(float(model.time) - float(window), 0.0)


def event_log_for(model, spec) -> EventLog:
    """The model's event log, started (at step 0) or lengthened to ``spec.window`` if needed.

    Raises
    ------
    ModelInputError
        The model has stepped without a log, or the log no longer holds the whole window.
    """
    log = getattr(model, "event_log", None)
    if log is None:
        if int(model.steps) != 0:
            raise ModelInputError(
                f"readout '{spec.text}' counts events over the last "
                f"{format_minutes(spec.window)}, but the model has stepped without an event "
                f"log; call model.keep_event_log({spec.window:g}) before the first step (a run "
                "does this itself)")
        log = model.keep_event_log(spec.window)
    log.extend(spec.window)
    start = window_start(model, spec.window)
    if not log.covers(start):
        raise ModelInputError(
            f"readout '{spec.text}': the event log holds only events after "
            f"t = {log.complete_since:g} min, the window starts at t = {start:g} min; start the "
            f"log earlier (model.keep_event_log({spec.window:g}) before stepping)")
    return log


def label_index(spec, model) -> int | None:
    """Index of ``spec.label`` in the model's tissue table, or None without a label."""
    return None if spec.label is None else model.tissue_names.index(spec.label)
