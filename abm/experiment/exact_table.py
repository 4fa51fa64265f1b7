"""Readout tables as text that round-trips bit for bit, and where two tables first differ.

The format is CSV preceded by metadata lines, made to be stored in git and read in a diff::

    # format: "bmsc-abm exact readout table 1"
    # scenario: "scenarios/quickstart.yaml"
    # overrides: ["domain.duration=70.0 min", "outputs.readout_every=2.0 min"]
    time_min,step,count BMSC,total SDF-1a
    0x0.0p+0,0x0.0p+0,0x0.0p+0,0x0.0p+0
    0x1.0000000000000p+1,0x1.0000000000000p+0,0x0.0p+0,0x1.e4d7c6b1f3a2bp+21

Each metadata line is ``# key: <JSON value>``. Every value is a float64 written with
:meth:`float.hex` (``nan``, ``inf`` and ``-0x0.0p+0`` included), so reading gives back the
same bits (NaN payloads aside: every NaN reads as the one quiet NaN, and NaN equals NaN
in :func:`first_difference`). One row per readout time, one line per row: a change shows
in a diff as the rows it touched.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import ModelInputError

__all__ = ["FORMAT", "ExactTable", "write_exact_table", "read_exact_table", "first_difference",
           "ulp_distance"]

#: The ``format`` metadata value of this version of the format.
FORMAT = "bmsc-abm exact readout table 1"


@dataclass(frozen=True)
class ExactTable:
    """A table read back: metadata and columns.

    Attributes
    ----------
    meta : dict
        Metadata, in file order (``format`` first).
    columns : dict of str to numpy.ndarray
        Column name -> float64 values, in file order.
    """

    meta: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)


def write_exact_table(path, columns: dict, meta: Optional[dict] = None) -> Path:
    """Write ``columns`` (all of one length) with ``meta`` as an exact table.

    Parameters
    ----------
    path : str or Path
    columns : dict of str to array_like
        Column name -> values (converted to float64; integers up to 2**53 are exact).
    meta : dict, optional
        JSON-serialisable metadata, written after ``format``.

    Returns
    -------
    Path

    Raises
    ------
    abm.errors.ModelInputError
        Columns of different lengths, or a column name with a line break.
    """
    cols = {str(k): np.asarray(v, dtype=np.float64).ravel() for k, v in columns.items()}
    lengths = {k: v.size for k, v in cols.items()}
    if len(set(lengths.values())) > 1:
        raise ModelInputError(f"columns of different lengths: {lengths}")
    if any("\n" in k or "\r" in k for k in cols):
        raise ModelInputError("a column name holds a line break; readout names are one line")
    buf = io.StringIO()
    for k, v in {"format": FORMAT, **(meta or {})}.items():
        buf.write(f"# {k}: {json.dumps(v, ensure_ascii=False)}\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(cols))
    for row in zip(*cols.values()):
        w.writerow([float(x).hex() for x in row])
    path = Path(path)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def read_exact_table(path) -> ExactTable:
    """Read a table written by :func:`write_exact_table`.

    Raises
    ------
    abm.errors.ModelInputError
        Not such a table (a wrong ``format``, a bad metadata line, a row of the wrong
        length or a value that is not a hex float), with the line.
    """
    path = Path(path)
    meta: dict = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    k = 0
    while k < len(lines) and lines[k].startswith("#"):
        key, sep, val = lines[k][1:].strip().partition(":")
        try:
            if not sep:
                raise ValueError("no ':'")
            meta[key.strip()] = json.loads(val)
        except ValueError:
            raise ModelInputError(f"{path}:{k + 1}: a metadata line is '# key: <JSON value>', "
                                  f"got {lines[k]!r}") from None
        k += 1
    if meta.get("format") != FORMAT:
        raise ModelInputError(f"{path} is not an exact readout table (format "
                              f"{meta.get('format')!r}, expected {FORMAT!r})")
    rows = list(csv.reader(lines[k:]))
    if not rows:
        raise ModelInputError(f"{path} has no header line after its metadata")
    names, body = rows[0], rows[1:]
    data = np.empty((len(body), len(names)), dtype=np.float64)
    for i, r in enumerate(body):
        if len(r) != len(names):
            raise ModelInputError(f"{path}:{k + 2 + i}: {len(r)} values, the header has "
                                  f"{len(names)}")
        try:
            data[i] = [float.fromhex(x) for x in r]
        except ValueError:
            raise ModelInputError(f"{path}:{k + 2 + i}: a value is not a hex float "
                                  "(float.hex)") from None
    return ExactTable(meta, {n: data[:, j].copy() for j, n in enumerate(names)})


def ulp_distance(a: float, b: float) -> int:
    """Number of float64 values from ``a`` to ``b`` (0 for equal bits; finite values only)."""
    def ordered(x: float) -> int:
        i = int(np.array(x, dtype=np.float64).view(np.int64))
        return i if i >= 0 else -(i & 0x7FFFFFFFFFFFFFFF)
    return abs(ordered(a) - ordered(b))


def first_difference(got: dict, want: dict, time_key: str = "time_min") -> Optional[str]:
    """Where table ``got`` differs from ``want`` bit for bit, in words; None if identical.

    Parameters
    ----------
    got, want : dict of str to array_like
        Column name -> values. NaN equals NaN; ``-0.0`` differs from ``0.0``.
    time_key : str
        Column used to say at which time a row lies (min).

    Returns
    -------
    str or None
        One line per problem: columns added, removed or reordered, another number of rows,
        and for each differing column its first differing row (time, both values as hex,
        relative difference and distance in ulps) and how many rows differ.
    """
    out = []
    g_names, w_names = list(got), list(want)
    if g_names != w_names:
        extra = [c for c in g_names if c not in want]
        gone = [c for c in w_names if c not in got]
        if extra:
            out.append(f"columns not in the golden table: {', '.join(map(repr, extra))}")
        if gone:
            out.append(f"golden columns missing: {', '.join(map(repr, gone))}")
        if not extra and not gone:
            out.append("the columns are in another order")
    g = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in got.items()}
    w = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in want.items()}
    rows = {v.size for v in g.values()} | {v.size for v in w.values()}
    if len(rows) > 1:
        n_g = max((v.size for v in g.values()), default=0)
        n_w = max((v.size for v in w.values()), default=0)
        out.append(f"{n_g} rows, the golden table has {n_w}")
    times = w.get(time_key)
    for name in (c for c in w_names if c in g):
        a, b = g[name], w[name]
        n = min(a.size, b.size)
        a, b = a[:n], b[:n]
        same = (a.view(np.uint64) == b.view(np.uint64)) | (np.isnan(a) & np.isnan(b))
        if same.all():
            continue
        i = int(np.argmin(same))
        when = f" (t = {times[i]:g} min)" if times is not None and i < times.size else ""
        x, y = float(a[i]), float(b[i])
        if np.isfinite(x) and np.isfinite(y):
            rel = abs(x - y) / max(abs(y), 1e-300)
            how = f"relative {rel:.3g}, {ulp_distance(x, y)} ulp"
        else:
            how = "one is not finite"
        out.append(f"{name!r} differs first at row {i}{when}: {x.hex()} vs golden {y.hex()} "
                   f"({x!r} vs {y!r}; {how}); {int((~same).sum())} of {n} rows differ")
    return "\n".join(out) if out else None
