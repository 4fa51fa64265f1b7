"""Write tests/run/golden/quickstart_readouts.csv: the quickstart's readout table as exact floats.

Run only when a change of behaviour is intended (and say so in the commit):
``python tests/run/golden/make_quickstart_golden.py``. Values are written with
``float.hex`` so the table round-trips bit for bit.
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = Path(__file__).with_name("quickstart_readouts.csv")


def quickstart_readouts(out: Path) -> dict:
    """Run the quickstart on NumPy into ``out`` and return its readout table."""
    sys.path.insert(0, str(ROOT))
    from abm import open_run  # noqa: PLC0415
    from abm.run.runner import run_scenario  # noqa: PLC0415

    run_scenario(ROOT / "scenarios" / "quickstart.yaml", out, backend="numpy", overwrite=True,
                 progress=False)
    with open_run(out) as r:
        return {k: list(map(float, v)) for k, v in r.readouts().items()}


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        table = quickstart_readouts(Path(d) / "quickstart.h5")
    cols = list(table)
    with open(GOLDEN, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for row in zip(*(table[c] for c in cols)):
            w.writerow([float(v).hex() for v in row])
    print(f"wrote {GOLDEN} ({len(table[cols[0]])} rows, {len(cols)} columns)")


if __name__ == "__main__":
    main()
