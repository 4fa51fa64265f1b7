"""Reading a run file (:func:`open_run`, :class:`RunReader`).

Lazily, showing only complete snapshots and checkpoints; low-level HDF5 errors become
:class:`RunFileError`.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from .declarations import _read_cell_types, _read_tissue_state_units
from .encoding import _attrs_dict, _decode_attr, _esc, _unesc
from .layout import _complete, _numbered, _read_array, _read_lattice, _read_tree
from .masks import _read_masks
from .opening import RunFileError, _guard, _open_h5, _short
from .readouts import _n_rows
from .summary import _summary

__all__ = ["RunReader", "open_run"]


def open_run(path) -> "RunReader":
    """Open a run file for reading (lazily: arrays are read only when asked for).

    Parameters
    ----------
    path : str or Path
        The ``.h5`` run file. A file still being written may be opened; it shows
        the snapshots complete at the moment of opening.

    Returns
    -------
    RunReader

    Raises
    ------
    RunFileError
        Missing file, not HDF5 / truncated / corrupt, or not a bmsc-abm run file.
    """
    return RunReader(path)


class RunReader:
    """Read access to a run file; only complete snapshots and checkpoints are visible.

    Attributes
    ----------
    path : pathlib.Path
    attrs : dict
        Root metadata (format, package_version, created, backend, seed, ...).
    scenario_text : str
        The scenario YAML as given to the run.
    units : dict of str to str
        Quantity -> unit, including every field's unit.
    field_names : list of str
    field_units : dict of str to str
    cell_types : list of str
    cell_states : dict of str to list of str
        Phenotype states of each cell type (the ``state`` column indexes them; empty
        for types without states).
    cell_colours : dict of str to dict
        Display colours each cell type declared: ``{type: {"colour": "#rrggbb" or None,
        "states": {state: "#rrggbb"}}}``; only declared colours appear (a run file
        written before colours were recorded gives ``None`` and ``{}``).
    tissue_names : list of str
        Tissue label index -> name.
    tissue_state_names : list of str
        Tissue states (per-voxel arrays that do not diffuse: neuron viability, mineral
        fraction) in the snapshots; empty for runs without tissue processes.
    tissue_state_units : dict of str to str
        Tissue state -> unit (``"1"`` for a fraction).
    n_snapshots : int
        Number of complete snapshots.
    times : numpy.ndarray of float
        Simulated time of each complete snapshot, min.
    steps : numpy.ndarray of int
        Model step of each complete snapshot.
    readout_units : dict of str to str
    checkpoint_steps : list of int
        Steps of the complete checkpoints, ascending.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._f = _open_h5(self.path, "r")
        try:
            self._load_index()
        except RunFileError:
            self._f.close()
            raise
        except (OSError, KeyError, RuntimeError, ValueError) as e:
            self._f.close()
            raise RunFileError(f"{self.path} is not a readable run file ({_short(e)}); "
                               "it may be incomplete or corrupt") from None

    def _load_index(self) -> None:
        f = self._f
        self.attrs = _attrs_dict(f)
        self.scenario_text = f["scenario"].asstr()[()] if "scenario" in f else ""
        self.units = _attrs_dict(f["units"]) if "units" in f else {}
        self.tissue_names = ([str(s) for s in f["tissue/names"].asstr()[()]]
                             if "tissue/names" in f else [])
        self.cell_types, self.cell_states, self.cell_colours = _read_cell_types(f)
        sn = f["snapshots"]
        self._snaps = [n for _, n in _numbered(sn) if _complete(sn[n])]
        self.n_snapshots = len(self._snaps)
        self.steps = np.array([int(sn[n].attrs["step"]) for n in self._snaps], dtype=np.int64)
        self.times = np.array([float(sn[n].attrs["time_min"]) for n in self._snaps],
                              dtype=np.float64)
        names = list(_decode_attr(sn.attrs["field_names"])) if "field_names" in sn.attrs else []
        if self._snaps:
            for k in sn[self._snaps[-1]]["fields"].keys():
                if _unesc(k) not in names:
                    names.append(_unesc(k))
        self.field_names = names
        self.field_units = {n: self.units.get(n, "") for n in names}
        self.tissue_state_units = _read_tissue_state_units(f)
        last = sn[self._snaps[-1]] if self._snaps else None
        if last is not None and "tissue_states" in last:      # states not declared up front
            for k, ds in last["tissue_states"].items():
                self.tissue_state_units.setdefault(
                    _unesc(k), str(_decode_attr(ds.attrs.get("unit", "")) or ""))
        self.tissue_state_names = list(self.tissue_state_units)
        ro = f["readouts"] if "readouts" in f else None
        self._n_rows = _n_rows(ro) if ro is not None and "step" in ro else 0
        self._readout_cols = (list(_decode_attr(ro.attrs["columns"]))
                              if ro is not None and "columns" in ro.attrs else [])
        self.readout_units = {"time_min": "min", "step": "1"}
        for c in self._readout_cols:
            self.readout_units[c] = _decode_attr(ro[_esc(c)].attrs.get("unit", ""))
        ck = f["checkpoints"]
        self._ckpts = [(int(ck[n].attrs["step"]), n) for _, n in _numbered(ck) if _complete(ck[n])]
        self.checkpoint_steps = [s for s, _ in self._ckpts]

    # ----------------------------------------------------------------- access
    def _snap(self, i: int) -> h5py.Group:
        if self.n_snapshots == 0:
            raise RunFileError(f"{self.path} holds no complete snapshot yet")
        if not -self.n_snapshots <= i < self.n_snapshots:
            raise RunFileError(f"snapshot {i} is out of range: {self.path} holds "
                               f"{self.n_snapshots} complete snapshots (0..{self.n_snapshots - 1})")
        return self._f["snapshots"][self._snaps[i]]

    @_guard
    def field(self, name: str, i: int = -1) -> np.ndarray:
        """Field ``name`` at snapshot ``i`` (default: the last), shape (nx, ny, nz).

        The file stores the field transposed, (nz, ny, nx) (see "Axis order"); the
        array returned is indexed [x, y, z] and equals the array written
        (``np.array_equal``). It is a transposed view of the data read, so it is
        Fortran-contiguous; ``np.ascontiguousarray`` gives a C-ordered copy.

        Parameters
        ----------
        name : str
            Field name as in the scenario (e.g. "VEGF", "SDF-1a").
        i : int
            Snapshot index among the complete snapshots; negative counts from the end.

        Returns
        -------
        numpy.ndarray
            Concentrations in ``field_units[name]``, dtype as written, shape
            (nx, ny, nz).
        """
        fg = self._snap(i)["fields"]
        key = _esc(name)
        if key not in fg:
            raise RunFileError(f"no field {name!r} in snapshot {i} of {self.path}; "
                               f"fields: {', '.join(_unesc(k) for k in fg.keys())}")
        return _read_lattice(fg[key])

    @_guard
    def tissue_state(self, name: str, i: int = -1) -> np.ndarray:
        """Tissue state ``name`` at snapshot ``i`` (default: the last), shape (nx, ny, nz).

        Stored like the fields ((nz, ny, nx), see "Axis order"); the array returned is
        indexed [x, y, z] and equals the array written.

        Parameters
        ----------
        name : str
            Tissue state name (see ``tissue_state_names``), e.g. ``"viability"``.
        i : int
            Snapshot index among the complete snapshots; negative counts from the end.

        Returns
        -------
        numpy.ndarray
            Values in ``tissue_state_units[name]``, dtype as written, shape (nx, ny, nz).

        Raises
        ------
        RunFileError
            No such tissue state in that snapshot (the message lists those there are).
        """
        g = self._snap(i)
        tg = g["tissue_states"] if "tissue_states" in g else {}
        key = _esc(name)
        if key not in tg:
            here = {_unesc(k) for k in tg.keys()}
            there = ", ".join([n for n in self.tissue_state_names if n in here]
                              + sorted(here - set(self.tissue_state_names))) or "none"
            raise RunFileError(f"no tissue state {name!r} in snapshot {i} of {self.path}; "
                               f"tissue states: {there}")
        return _read_lattice(tg[key])

    @_guard
    def agents(self, cell_type: str, i: int = -1, columns=None) -> dict[str, np.ndarray]:
        """Agent table of ``cell_type`` at snapshot ``i``.

        Parameters
        ----------
        cell_type : str
        i : int
            Snapshot index (negative counts from the end).
        columns : list of str, optional
            Columns to read (default all).

        Returns
        -------
        dict of str to numpy.ndarray
            Column -> array with one row per agent (``pos`` is (n, 3) voxel indices).
            Empty dict if the type had no table in that snapshot.
        """
        ag = self._snap(i)["agents"]
        key = _esc(cell_type)
        if key not in ag:
            if cell_type in self.cell_types:
                return {}
            raise RunFileError(f"no cell type {cell_type!r} in {self.path}; cell types: "
                               f"{', '.join(self.cell_types) or 'none'}")
        tg = ag[key]
        names = [_unesc(k) for k in tg.keys()] if columns is None else list(columns)
        out = {}
        for c in names:
            if _esc(c) not in tg:
                raise RunFileError(f"no column {c!r} in the {cell_type} table of {self.path}; "
                                   f"columns: {', '.join(_unesc(k) for k in tg.keys())}")
            out[c] = _read_array(tg[_esc(c)])
        return out

    def agent_count(self, cell_type: str, i: int = -1) -> int:
        """Number of agents of ``cell_type`` at snapshot ``i``, without reading the table.

        Parameters
        ----------
        cell_type : str
        i : int
            Snapshot index (negative counts from the end).

        Returns
        -------
        int
            Rows of the type's table (0 if the snapshot has none).
        """
        ag = self._snap(i)["agents"]
        key = _esc(cell_type)
        return int(ag[key].attrs.get("n", 0)) if key in ag else 0

    @_guard
    def labels(self, i: int = -1) -> np.ndarray:
        """Tissue labels (uint8, (nx, ny, nz), indexed [x, y, z]) in force at snapshot ``i``.

        With no snapshot yet, the initial labels (version 0). Stored (nz, ny, nx) like
        the fields; the array returned is a Fortran-contiguous transposed view that
        equals the labels written.
        """
        v = int(self._snap(i).attrs["labels_version"]) if self.n_snapshots else 0
        return _read_lattice(self._f["tissue/labels"][str(v)])

    @_guard
    def readouts(self) -> dict[str, np.ndarray]:
        """Readout time series, complete rows only.

        Returns
        -------
        dict of str to numpy.ndarray
            ``"time_min"`` (min), ``"step"`` (int64) and one float64 array per
            readout, all of the same length; see ``readout_units``.
        """
        if not self._readout_cols and self._n_rows == 0:
            return {"time_min": np.zeros(0), "step": np.zeros(0, np.int64)}
        ro = self._f["readouts"]
        n = self._n_rows
        out = {"time_min": ro["time_min"][:n], "step": ro["step"][:n]}
        for c in self._readout_cols:
            out[c] = ro[_esc(c)][:n]
        return out

    @_guard
    def checkpoint(self, step: int | None = None) -> dict:
        """A complete checkpoint: ``{"step", "time_min", "state"}``.

        Parameters
        ----------
        step : int, optional
            Step of the checkpoint (see ``checkpoint_steps``); default the last.
        """
        if not self._ckpts:
            raise RunFileError(f"{self.path} holds no complete checkpoint")
        if step is None:
            s, name = self._ckpts[-1]
        else:
            hits = [c for c in self._ckpts if c[0] == int(step)]
            if not hits:
                raise RunFileError(f"no checkpoint at step {step} in {self.path}; checkpoints "
                                   f"at steps {self.checkpoint_steps}")
            s, name = hits[-1]
        g = self._f["checkpoints"][name]
        return {"step": s, "time_min": float(g.attrs["time_min"]),
                "state": _read_tree(g["state"]) if "state" in g else {}}

    @_guard
    @_guard
    def masks(self) -> dict[str, np.ndarray]:
        """The mask arrays stored with the run's scenario (name -> boolean array [x, y, z])."""
        return _read_masks(self._f)

    def summary(self) -> str:
        """A few human-readable lines describing the run (what ``abm info RUN.h5`` prints).

        Scenario, backend and seed, lattice, time step, fields and tissue states with their
        units, snapshots, agent counts, readouts, checkpoints and status.
        """
        return _summary(self)

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._f:
            self._f.close()

    def __enter__(self) -> "RunReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RunReader {self.path}: {self.n_snapshots} snapshots>"
