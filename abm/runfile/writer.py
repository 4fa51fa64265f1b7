"""The writer of a run file (:class:`RunWriter`).

Created before the first step, kept open for the whole run, every write left flushed and
consistent (see "Crash safety" in :mod:`abm.runfile`).
"""

from __future__ import annotations

import os
import warnings
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np

from .declarations import (
    _cell_type_attrs,
    _read_cell_types,
    _read_tissue_state_units,
    _write_cell_types,
    _write_tissue_state_units,
)
from .encoding import _STR, _attrs_dict, _encode_list, _encode_meta, _esc, _snap_name, _to_numpy
from .layout import (
    _check_labels,
    _complete,
    _numbered,
    _read_lattice,
    _write_agent_tables,
    _write_labels,
    _write_lattice_group,
    _write_tree,
)
from .masks import _write_masks
from .opening import (
    _RESERVED_ROOT,
    FORMAT,
    FORMAT_VERSION,
    RunFileError,
    _check_new_path,
    _open_h5,
    _package_version,
    _refuse_if_being_written,
    _short,
)
from .readouts import _ReadoutSeries
from .restart import _cut_back_to_checkpoint
from .space import ensure_space, tree_nbytes, write_error
from .xdmf import _write_xdmf_from, _xdmf_entries, _xdmf_entry

__all__ = ["RunWriter"]


