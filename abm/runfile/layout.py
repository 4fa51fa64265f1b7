"""How arrays sit in a run file.

Chunking, lattice datasets stored (nz, ny, nx), nested trees of a checkpoint state, the
arrays of one snapshot (fields, tissue states, agent tables), the completeness mark of
groups, numbered groups and the tissue-label versions (see "Axis order" and "Crash safety"
in :mod:`abm.runfile`).
"""

from __future__ import annotations

import math

import h5py
import numpy as np

from .encoding import _STR, _attrs_dict, _decode_attr, _encode_attr, _encode_list, _esc, _to_numpy, _unesc

__all__: list[str] = []        # package-internal helpers

_ZYX = "z,y,x"                 # value of the ``axes`` attribute of transposed lattice datasets
_LATTICE_CHUNK = 2 << 20       # target bytes per chunk of a lattice dataset
_BIG_ATTR_BYTES = 16 * 1024    # larger values in a checkpoint state become datasets
_PYTYPE = "python_type"        # dataset attribute marking a big str/list stored as a dataset


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
    """Store the [x, y, z] lattice array ``a`` (nx, ny, nz) as a (nz, ny, nx) dataset.

    C-order, with ``axes = "z,y,x"`` (chunked, gzip ``level``); see "Axis order".
    """
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
    (Fortran-contiguous, no copy); older (nx, ny, nz) datasets as read.
    """
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
    """True when the group carries ``complete = 1`` (written last, see "Crash safety")."""
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


def _check_labels(labels: np.ndarray, n_names: int | None) -> None:
    """Refuse labels that are not a 3-D integer array of values 0..255 (ValueError)."""
    if labels.ndim != 3:
        raise ValueError(f"labels must be a 3D array (nx, ny, nz), got shape {labels.shape}")
    if labels.dtype.kind not in "iub":
        raise ValueError(f"labels must be integers, got {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() > 255):
        raise ValueError("tissue labels must lie in 0..255 to be stored as uint8")


def _write_labels(group: h5py.Group, version: int, labels: np.ndarray) -> None:
    """Store label version ``version`` (uint8, (nz, ny, nx), gzip 4), marked complete."""
    ds = _write_lattice(group, str(version), labels.astype(np.uint8, copy=False), level=4,
                        shuffle=False)
    ds.attrs["complete"] = np.int8(1)



def _write_lattice_group(g: h5py.Group, arrays: dict, units: dict[str, str], *,
                         lattice_only: bool, what: str) -> None:
    """Store lattice arrays (fields, tissue states) of one snapshot in group ``g``.

    Each 3-D [x, y, z] array is stored (nz, ny, nx), chunked, gzip level 1 + shuffle, with
    its ``unit`` attribute; another array is stored as given, unless ``lattice_only``
    (then ValueError naming ``what``).
    """
    for name, arr in arrays.items():
        a = _to_numpy(arr)
        if a.ndim == 3 and a.dtype.kind not in "OUS":
            ds = _write_lattice(g, _esc(name), a, level=1, shuffle=True)
        elif lattice_only:
            raise ValueError(f"{what} {name!r} must be a lattice array of shape (nx, ny, nz) "
                             f"indexed [x, y, z], got shape {a.shape} and dtype {a.dtype}; "
                             "reshape a flat per-voxel array to the lattice shape first")
        else:       # not a lattice array: stored as given
            ds = _write_array(g, _esc(name), a, compress_min=0)
        ds.attrs["unit"] = str(units.get(name, ""))


def _write_agent_tables(ag: h5py.Group, agents: dict, states: dict) -> None:
    """Store the agent tables of one snapshot.

    One group per type, one dataset per column; the row count ``n`` and the type's
    ``states`` as attributes.
    """
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
        st = states.get(tname)
        if st:
            tg.attrs["states"] = _encode_list(list(st), tname)
