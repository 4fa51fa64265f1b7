"""Encoding of values and names in a run file.

HDF5 attribute values and lists, link-name escaping, and NumPy conversion (CuPy arrays are
copied to the host, object arrays refused).

Only plain numbers, UTF-8 strings, booleans (HDF5 enums) and numeric arrays are produced;
nothing is ever pickled.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable

import h5py
import numpy as np

__all__: list[str] = []        # package-internal helpers

_STR = h5py.string_dtype("utf-8")


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
    """Group name of snapshot or checkpoint ``i``: six digits, ``000012``."""
    return f"{i:06d}"


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