class RunWriter:
    """Writes one run file; keeps it open for the whole run.

    Make one with :meth:`create` (new run) or :meth:`resume` (continue after the last
    complete checkpoint); never call the constructor directly. Every ``write_*`` call
    leaves the file flushed and consistent: a process killed at any moment leaves
    a file that opens and shows only complete snapshots and checkpoints.

    Attributes
    ----------
    path : pathlib.Path
        The ``.h5`` file being written.
    """

    def __init__(self, f: h5py.File, path: Path):
        self._f = f
        self.path = Path(path)
        self._closed = False
        self._readouts = _ReadoutSeries(f["readouts"], self.path)
        snaps = _numbered(f["snapshots"])
        ckpts = _numbered(f["checkpoints"])
        self._next_snapshot = snaps[-1][0] + 1 if snaps else 0
        self._next_checkpoint = ckpts[-1][0] + 1 if ckpts else 0
        versions = [i for i, n in _numbered(f["tissue/labels"])]
        self._labels_version = versions[-1] if versions else 0
        self._last_labels: np.ndarray | None = None   # read lazily
        self._field_units = _attrs_dict(f["units"])
        self._tissue_state_units = _read_tissue_state_units(f)
        self._states = _read_cell_types(f)[1]
        self._xdmf = _xdmf_entries(f)
        self._staging: Path | None = None   # temporary name until published

    # ----------------------------------------------------------------- creation
    @classmethod
    def create(cls, path, *, metadata: dict, scenario_text: str, units: dict[str, str],
               field_units: dict[str, str], tissue_names: list[str], labels: np.ndarray,
               cell_types: dict[str, dict], overwrite: bool = False,
               tissue_state_units: dict[str, str] | None = None,
               staged: bool = False) -> "RunWriter":
        """Create a new run file and write everything known before the first step.

        Parameters
        ----------
        path : str or Path
            The ``.h5`` file to create. Its folder must exist.
        metadata : dict
            Root attributes describing the run (backend, seed, scenario_name, dt_min,
            dx_um, shape, n_steps, command, overrides, ...). Values: str, int, float,
            bool, None or lists of those; a dict value is stored as its JSON text.
            ``dx_um`` (µm) and optionally ``origin_um`` (3 floats, µm) position the
            lattice in the XDMF sidecar.
        scenario_text : str
            The scenario YAML exactly as given; stored verbatim in ``/scenario``.
        units : dict of str to str
            Units of the quantities in the file (``length: um``, ``time: min``, ...).
        field_units : dict of str to str
            Field name -> concentration unit; merged into ``/units`` and put on each
            field dataset as its ``unit`` attribute.
        tissue_names : list of str
            Tissue label index -> name.
        labels : numpy.ndarray of int, shape (nx, ny, nz)
            Tissue label of every voxel at the start (values < 256), indexed
            [x, y, z]; stored as ``/tissue/labels/0``, transposed to (nz, ny, nx)
            with ``axes = "z,y,x"`` (see "Axis order" in :mod:`abm.runfile`).
        cell_types : dict of str to dict
            Cell type name -> ``{"states": [...], "variables": [...], "colour":
            "#rrggbb" or None, "state_colours": {state: "#rrggbb"}}`` (every key
            optional). The colours are the type's display colours, read back by
            :attr:`RunReader.cell_colours` and used by the viewer.
        overwrite : bool
            Replace an existing file at ``path`` (and its XDMF sidecar).
        tissue_state_units : dict of str to str, optional
            Tissue state name -> unit (e.g. ``{"viability": "1"}``), in the order the
            states are listed; their snapshots go to :meth:`write_snapshot`'s
            ``tissue_states``.
        staged : bool
            Keep the new file under a temporary name in the same folder
            (``.NAME.partial-PID``) until :meth:`publish` renames it into place; closing
            an unpublished writer deletes it. An earlier file at ``path`` stays exactly
            as it was until then, so a start that fails leaves it intact. Without
            ``staged`` the file is published as soon as its structure is written (still
            by a rename: ``path`` never holds a half-created file).

        Returns
        -------
        RunWriter

        Raises
        ------
        RunFileError
            ``path`` exists and ``overwrite`` is false, or another program is writing
            it (the file is left untouched in both cases), or its folder does not exist.
        ValueError
            A reserved metadata key, bad labels, or a colour that is not ``"#rrggbb"``
            (raised before the file is created or replaced).
        """
        p = _check_new_path(Path(path), overwrite)
        for key in metadata:
            if key in _RESERVED_ROOT:
                raise ValueError(f"metadata key {key!r} is reserved by the run-file format")
        labels = _to_numpy(labels)
        _check_labels(labels, len(tissue_names))
        type_attrs = _cell_type_attrs(cell_types)
        tmp = p.parent / f".{p.name}.partial-{os.getpid()}"
        try:
            f = h5py.File(tmp, "w")
        except OSError as e:
            raise RunFileError(f"cannot create {p} ({_short(e)}); check that the folder is "
                               "writable and the file is not open in another program") from None
        try:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = np.int64(FORMAT_VERSION)
            f.attrs["package_version"] = _package_version()
            f.attrs["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            for k, v in metadata.items():
                f.attrs[_esc(k)] = _encode_meta(v, k)
            f.create_dataset("scenario", data=str(scenario_text), dtype=_STR)
            u = f.create_group("units")
            for k, v in {**units, **field_units}.items():
                u.attrs[_esc(k)] = str(v)
            t = f.create_group("tissue")
            t.create_dataset("names", data=np.array(list(tissue_names), dtype=object), dtype=_STR)
            lab = t.create_group("labels")
            _write_labels(lab, 0, labels)
            _write_cell_types(f.create_group("cell_types"), type_attrs)
            s = f.create_group("snapshots")
            s.attrs["field_names"] = _encode_list(list(field_units), "field_units")
            if tissue_state_units:
                _write_tissue_state_units(f, dict(tissue_state_units))
            f.create_group("checkpoints")
            f.create_group("readouts")
            f.flush()
            w = cls(f, p)
        except BaseException:
            f.close()
            _unlink(tmp)
            raise
        w._staging = tmp
        w._field_units = dict(field_units)
        w._last_labels = labels.astype(np.uint8, copy=True)
        if not staged:
            w.publish()
        return w

    def publish(self) -> None:
        """Rename a staged file into place at :attr:`path` and write its XDMF sidecar.

        Does nothing for a published writer. Refused (RunFileError; the staged file is
        deleted and the earlier file at ``path`` left as it is) if another program has
        started writing ``path`` since :meth:`create`.
        """
        if self._staging is None:
            return
        self._check_open()
        try:
            _refuse_if_being_written(self.path)
            self._f.flush()
            os.replace(self._staging, self.path)
        except BaseException:
            self._discard()
            raise
        self._staging = None
        self._update_xdmf()

    @property
    def published(self) -> bool:
        """Whether the file is at :attr:`path` (False while a staged file is unpublished)."""
        return self._staging is None

    @classmethod
    def resume(cls, path) -> tuple["RunWriter", dict]:
        """Reopen a run file to continue it from its last complete checkpoint.

        Deletes incomplete snapshot and checkpoint groups and those after the
        checkpoint's step, truncates readout rows after that step, removes label
        versions no remaining snapshot uses, and rewrites the XDMF sidecar. A
        format-version-1 file is marked version 2 (its old datasets stay as they are
        and read correctly; new ones are stored (nz, ny, nx)).

        Parameters
        ----------
        path : str or Path
            The run file.

        Returns
        -------
        writer : RunWriter
            Open for appending; snapshot and checkpoint numbering continues.
        checkpoint : dict
            ``{"step": int, "time_min": float, "state": dict}`` as given to
            :meth:`write_checkpoint`.

        Raises
        ------
        RunFileError
            Missing, unreadable or non-run file, or no complete checkpoint.
        """
        p = Path(path)
        f = _open_h5(p, "r+")
        try:
            state = _cut_back_to_checkpoint(f, p)
            f.flush()
            w = cls(f, p)
            w._update_xdmf()
        except RunFileError:
            f.close()
            raise
        except (OSError, KeyError, ValueError) as e:
            f.close()
            raise RunFileError(f"cannot resume {p} ({_short(e)}); the file may be corrupt") from None
        return w, state

    # ----------------------------------------------------------------- writing
    def write_snapshot(self, step: int, time_min: float, fields: dict[str, np.ndarray],
                       agents: dict[str, dict[str, np.ndarray]],
                       labels: np.ndarray | None = None,
                       tissue_states: dict[str, np.ndarray] | None = None) -> int:
        """Write one snapshot (fields, tissue states, agent tables) and mark it complete.

        Parameters
        ----------
        step : int
            Model step count at the snapshot.
        time_min : float
            Simulated time, min.
        fields : dict of str to ndarray (nx, ny, nz)
            Field name -> concentration array indexed [x, y, z] (float32 or float64,
            dtype kept, chunked, gzip level 1 + shuffle), in the field's unit. Stored
            transposed, (nz, ny, nx) with ``axes = "z,y,x"``; :meth:`RunReader.field`
            gives back the (nx, ny, nz) array.
        agents : dict of str to dict of str to ndarray
            Cell type -> column name -> 1-D array (or (n, 3) for ``pos``); all columns
            of a type have the same length n (may be 0).
        labels : ndarray (nx, ny, nz), optional
            The tissue labels in force now, indexed [x, y, z]; a new
            ``/tissue/labels`` version (stored (nz, ny, nx) like the fields) is stored
            only if it differs from the last one.
        tissue_states : dict of str to ndarray (nx, ny, nz), optional
            Tissue state name -> per-voxel array indexed [x, y, z], in the state's unit
            (``tissue_state_units`` of :meth:`create`); stored like the fields, in the
            snapshot's group ``tissue_states``; read back by
            :meth:`RunReader.tissue_state`.

        Returns
        -------
        int
            Index of the snapshot (0, 1, 2, ...).

        Raises
        ------
        ValueError
            A tissue state that is not a 3-D array, or agent columns of unequal length.
        """
        self._check_open()
        what = f"the snapshot at t = {time_min / 60:.4g} h"
        self._ensure(tree_nbytes([fields, agents, labels, tissue_states]), what)
        try:
            return self._write_snapshot(step, time_min, fields, agents, labels, tissue_states)
        except OSError as e:
            raise self._storage_error(e, what) from None

    def _write_snapshot(self, step, time_min, fields, agents, labels, tissue_states) -> int:
        f = self._f
        if labels is not None:
            labels = _to_numpy(labels)
            last = self._current_labels()
            if last.shape != labels.shape or not np.array_equal(last, labels):
                _check_labels(labels, None)
                self._labels_version += 1
                name = str(self._labels_version)
                if name in f["tissue/labels"]:
                    del f["tissue/labels"][name]
                _write_labels(f["tissue/labels"], self._labels_version, labels)
                self._last_labels = labels.astype(np.uint8, copy=True)
        idx = self._next_snapshot
        name = _snap_name(idx)
        sn = f["snapshots"]
        if name in sn:          # leftover of an interrupted call
            del sn[name]
        g = sn.create_group(name)
        g.attrs["step"] = np.int64(step)
        g.attrs["time_min"] = np.float64(time_min)
        g.attrs["labels_version"] = np.int64(self._labels_version)
        _write_lattice_group(g.create_group("fields"), fields, self._field_units,
                             lattice_only=False, what="field")
        if tissue_states is not None:
            _write_lattice_group(g.create_group("tissue_states"), tissue_states,
                                 self._tissue_state_units, lattice_only=True,
                                 what="tissue state")
        _write_agent_tables(g.create_group("agents"), agents, self._states)
        self._readouts.write_rows()
        self._next_snapshot = idx + 1
        g.attrs["complete"] = np.int8(1)
        f.flush()
        entry = _xdmf_entry(g, name)
        if entry is not None:
            self._xdmf.append(entry)
        self._update_xdmf()
        return idx

    def append_readouts(self, step: int, time_min: float, values: dict[str, float],
                        units: dict[str, str]) -> None:
        """Add one row to the readout time series.

        The first call fixes the columns (their order and units); later rows may
        leave a column out (stored as NaN) but may not add one. Rows are buffered
        and reach the file at the latest at the next snapshot, checkpoint,
        :meth:`flush` or :meth:`close`.

        Parameters
        ----------
        step : int
            Model step count.
        time_min : float
            Simulated time, min.
        values : dict of str to float
            Readout name -> value.
        units : dict of str to str
            Readout name -> unit (used on the first call).

        Raises
        ------
        RunFileError
            A column that was not in the first row.
        """
        self._check_open()
        self._readouts.append(step, time_min, values, units)

    def write_checkpoint(self, step: int, time_min: float, state: dict, keep_last: int = 2) -> None:
        """Write everything needed to resume at ``step``; then drop old checkpoints.

        Parameters
        ----------
        step : int
            Model step count the state belongs to.
        time_min : float
            Simulated time, min.
        state : dict
            Nested dict: dict values become groups, NumPy arrays datasets (stored
            losslessly, bit-identical; 0-length allowed), and int, float, bool, str,
            None and lists of int/float/bool/str become attributes. Tuples come back
            as lists, NumPy scalars as Python scalars. Keys must be str.
        keep_last : int
            Number of complete checkpoints to keep (>= 1); older ones are deleted
            after the new one is complete.
        """
        self._check_open()
        if keep_last < 1:
            raise ValueError("keep_last must be at least 1")
        what = f"the checkpoint at t = {time_min / 60:.4g} h"
        self._ensure(tree_nbytes(state), what)
        try:
            self._write_checkpoint(step, time_min, state, keep_last)
        except OSError as e:
            raise self._storage_error(e, what) from None

    def _write_checkpoint(self, step, time_min, state, keep_last) -> None:
        f = self._f
        self._readouts.write_rows()
        ck = f["checkpoints"]
        idx = self._next_checkpoint
        name = _snap_name(idx)
        if name in ck:
            del ck[name]
        g = ck.create_group(name)
        g.attrs["step"] = np.int64(step)
        g.attrs["time_min"] = np.float64(time_min)
        _write_tree(g.create_group("state"), state, "state")
        self._next_checkpoint = idx + 1
        g.attrs["complete"] = np.int8(1)
        f.flush()
        done = [n for _, n in _numbered(ck) if _complete(ck[n])]
        stale = done[:-keep_last]
        for n in stale:
            del ck[n]
        if stale:
            f.flush()

    def write_masks(self, masks: dict[str, np.ndarray]) -> None:
        """Store the scenario's mask arrays (name -> boolean array [x, y, z]) in ``/masks``.

        A scenario rebuilt from the file takes its masks from here, never from a path.
        """
        self._check_open()
        if masks:
            _write_masks(self._f, masks)
            self._f.flush()

    def set_attrs(self, **attrs) -> None:
        """Set or update root attributes (e.g. ``status="finished"``, ``wall_s=3600.0``).

        Values as for ``metadata`` in :meth:`create`; the file is flushed.
        """
        self._check_open()
        for k, v in attrs.items():
            if k in _RESERVED_ROOT:
                raise ValueError(f"attribute {k!r} is reserved by the run-file format")
            self._f.attrs[_esc(k)] = _encode_meta(v, k)
        self._f.flush()

    def flush(self) -> None:
        """Write buffered readout rows and flush the file to disk."""
        self._check_open()
        self._readouts.write_rows()
        self._f.flush()

    def close(self) -> None:
        """Flush and close the file (idempotent); an unpublished staged file is deleted."""
        if self._closed:
            return
        if self._staging is not None:
            self._discard()
            return
        try:
            self._readouts.write_rows()
            self._f.flush()
        finally:
            self._closed = True
            self._f.close()

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------- internals
    def _ensure(self, need: int, what: str) -> None:
        """Refuse a write the disk cannot take (:func:`abm.runfile.space.ensure_space`)."""
        target = self._staging if self._staging is not None else self.path
        ensure_space(target, need, what, resume_hint=self._staging is None)

    def _storage_error(self, e: OSError, what: str) -> BaseException:
        """A clear error for a write the storage refused (else the original error)."""
        return write_error(e, self.path, what) or e

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"the run file {self.path} is closed")

    def _discard(self) -> None:
        """Close and delete an unpublished staged file (the earlier file stays as it was)."""
        self._closed = True
        try:
            self._f.close()
        except Exception:  # noqa: BLE001 - the file is being thrown away
            pass
        if self._staging is not None:
            _unlink(self._staging)
            self._staging = None

    def _update_xdmf(self) -> None:
        """Rewrite the sidecar; a failure (disk full, read-only folder) only warns.

        The run file itself is complete and ``write_xdmf`` can redo the sidecar. Nothing
        is written for an unpublished staged file (the sidecar names :attr:`path`).
        """
        if self._staging is not None:
            return
        try:
            _write_xdmf_from(self._f, self.path, self._xdmf)
        except OSError as e:
            warnings.warn(f"could not write the XDMF sidecar of {self.path} ({e}); the run "
                          "file is fine: run abm.runfile.write_xdmf on it later", stacklevel=3)

    def _current_labels(self) -> np.ndarray:
        if self._last_labels is None:
            self._last_labels = _read_lattice(self._f["tissue/labels"][str(self._labels_version)])
        return self._last_labels


def _unlink(p: Path) -> None:
    """Remove ``p`` if it is there."""
    try:
        os.unlink(p)
    except OSError:
        pass
