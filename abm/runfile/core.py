"""The HDF5 run file that ``abm run`` writes, ``abm resume`` continues and ``abm info`` reads.

One run is one HDF5 file (``RUN.h5``) plus an XDMF sidecar (``RUN.xdmf``) that lets
ParaView open the field snapshots directly. The layout is documented in
``docs/run-file.md``; in short::

    /                       root attributes: format, format_version, package_version, created, metadata
    /scenario               the scenario YAML text
    /units                  attributes name -> unit
    /tissue/names           tissue label names;  /tissue/labels/<v>  uint8 label arrays (versions)
    /cell_types/<type>      attributes states, variables
    /snapshots/<000000>/    fields/<name>, agents/<type>/<column>
    /readouts/<column>      resizable 1-D time series
    /checkpoints/<000000>/  state/...  everything needed to resume

Axis order
----------
The model indexes lattice arrays ``[x, y, z]`` (shape ``(nx, ny, nz)``). The 3-D
lattice datasets users view (``fields/<name>`` and ``/tissue/labels/<v>``) are stored
transposed, as C-order ``(nz, ny, nx)`` arrays (x varies fastest) with the dataset
attribute ``axes = "z,y,x"``: ParaView's XDMF reader takes the fastest axis as its X,
and MATLAB's ``h5read`` (which reverses the dimensions) returns ``(nx, ny, nz)``.
:meth:`RunReader.field` and :meth:`RunReader.labels` transpose back and return
``[x, y, z]`` arrays; in raw h5py use ``ds[()].transpose(2, 1, 0)`` (or ``.T``).
Checkpoint arrays are stored exactly as given. A dataset without the ``axes``
attribute (format version 1 files) is ``(nx, ny, nz)``.

Crash safety
------------
The writer keeps the file open for the whole run. Every snapshot and checkpoint is a
new group: its datasets are written first, the attribute ``complete = 1`` is set on
the group last, and then the file is flushed. Readers (:func:`open_run`) ignore groups
without ``complete``; :meth:`RunWriter.resume` deletes them. Readout time series are
resizable 1-D datasets whose group attribute ``n_rows_complete`` is raised only after
the rows are written and flushed. A writer killed at any moment (SIGKILL, node loss)
therefore leaves a file that opens and shows only complete snapshots; the test suite
checks this by killing a writer process at random moments.

Safety of received files
------------------------
Only plain numeric arrays, HDF5 strings (UTF-8), enums for booleans and attributes
are written; nothing is pickled, and the reader never unpickles: a file received from
somebody else is as safe to open as any HDF5 file.
"""

from __future__ import annotations

import json
import math
import re
import warnings
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import h5py
import numpy as np

from ..atomic import atomic_output
from ..errors import ModelInputError

__all__ = ["FORMAT", "FORMAT_VERSION", "RunFileError", "RunReader", "RunWriter", "open_run",
           "write_xdmf"]

FORMAT = "bmsc-abm-run"
FORMAT_VERSION = 2             # 2: lattice datasets stored (nz, ny, nx) with axes="z,y,x"
_ZYX = "z,y,x"                 # value of the ``axes`` attribute of transposed lattice datasets
_LATTICE_CHUNK = 2 << 20       # target bytes per chunk of a lattice dataset

_STR = h5py.string_dtype("utf-8")
_RESERVED_ROOT = ("format", "format_version", "package_version", "created")
_READOUT_CHUNK = 1024          # rows per chunk of a readout column
_READOUT_BUFFER = 256          # rows buffered in memory before they are written
_BIG_ATTR_BYTES = 16 * 1024    # larger values in a checkpoint state become datasets
_PYTYPE = "python_type"        # dataset attribute marking a big str/list stored as a dataset


class RunFileError(ModelInputError):
    """A run file cannot be created, opened, read or resumed.

    Raised for a missing file or folder, an existing file that would be overwritten,
    a file that is not HDF5 or is truncated/corrupt, an HDF5 file that is not a
    bmsc-abm run file, and a run without a checkpoint to resume. The message names
    the path and the fix; callers print it and exit non-zero.
    """


# --------------------------------------------------------------------------- names


def _esc(name: Any) -> str:
    """HDF5 link/attribute name for ``name``: '%' -> '%25', '/' -> '%2F', '.' -> '%2E'."""
    if not isinstance(name, str):
        raise TypeError(f"names in a run file must be str, got {name!r} ({type(name).__name__})")
    if name == "":
        raise ValueError("an empty name cannot be stored in a run file")
    out = name.replace("%", "%25").replace("/", "%2F")
    return "%2E" if out == "." else out


_UNESC = re.compile(r"%(25|2F|2E)")


def _unesc(name: str) -> str:
    """Inverse of :func:`_esc`."""
    if "%" not in name:
        return name
    return _UNESC.sub(lambda m: {"25": "%", "2F": "/", "2E": "."}[m.group(1)], name)


