"""The quickstart's readouts are bit-identical to a stored golden table.

The table (``tests/run/golden/quickstart_readouts.csv``, exact floats as ``float.hex``)
was written before the package was reorganised; any refactoring that is meant to
keep behaviour must reproduce it exactly on the NumPy backend. Regenerate it only
for an intended change of behaviour (``python tests/run/golden/make_quickstart_golden.py``).
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def _load_golden() -> dict[str, np.ndarray]:
    with open(GOLDEN_DIR / "quickstart_readouts.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    cols = rows[0]
    data = np.array([[float.fromhex(v) for v in r] for r in rows[1:]])
    return {c: data[:, i] for i, c in enumerate(cols)}


def _maker():
    spec = importlib.util.spec_from_file_location("make_golden", GOLDEN_DIR / "make_quickstart_golden.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_quickstart_readouts_bit_identical(tmp_path):
    golden = _load_golden()
    table = _maker().quickstart_readouts(tmp_path / "quickstart.h5")
    assert list(table) == list(golden), "readout columns changed"
    for col, want in golden.items():
        got = np.asarray(table[col])
        assert got.shape == want.shape, f"{col}: {got.shape[0]} rows, golden has {want.shape[0]}"
        same = (got == want) | (np.isnan(got) & np.isnan(want))
        if not same.all():
            i = int(np.argmin(same))
            rel = np.nanmax(np.abs(got - want) / np.maximum(np.abs(want), 1e-300))
            raise AssertionError(f"{col} differs from the golden table first at row {i} "
                                 f"({got[i]!r} vs {want[i]!r}); max relative difference {rel:.3g}")
