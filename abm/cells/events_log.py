"""A rolling log of the cell divisions and deaths of the last hours.

Readouts that count events in a time window (``divisions ... over 24 h``, ``deaths ... over
6 h``) read this log. A model keeps one only when asked
(:meth:`abm.cells.TissueModel.keep_event_log`), so a model without window readouts pays
nothing. Each step's events form one chunk (their time is the end of that step, min); chunks
older than ``horizon`` (min) are dropped after every step. The log is part of the model's
state (:mod:`abm.cells.state`), so a resumed run counts the same events as an uninterrupted
one.

Every event records: the kind (:data:`DIVISION` or :data:`DEATH`), the index of the cell
type in ``model.populations``, the phenotype state index (-1 for a type without states),
the tissue label of the cell's voxel at the time (0 without labels) and the cell's id (for a
division: the mother's).
"""

from __future__ import annotations

import numpy as np

from kernels.backend import to_numpy

__all__ = ["DIVISION", "DEATH", "EventLog", "COLUMNS", "labels_at"]

#: Event kind codes.
DIVISION, DEATH = 0, 1

#: The columns of a chunk: name -> dtype.
COLUMNS = {"kind": np.int8, "type": np.int16, "state": np.int8, "label": np.int16,
           "id": np.int64}

_EPS = 1e-9


class EventLog:
    """Divisions and deaths of the last ``horizon`` minutes, one chunk per step.

    Parameters
    ----------
    horizon : float
        How far back events are kept, min (the longest window any readout asks for).

    Attributes
    ----------
    complete_since : float
        Every event later than this time (min) is in the log; earlier ones may have been
        dropped.
    """

    def __init__(self, horizon: float):
        self.horizon = float(horizon)
        self.complete_since = 0.0
        self._times: list[float] = []
        self._chunks: list[dict] = []
        self._pending: list[dict] = []

    def __len__(self) -> int:
        return sum(len(c["id"]) for c in self._chunks)

    def extend(self, horizon: float) -> None:
        """Keep events for at least ``horizon`` minutes from now on."""
        self.horizon = max(self.horizon, float(horizon))

    def record(self, kind: int, type_code: int, state, label, ids) -> None:
        """Note events of one kind and one cell type in the current step (NumPy arrays)."""
        ids = np.asarray(ids, np.int64)
        n = ids.shape[0]
        if n == 0:
            return
        self._pending.append({
            "kind": np.full(n, kind, np.int8), "type": np.full(n, type_code, np.int16),
            "state": np.broadcast_to(np.asarray(state, np.int8), (n,)).copy(),
            "label": np.broadcast_to(np.asarray(label, np.int16), (n,)).copy(), "id": ids})

    def end_step(self, time: float) -> None:
        """Close the step that ends at ``time`` (min): its events form one chunk; old ones go."""
        if self._pending:
            self._chunks.append({k: np.concatenate([p[k] for p in self._pending])
                                 for k in COLUMNS})
            self._times.append(float(time))
            self._pending = []
        cutoff = float(time) - self.horizon
        drop = 0
        while drop < len(self._times) and self._times[drop] <= cutoff + _EPS:
            drop += 1
        if drop:
            del self._times[:drop], self._chunks[:drop]
        self.complete_since = max(self.complete_since, cutoff)

    def covers(self, since: float) -> bool:
        """Whether every event later than ``since`` (min) is still in the log."""
        return since >= self.complete_since - _EPS * max(1.0, abs(since))

    def events(self, since: float) -> dict:
        """The events later than ``since`` (min): a dict of NumPy arrays (:data:`COLUMNS`)."""
        k = len(self._times)
        while k > 0 and self._times[k - 1] > since + _EPS * max(1.0, abs(since)):
            k -= 1
        parts = self._chunks[k:]
        if not parts:
            return {c: np.zeros(0, dt) for c, dt in COLUMNS.items()}
        return {c: np.concatenate([p[c] for p in parts]) for c in COLUMNS}

    def count(self, kind: int, type_code: int, since: float, state=None, label=None) -> int:
        """Events of ``kind`` and cell type ``type_code`` later than ``since`` (min)."""
        ev = self.events(since)
        sel = (ev["kind"] == kind) & (ev["type"] == type_code)
        if state is not None:
            sel &= ev["state"] == state
        if label is not None:
            sel &= ev["label"] == label
        return int(sel.sum())

    # ------------------------------------------------------------ checkpoints
    def get_state(self) -> dict:
        """The log as plain NumPy arrays and numbers (part of a checkpoint)."""
        n = [len(c["id"]) for c in self._chunks]
        times = np.repeat(np.asarray(self._times, np.float64), np.asarray(n, np.int64))
        cols = {c: (np.concatenate([ch[c] for ch in self._chunks]) if self._chunks
                    else np.zeros(0, dt)) for c, dt in COLUMNS.items()}
        return {"horizon": self.horizon, "complete_since": self.complete_since,
                "time": times, **cols}

    @classmethod
    def from_state(cls, state: dict) -> "EventLog":
        """A log restored from :meth:`get_state`."""
        log = cls(float(state["horizon"]))
        log.complete_since = float(state["complete_since"])
        times = np.asarray(state["time"], np.float64).reshape(-1)
        cols = {c: np.asarray(state[c], dt).reshape(-1) for c, dt in COLUMNS.items()}
        if any(a.shape != times.shape for a in cols.values()):
            raise ValueError("the event log's columns have different lengths")
        if times.size and (np.diff(times) < 0).any():
            raise ValueError("the event log's times are not in order")
        if times.size:
            starts = np.flatnonzero(np.r_[True, times[1:] != times[:-1]])
            ends = np.r_[starts[1:], times.size]
            for a, b in zip(starts, ends):
                log._times.append(float(times[a]))
                log._chunks.append({c: cols[c][a:b].copy() for c in COLUMNS})
        return log


def labels_at(model, flat) -> np.ndarray:
    """Tissue label (NumPy int16) of each flat voxel index now; zeros without labels."""
    lab = getattr(model, "_labels_flat", None)
    if lab is None:
        return np.zeros(int(flat.shape[0]), np.int16)
    return np.asarray(to_numpy(lab[flat])).astype(np.int16)