def _snap_name(i: int) -> str:
    return f"{i:06d}"


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("bmsc-abm")
    except Exception:  # pragma: no cover - not installed as a distribution
        return "unknown"


# --------------------------------------------------------------------------- values


def _to_numpy(a: Any) -> np.ndarray:
    """A NumPy array from a NumPy or CuPy array (CuPy is copied to the host)."""
    if hasattr(a, "get") and not isinstance(a, np.ndarray):
        a = a.get()
    a = np.asarray(a)
    if a.dtype.kind == "O":
        raise TypeError("object arrays cannot be stored in a run file (no pickles); "
                        "convert to a numeric or string array")
    return a


def _scalar(v: Any) -> Any:
    """Python scalar from a NumPy scalar; other values unchanged."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def _encode_list(values: list, where: str) -> np.ndarray:
    vals = [_scalar(v) for v in values]
    if not vals:
        return np.zeros(0, dtype=np.int64)
    if all(isinstance(v, str) for v in vals):
        return np.array(vals, dtype=_STR)
    if all(isinstance(v, bool) for v in vals):
        return np.array(vals, dtype=np.bool_)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return np.array(vals, dtype=_int_dtype(vals, where))
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return np.array(vals, dtype=np.float64)
    if all(isinstance(v, (list, tuple)) for v in vals):
        arr = np.array(vals)
        if arr.dtype.kind in "biuf" and arr.ndim >= 2:
            return arr
    raise TypeError(f"{where}: a list must hold only str, only bool, or only int/float "
                    f"(not None, dicts, arrays or mixtures); got {values!r:.200}")


def _int_dtype(vals: Iterable[int], where: str):
    lo, hi = min(vals), max(vals)
    if lo >= -(2 ** 63) and hi < 2 ** 63:
        return np.int64
    if lo >= 0 and hi < 2 ** 64:
        return np.uint64
    raise TypeError(f"{where}: integer {hi if hi >= 2 ** 63 else lo} does not fit in 64 bits")


def _encode_attr(v: Any, where: str) -> Any:
    """HDF5 attribute value for a Python scalar, str, None or list of scalars."""
    v = _scalar(v)
    if v is None:
        return h5py.Empty("i1")
    if isinstance(v, bool):
        return np.bool_(v)
    if isinstance(v, int):
        return np.array(v, dtype=_int_dtype([v], where))[()]
    if isinstance(v, float):
        return np.float64(v)
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)):
        return _encode_list(list(v), where)
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return _encode_attr(v.item(), where)
    raise TypeError(f"{where}: cannot store {type(v).__name__} {v!r:.100} as an attribute")


def _decode_attr(v: Any) -> Any:
    """Python value of an HDF5 attribute as h5py returns it (inverse of _encode_attr)."""
    if isinstance(v, h5py.Empty):
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "O" or v.dtype.kind == "S":
            return np.vectorize(_decode_attr, otypes=[object])(v).tolist() if v.size else []
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _encode_meta(v: Any, key: str) -> Any:
    """Lenient encoding for root metadata: dicts become JSON text, unknown objects str()."""
    v = _scalar(v)
    if isinstance(v, dict):
        return json.dumps(v, default=str, sort_keys=True)
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, Path):
        return str(v)
    try:
        return _encode_attr(v, f"metadata[{key!r}]")
    except TypeError:
        try:
            return json.dumps(v, default=str)
        except Exception:
            return str(v)


def _attrs_dict(obj: h5py.HLObject, skip: tuple = ()) -> dict:
    out = {}
    for k in obj.attrs.keys():
        if k in skip:
            continue
        out[_unesc(k)] = _decode_attr(obj.attrs[k])
    return out


# --------------------------------------------------------------------------- datasets


def _chunks_for(shape: tuple, itemsize: int, target: int = _LATTICE_CHUNK) -> tuple | None:
    """Chunk shape of at most ~``target`` bytes; None when the array is empty.

    Arrays of 3 or more dimensions (lattice datasets, stored C-order (nz, ny, nx)) are
    chunked in whole slabs of the slowest axis: the fastest axes are taken in full as
    far as they fit, then as many slowest-axis planes as fit (the chunks are balanced
    so the last one is not a sliver). A z-slab then lies in one chunk and the whole
    volume reads chunk after chunk. 2-D and 1-D arrays (tables) get whole rows, ~1 MiB.
    """
    if any(s == 0 for s in shape) or len(shape) == 0:
        return None
    if len(shape) >= 3:
        chunks: list[int] = []
        inner = itemsize
        for s in reversed(shape):
            c = max(1, min(s, target // inner))
            n = math.ceil(s / c)
            c = math.ceil(s / n)              # n equal chunks along the axis
            chunks.append(c)
            inner *= c
        return tuple(reversed(chunks))
    row = int(np.prod(shape[1:], dtype=np.int64)) * itemsize if len(shape) > 1 else itemsize
    rows = max(1, min(shape[0], (1 << 20) // max(1, row)))
    return (rows,) + tuple(shape[1:])


def _write_array(group: h5py.Group, name: str, a: np.ndarray, *, compress_min: int = 256 << 10,
                 level: int = 1) -> h5py.Dataset:
    """Store ``a`` as a dataset; chunked + gzip + shuffle when larger than compress_min bytes."""
    if a.dtype.kind == "U":
        return group.create_dataset(name, data=a.astype(object), dtype=_STR)
    if h5py.check_string_dtype(a.dtype) is not None:
        return group.create_dataset(name, data=a, dtype=a.dtype)
    if a.dtype.kind == "O":
        raise TypeError(f"object arrays cannot be stored in a run file ({name})")
    if a.nbytes >= compress_min and a.ndim >= 1:
        chunks = _chunks_for(a.shape, a.dtype.itemsize)
        if chunks is not None:
            return group.create_dataset(name, data=a, chunks=chunks, compression="gzip",
                                        compression_opts=level, shuffle=True)
    return group.create_dataset(name, data=a)


def _write_lattice(group: h5py.Group, name: str, a: np.ndarray, *, level: int,
                   shuffle: bool) -> h5py.Dataset:
    """Store the [x, y, z] lattice array ``a`` (nx, ny, nz) as a C-order (nz, ny, nx)
    dataset with ``axes = "z,y,x"`` (chunked, gzip ``level``); see "Axis order"."""
    stored = np.ascontiguousarray(a.transpose(2, 1, 0))
    chunks = _chunks_for(stored.shape, stored.dtype.itemsize)
    ds = group.create_dataset(name, data=stored, chunks=chunks,
                              compression="gzip" if chunks else None,
                              compression_opts=level if chunks else None,
                              shuffle=bool(shuffle and chunks))
    ds.attrs["axes"] = _ZYX
    return ds


def _is_zyx(ds: h5py.Dataset) -> bool:
    """True for a 3-D lattice dataset stored (nz, ny, nx) (attribute ``axes = "z,y,x"``)."""
    return ds.ndim == 3 and _decode_attr(ds.attrs.get("axes", "")) == _ZYX


def _read_lattice(ds: h5py.Dataset) -> np.ndarray:
    """A lattice dataset as an [x, y, z] array of shape (nx, ny, nz).

    Datasets stored (nz, ny, nx) come back as the transposed view of the array read
    (Fortran-contiguous, no copy); older (nx, ny, nz) datasets as read."""
    a = ds[()]
    return a.transpose(2, 1, 0) if _is_zyx(ds) else a


def _lattice_shape(ds: h5py.Dataset) -> tuple:
    """(nx, ny, nz) of a lattice dataset, whatever its storage order."""
    return tuple(reversed(ds.shape)) if _is_zyx(ds) else tuple(ds.shape)


def _read_array(ds: h5py.Dataset) -> np.ndarray:
    """Array of a dataset; UTF-8 string datasets come back as numpy str arrays."""
    info = h5py.check_string_dtype(ds.dtype)
    if info is not None:
        raw = ds.asstr()[()] if info.encoding == "utf-8" else ds[()]
        return np.array(raw, dtype=str) if info.encoding == "utf-8" else np.asarray(raw)
    return ds[()]


def _write_tree(group: h5py.Group, tree: dict, where: str) -> None:
    """Store a nested dict: dicts as groups, arrays as datasets, scalars/lists as attributes."""
    for key, v in tree.items():
        name = _esc(key)
        here = f"{where}/{key}"
        if isinstance(v, dict):
            _write_tree(group.create_group(name), v, here)
        elif isinstance(v, np.ndarray) or hasattr(v, "__cuda_array_interface__"):
            _write_array(group, name, _to_numpy(v))
        else:
            enc = _encode_attr(v, here)
            nbytes = len(v.encode("utf-8")) if isinstance(v, str) else (
                enc.nbytes if isinstance(enc, np.ndarray) else 0)
            if isinstance(enc, np.ndarray) and enc.dtype == object:
                nbytes = sum(len(s.encode("utf-8")) + 16 for s in enc.ravel())
            if nbytes > _BIG_ATTR_BYTES:      # object headers are limited to 64 KiB
                if isinstance(v, str):
                    ds = group.create_dataset(name, data=v, dtype=_STR)
                    ds.attrs[_PYTYPE] = "str"
                else:
                    ds = _write_array(group, name, enc)
                    ds.attrs[_PYTYPE] = "list"
            else:
                group.attrs[name] = enc


def _read_tree(group: h5py.Group) -> dict:
    """Inverse of :func:`_write_tree`."""
    out: dict = _attrs_dict(group)
    for name, obj in group.items():
        key = _unesc(name)
        if isinstance(obj, h5py.Group):
            out[key] = _read_tree(obj)
        else:
            kind = obj.attrs.get(_PYTYPE)
            kind = kind.decode() if isinstance(kind, bytes) else kind
            if kind == "str":
                out[key] = obj.asstr()[()]
            elif kind == "list":
                out[key] = _decode_attr(obj[()])
            else:
                out[key] = _read_array(obj)
    return out


def _complete(g: h5py.Group) -> bool:
    try:
        return int(g.attrs.get("complete", 0)) == 1
    except Exception:
        return False


def _numbered(group: h5py.Group) -> list[tuple[int, str]]:
    """(index, name) of the numbered children of ``group``, sorted by index."""
    out = []
    for name in group.keys():
        if name.isdigit():
            out.append((int(name), name))
    return sorted(out)


# --------------------------------------------------------------------------- opening


def _open_h5(path, mode: str) -> h5py.File:
    """Open ``path`` as a bmsc-abm run file, or raise RunFileError with the fix."""
    p = Path(path)
    if not p.exists():
        raise RunFileError(f"no run file at {p}; check the path")
    if p.is_dir():
        raise RunFileError(f"{p} is a folder, not a run file; give the path of RUN.h5")
    try:
        f = h5py.File(p, mode)
    except OSError as e:
        locked = re.search(r"unable to lock|lock file|file lock", str(e), re.I) is not None
        if mode == "r" and locked:
            # Another process (a running `abm run`) holds the file: read without locking.
            try:
                f = h5py.File(p, mode, locking=False)
            except Exception as e2:  # pragma: no cover - depends on the platform
                raise RunFileError(f"{p} is not a readable HDF5 file ({_short(e2)}); "
                                   "it may be incomplete or corrupt") from None
        elif "already open" in str(e):
            raise RunFileError(f"{p} is already open in this program ({_short(e)}); close the "
                               "reader or writer that holds it first") from None
        elif locked:
            raise RunFileError(f"{p} is open in another program (HDF5 file lock: {_short(e)}); "
                               "stop that program, or wait for the run writing it to end") from None
        else:
            raise RunFileError(f"{p} is not a readable HDF5 file ({_short(e)}); "
                               "it may be incomplete or corrupt") from None
    except Exception as e:
        raise RunFileError(f"{p} is not a readable HDF5 file ({_short(e)}); "
                           "it may be incomplete or corrupt") from None
    try:
        fmt = _decode_attr(f.attrs.get("format"))
        ver = _decode_attr(f.attrs.get("format_version"))
    except Exception as e:
        f.close()
        raise RunFileError(f"{p} is not a readable HDF5 file ({_short(e)}); "
                           "it may be incomplete or corrupt") from None
    if fmt != FORMAT:
        f.close()
        raise RunFileError(f"{p} is not a bmsc-abm run file (it is HDF5 but has no "
                           f"format='{FORMAT}' attribute); check the path")
    if not isinstance(ver, int) or ver > FORMAT_VERSION:
        f.close()
        raise RunFileError(f"{p} has run-file format version {ver!r}, newer than this program "
                           f"reads ({FORMAT_VERSION}); upgrade bmsc-abm")
    return f


def _short(e: BaseException) -> str:
    s = str(e).strip() or type(e).__name__
    s = s.replace("Unable to synchronously open file", "cannot open").replace(
        "Unable to open file", "cannot open")
    return s if len(s) < 200 else s[:197] + "..."


# --------------------------------------------------------------------------- writer


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
        self._buffer: list[tuple[int, float, list[float]]] = []
        self._columns: list[str] | None = None
        snaps = _numbered(f["snapshots"])
        ckpts = _numbered(f["checkpoints"])
        self._next_snapshot = snaps[-1][0] + 1 if snaps else 0
        self._next_checkpoint = ckpts[-1][0] + 1 if ckpts else 0
        versions = [i for i, n in _numbered(f["tissue/labels"])]
        self._labels_version = versions[-1] if versions else 0
        self._last_labels: np.ndarray | None = None   # read lazily
        self._field_units = _attrs_dict(f["units"])
        self._states = {_unesc(k): _decode_attr(g.attrs.get("states"))
                        for k, g in f["cell_types"].items()}
        if "readouts" in f and "columns" in f["readouts"].attrs:
            self._columns = list(_decode_attr(f["readouts"].attrs["columns"]))
        self._xdmf = _xdmf_entries(f)

    # ----------------------------------------------------------------- creation
    @classmethod
    def create(cls, path, *, metadata: dict, scenario_text: str, units: dict[str, str],
               field_units: dict[str, str], tissue_names: list[str], labels: np.ndarray,
               cell_types: dict[str, dict], overwrite: bool = False) -> "RunWriter":
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
            with ``axes = "z,y,x"`` (see "Axis order" in the module docstring).
        cell_types : dict of str to dict
            Cell type name -> ``{"states": [...], "variables": [...]}``.
        overwrite : bool
            Replace an existing file at ``path`` (and its XDMF sidecar).

        Returns
        -------
        RunWriter

        Raises
        ------
        RunFileError
            ``path`` exists and ``overwrite`` is false (the file is left untouched),
            or its folder does not exist.
        """
        p = Path(path)
        if p.exists() and not overwrite:
            raise RunFileError(f"{p} exists; pass --overwrite to replace it, or choose another "
                               "output path")
        if p.is_dir():
            raise RunFileError(f"{p} is a folder; give a file name such as {p / 'run.h5'}")
        if not p.parent.is_dir():
            raise RunFileError(f"cannot create {p}: the folder {p.parent} does not exist; "
                               "create it first or choose another output path")
        for key in metadata:
            if key in _RESERVED_ROOT:
                raise ValueError(f"metadata key {key!r} is reserved by the run-file format")
        labels = _to_numpy(labels)
        _check_labels(labels, len(tissue_names))
        try:
            f = h5py.File(p, "w")
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
            ct = f.create_group("cell_types")
            for name, spec in cell_types.items():
                g = ct.create_group(_esc(name))
                spec = spec or {}
                g.attrs["states"] = _encode_list(list(spec.get("states", [])), name)
                g.attrs["variables"] = _encode_list(list(spec.get("variables", [])), name)
            s = f.create_group("snapshots")
            s.attrs["field_names"] = _encode_list(list(field_units), "field_units")
            f.create_group("checkpoints")
            f.create_group("readouts")
            f.flush()
        except BaseException:
            f.close()
            raise
        w = cls(f, p)
        w._field_units = dict(field_units)
        w._last_labels = labels.astype(np.uint8, copy=True)
        w._update_xdmf()
        return w

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
            ck = f["checkpoints"]
            done = [(int(ck[n].attrs["step"]), i, n) for i, n in _numbered(ck) if _complete(ck[n])]
            if not done:
                raise RunFileError(f"{p} has no complete checkpoint to resume from; start the run "
                                   "again with `abm run ... --overwrite` (or set a shorter "
                                   "checkpoint interval)")
            step, _, name = max(done, key=lambda t: (t[1], t[0]))
            state = {"step": step, "time_min": float(ck[name].attrs["time_min"]),
                     "state": _read_tree(ck[name]["state"]) if "state" in ck[name] else {}}
            for i, n in _numbered(ck):
                if not _complete(ck[n]) or int(ck[n].attrs["step"]) > step:
                    del ck[n]
            sn = f["snapshots"]
            for i, n in _numbered(sn):
                if not _complete(sn[n]) or int(sn[n].attrs["step"]) > step:
                    del sn[n]
            # label versions: keep 0 and those used by a remaining snapshot
            used = {0} | {int(sn[n].attrs["labels_version"]) for _, n in _numbered(sn)}
            lab = f["tissue/labels"]
            for i, n in _numbered(lab):
                if i > max(used) or not _complete(lab[n]):
                    if i != 0:
                        del lab[n]
            if _decode_attr(f.attrs.get("format_version")) != FORMAT_VERSION:
                # a version-1 file: its old (nx, ny, nz) datasets stay readable (no ``axes``
                # attribute), but what is written from now on needs a current reader
                f.attrs["format_version"] = np.int64(FORMAT_VERSION)
            ro = f["readouts"]
            if "step" in ro:
                n = _n_rows(ro)
                steps = ro["step"][:n]
                after = np.nonzero(steps > step)[0]
                keep = int(after[0]) if after.size else n
                for ds in ro.values():
                    ds.resize((keep,))
                ro.attrs["n_rows_complete"] = np.int64(keep)
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
                       labels: np.ndarray | None = None) -> int:
        """Write one snapshot (fields, agent tables) and mark it complete.

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

        Returns
        -------
        int
            Index of the snapshot (0, 1, 2, ...).
        """
        self._check_open()
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
        fg = g.create_group("fields")
        for fname, arr in fields.items():
            a = _to_numpy(arr)
            if a.ndim == 3 and a.dtype.kind not in "OUS":
                ds = _write_lattice(fg, _esc(fname), a, level=1, shuffle=True)
            else:       # not a lattice array: stored as given
                ds = _write_array(fg, _esc(fname), a, compress_min=0)
            ds.attrs["unit"] = str(self._field_units.get(fname, ""))
        ag = g.create_group("agents")
        for tname, cols in agents.items():
            tg = ag.create_group(_esc(tname))
            n = None
            for cname, arr in cols.items():
                a = _to_numpy(arr)
                if n is None:
                    n = a.shape[0] if a.ndim else 1
                elif a.ndim == 0 or a.shape[0] != n:
                    raise ValueError(f"agent table {tname!r}: column {cname!r} has "
                                     f"{a.shape[0] if a.ndim else 1} rows, expected {n}")
                _write_array(tg, _esc(cname), a)
            tg.attrs["n"] = np.int64(n or 0)
            states = self._states.get(tname)
            if states:
                tg.attrs["states"] = _encode_list(list(states), tname)
        self._write_rows()
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
        if self._columns is None:
            self._create_readouts(list(values), units)
        extra = [k for k in values if k not in self._columns]
        if extra:
            raise RunFileError(f"readout(s) {extra} were not in the first row written to "
                               f"{self.path}; the readout columns are fixed by the first row "
                               f"({self._columns})")
        row = [float(_scalar(values[c])) if c in values and values[c] is not None else math.nan
               for c in self._columns]
        self._buffer.append((int(step), float(time_min), row))
        if len(self._buffer) >= _READOUT_BUFFER:
            self._write_rows()
            self._f.flush()

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
        f = self._f
        self._write_rows()
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
        self._write_rows()
        self._f.flush()

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if self._closed:
            return
        try:
            self._write_rows()
            self._f.flush()
        finally:
            self._closed = True
            self._f.close()

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------- internals
    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"the run file {self.path} is closed")

    def _update_xdmf(self) -> None:
        """Rewrite the sidecar; a failure (disk full, read-only folder) only warns:
        the run file itself is complete and ``write_xdmf`` can redo the sidecar."""
        try:
            _write_xdmf_from(self._f, self.path, self._xdmf)
        except OSError as e:
            warnings.warn(f"could not write the XDMF sidecar of {self.path} ({e}); the run "
                          "file is fine: run abm.runfile.write_xdmf on it later", stacklevel=3)

    def _current_labels(self) -> np.ndarray:
        if self._last_labels is None:
            self._last_labels = _read_lattice(self._f["tissue/labels"][str(self._labels_version)])
        return self._last_labels

    def _create_readouts(self, columns: list[str], units: dict[str, str]) -> None:
        ro = self._f["readouts"]
        for name, dtype, unit in (("time_min", np.float64, "min"), ("step", np.int64, "1")):
            ds = ro.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                   chunks=(_READOUT_CHUNK,))
            ds.attrs["unit"] = unit
        cols = []
        for c in columns:
            if c in ("time_min", "step"):
                raise ValueError(f"readout name {c!r} is reserved")
            ds = ro.create_dataset(_esc(c), shape=(0,), maxshape=(None,), dtype=np.float64,
                                   chunks=(_READOUT_CHUNK,), fillvalue=np.nan)
            ds.attrs["unit"] = str(units.get(c, ""))
            cols.append(c)
        ro.attrs["columns"] = _encode_list(cols, "readouts")
        ro.attrs["n_rows_complete"] = np.int64(0)
        self._columns = cols
        self._f.flush()

    def _write_rows(self) -> None:
        if not self._buffer:
            return
        ro = self._f["readouts"]
        rows, self._buffer = self._buffer, []
        n0 = _n_rows(ro)
        n1 = n0 + len(rows)
        data = {"step": np.array([r[0] for r in rows], np.int64),
                "time_min": np.array([r[1] for r in rows], np.float64)}
        vals = np.array([r[2] for r in rows], np.float64).reshape(len(rows), len(self._columns))
        for j, c in enumerate(self._columns):
            data[_esc(c)] = vals[:, j]
        for name, arr in data.items():
            ds = ro[name]
            ds.resize((n1,))
            ds[n0:n1] = arr
        self._f.flush()
        ro.attrs["n_rows_complete"] = np.int64(n1)


