"""The trial's tables on disk: CSV for people and spreadsheets, Parquet for analysis.

``animals.csv`` is rewritten after every finished run, so a trial in progress (or one that
crashed) always has the rows so far; at the end ``animals.parquet``, ``effects.csv`` and
``effects.parquet`` (pyarrow) are written. Files are written under a temporary name and
renamed, so a reader never sees half a table.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

__all__ = ["write_table", "read_table"]


def write_table(df: pd.DataFrame, stem, parquet: bool = True) -> list[Path]:
    """Write ``stem.csv`` (and ``stem.parquet``) atomically; returns the paths written."""
    stem = Path(stem)
    out = []
    for suffix in (".csv", ".parquet") if parquet else (".csv",):
        path = stem.with_suffix(suffix)
        tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
        if suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, engine="pyarrow", index=False)
        os.replace(tmp, path)
        out.append(path)
    return out


def read_table(path) -> pd.DataFrame:
    """A table written by :func:`write_table` (``.csv`` or ``.parquet``)."""
    path = Path(path)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