def _n_rows(ro: h5py.Group) -> int:
    n = int(ro.attrs.get("n_rows_complete", 0))
    lens = [ds.shape[0] for ds in ro.values()]
    return min([n] + lens)


def _check_labels(labels: np.ndarray, n_names: int | None) -> None:
    if labels.ndim != 3:
        raise ValueError(f"labels must be a 3D array (nx, ny, nz), got shape {labels.shape}")
    if labels.dtype.kind not in "iub":
        raise ValueError(f"labels must be integers, got {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() > 255):
        raise ValueError("tissue labels must lie in 0..255 to be stored as uint8")


def _write_labels(group: h5py.Group, version: int, labels: np.ndarray) -> None:
    ds = _write_lattice(group, str(version), labels.astype(np.uint8, copy=False), level=4,
                        shuffle=False)
    ds.attrs["complete"] = np.int8(1)


# --------------------------------------------------------------------------- reader


def _guard(fn):
    """Turn low-level HDF5 read errors into RunFileError naming the file."""
    import functools

    @functools.wraps(fn)
    def wrapper(self, *a, **k):
        try:
            return fn(self, *a, **k)
        except RunFileError:
            raise
        except (OSError, KeyError, RuntimeError) as e:
            raise RunFileError(f"cannot read {fn.__name__} from {self.path} ({_short(e)}); "
                               "the file may be incomplete or corrupt") from None
    return wrapper


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
    tissue_names : list of str
        Tissue label index -> name.
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
        self.cell_types = [_unesc(k) for k in f["cell_types"].keys()] if "cell_types" in f else []
        self.cell_states = {}
        for k in (f["cell_types"].keys() if "cell_types" in f else ()):
            v = _decode_attr(f["cell_types"][k].attrs["states"]) \
                if "states" in f["cell_types"][k].attrs else []
            self.cell_states[_unesc(k)] = [str(x) for x in np.atleast_1d(v) if str(x)] \
                if v is not None else []
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
    def summary(self) -> str:
        """A few human-readable lines describing the run (what ``abm info RUN.h5`` prints)."""
        a = self.attrs
        lines = [f"run file      {self.path}"]
        lines.append(f"scenario      {a.get('scenario_name', '?')}   (bmsc-abm "
                     f"{a.get('package_version', '?')}, created {a.get('created', '?')})")
        lines.append(f"backend/seed  {a.get('backend', '?')}, seed {a.get('seed', '?')}")
        shape = a.get("shape")
        dx = a.get("dx_um")
        if shape is None and self.n_snapshots and self.field_names:
            shape = list(_lattice_shape(self._snap(-1)["fields"][_esc(self.field_names[0])]))
        if shape is not None:
            sh = " x ".join(str(int(s)) for s in shape)
            if dx is not None and len(shape) == 3:
                sp = _spacing(dx)                       # scalar or [dx, dy, dz], um
                ext = " x ".join(f"{int(s) * d / 1000:g}" for s, d in zip(shape, sp))
                dtext = (f"{sp[0]:g}" if sp[0] == sp[1] == sp[2]
                         else " x ".join(f"{d:g}" for d in sp))
                lines.append(f"lattice       {sh} voxels x {dtext} um  ({ext} mm)")
            else:
                lines.append(f"lattice       {sh} voxels")
        if "dt_min" in a:
            lines.append(f"time step     {a['dt_min']} min" + (
                f", {a['n_steps']} steps planned" if "n_steps" in a else ""))
        fields = ", ".join(f"{n} [{u}]" if u else n for n, u in self.field_units.items())
        lines.append(f"fields        {fields or 'none'}")
        if self.n_snapshots:
            t0, t1 = self.times[0] / 60.0, self.times[-1] / 60.0
            lines.append(f"snapshots     {self.n_snapshots}, t = {t0:g} .. {t1:g} h "
                         f"(steps {self.steps[0]} .. {self.steps[-1]})")
            counts = ", ".join(f"{t} {self.agent_count(t)}" for t in self.cell_types)
            lines.append(f"agents (last) {counts or 'none'}")
        else:
            lines.append("snapshots     0")
        cols = [c for c in self.readout_units if c not in ("time_min", "step")]
        lines.append(f"readouts      {self._n_rows} rows: " + (", ".join(
            f"{c} [{self.readout_units[c]}]" if self.readout_units[c] else c for c in cols)
            or "none"))
        lines.append("checkpoints   " + (", ".join(f"step {s}" for s in self.checkpoint_steps)
                                         or "none"))
        status = a.get("status", "unfinished (no status recorded: running, or stopped early)")
        extra = f", wall {a['wall_s']:.0f} s" if isinstance(a.get("wall_s"), (int, float)) else ""
        lines.append(f"status        {status}{extra}")
        return "\n".join(lines)

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


# --------------------------------------------------------------------------- XDMF


def write_xdmf(h5_path) -> Path:
    """Write the XDMF sidecar ``RUN.xdmf`` beside ``RUN.h5`` for ParaView.

    One temporal collection of uniform grids, one per complete snapshot, each a
    3DCoRectMesh with one node-centred Attribute per field referencing
    ``RUN.h5:/snapshots/NNNNNN/fields/NAME`` by a relative file name. Nodes sit at
    voxel centres: origin ``origin_um + dx_um / 2`` (metadata; origin defaults to 0).

    Axis order: the field datasets are stored C-order (nz, ny, nx), x varying
    fastest (attribute ``axes = "z,y,x"``). XDMF lists Dimensions, origin and
    spacing slowest-first and ParaView's reader names the fastest axis its X, so the
    sidecar writes ``Dimensions="nz ny nx"``, origin ``"oz oy ox"`` and spacing
    ``"dz dy dx"``: ParaView's X, Y, Z are the model's x, y, z (no mirroring). A
    snapshot of a format-version-1 file (datasets (nx, ny, nz), no ``axes``) gets
    its triples in x y z order, matching its datasets (and shows x and z swapped).

    Parameters
    ----------
    h5_path : str or Path
        The run file.

    Returns
    -------
    pathlib.Path
        The sidecar, written atomically (temporary file then ``os.replace``).
    """
    p = Path(h5_path)
    f = _open_h5(p, "r")
    try:
        return _write_xdmf_from(f, p)
    finally:
        f.close()


def _xdmf_path(h5_path: Path) -> Path:
    return h5_path.with_suffix(".xdmf")


def _number_type(dtype: np.dtype) -> tuple[str, str]:
    kind = {"f": "Float", "i": "Int", "u": "UInt", "b": "UChar"}.get(dtype.kind, "Float")
    if kind == "Int" and dtype.itemsize == 1:
        kind = "Char"
    if kind == "UInt" and dtype.itemsize == 1:
        kind = "UChar"
    return kind, str(dtype.itemsize)


def _spacing(dx) -> list[float]:
    """Voxel edge per axis (x, y, z), µm, from a scalar or a 3-list ``dx_um``."""
    if isinstance(dx, (int, float)) and not isinstance(dx, bool) and dx > 0:
        return [float(dx)] * 3
    if isinstance(dx, list) and len(dx) == 3 and all(isinstance(v, (int, float)) for v in dx):
        return [float(v) for v in dx]
    return [1.0, 1.0, 1.0]


def _xdmf_entry(g: h5py.Group, name: str) -> dict | None:
    """What the sidecar needs of one complete snapshot group (None: nothing to show)."""
    if not _complete(g) or "fields" not in g:
        return None
    fg = g["fields"]
    fields = [(k, fg[k].shape, fg[k].dtype, _is_zyx(fg[k])) for k in fg.keys()]
    fields = [t for t in fields if len(t[1]) == 3]
    if not fields:
        return None
    return {"name": name, "time": float(g.attrs["time_min"]), "fields": fields}


def _xdmf_entries(f: h5py.File) -> list[dict]:
    sn = f["snapshots"]
    entries = [_xdmf_entry(sn[n], n) for _, n in _numbered(sn)]
    return [e for e in entries if e is not None]


def _write_xdmf_from(f: h5py.File, h5_path: Path, entries: list[dict] | None = None) -> Path:
    """Render the sidecar of the open run file ``f`` (entries: cached _xdmf_entries)."""
    h5_path = Path(h5_path)
    out = _xdmf_path(h5_path)
    meta = f.attrs
    spacing = _spacing(_decode_attr(meta.get("dx_um", 1.0)))
    origin = _decode_attr(meta.get("origin_um", [0.0, 0.0, 0.0]))
    if not (isinstance(origin, list) and len(origin) == 3
            and all(isinstance(v, (int, float)) for v in origin)):
        origin = [0.0, 0.0, 0.0]
    nodes = [float(origin[k]) + spacing[k] / 2 for k in range(3)]      # x, y, z: voxel centres
    texts = {False: (" ".join(repr(v) for v in nodes), " ".join(repr(v) for v in spacing)),
             True: (" ".join(repr(v) for v in nodes[::-1]),                   # z y x
                    " ".join(repr(v) for v in spacing[::-1]))}
    root = ET.Element("Xdmf", Version="3.0")
    dom = ET.SubElement(root, "Domain")
    coll = ET.SubElement(dom, "Grid", Name="run", GridType="Collection", CollectionType="Temporal")
    fname = h5_path.name
    for e in (_xdmf_entries(f) if entries is None else entries):
        name, shape, zyx = e["name"], e["fields"][0][1], e["fields"][0][3]
        origin_text, spacing_text = texts[zyx]
        grid = ET.SubElement(coll, "Grid", Name=f"snapshot {name}", GridType="Uniform")
        ET.SubElement(grid, "Time", Value=repr(e["time"]))
        ET.SubElement(grid, "Topology", TopologyType="3DCoRectMesh",
                      Dimensions=" ".join(str(s) for s in shape))
        geo = ET.SubElement(grid, "Geometry", GeometryType="ORIGIN_DXDYDZ")
        o = ET.SubElement(geo, "DataItem", Name="Origin", Dimensions="3", NumberType="Float",
                          Precision="8", Format="XML")
        o.text = origin_text
        s = ET.SubElement(geo, "DataItem", Name="Spacing", Dimensions="3", NumberType="Float",
                          Precision="8", Format="XML")
        s.text = spacing_text
        for k, kshape, dtype, kzyx in e["fields"]:
            if kshape != shape or kzyx != zyx:
                continue
            att = ET.SubElement(grid, "Attribute", Name=_unesc(k), AttributeType="Scalar",
                                Center="Node")
            nt, prec = _number_type(dtype)
            di = ET.SubElement(att, "DataItem", Format="HDF", NumberType=nt, Precision=prec,
                               Dimensions=" ".join(str(x) for x in kshape))
            di.text = f"{fname}:/snapshots/{name}/fields/{k}"
    ET.indent(root)
    text = '<?xml version="1.0" ?>\n<!DOCTYPE Xdmf SYSTEM "Xdmf.dtd" []>\n' + ET.tostring(
        root, encoding="unicode") + "\n"
    with atomic_output(out, "w") as fh:
        fh.write(text)
    return out
