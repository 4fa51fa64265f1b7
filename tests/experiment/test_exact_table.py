"""Exact readout tables: written and read back bit for bit; the comparison sees one ulp."""

import numpy as np
import pytest

from abm.errors import ModelInputError
from abm.experiment import first_difference, read_exact_table, write_exact_table
from abm.experiment.exact_table import ulp_distance

SPECIAL = [0.0, -0.0, 5e-324, np.nextafter(1.0, 2.0), 1 / 3, -2.5e300, np.inf, -np.inf, np.nan]


def test_special_values_round_trip_bit_for_bit(tmp_path):
    cols = {"time_min": np.arange(len(SPECIAL), dtype=float), "weird, name \"q\"": SPECIAL}
    meta = {"scenario": "scenarios/x.yaml", "overrides": ["domain.duration=70.0 min"], "seed": 3}
    path = write_exact_table(tmp_path / "t.csv", cols, meta)
    back = read_exact_table(path)
    assert back.meta == {"format": "bmsc-abm exact readout table 1", **meta}
    assert list(back.columns) == list(cols)
    want = np.array(SPECIAL)
    got = back.columns["weird, name \"q\""]
    ok = (got.view(np.uint64) == want.view(np.uint64)) | (np.isnan(got) & np.isnan(want))
    assert ok.all()
    assert first_difference(back.columns, cols) is None


def test_a_one_ulp_change_is_found_with_its_row_and_time():
    want = {"time_min": np.array([0.0, 2.0, 4.0]), "total SDF-1a": np.array([0.0, 1.5, 2.75])}
    got = {k: v.copy() for k, v in want.items()}
    got["total SDF-1a"][2] = np.nextafter(2.75, 3.0)
    msg = first_difference(got, want)
    assert msg is not None and "'total SDF-1a' differs first at row 2 (t = 4 min)" in msg
    assert "1 ulp" in msg and "1 of 3 rows differ" in msg


def test_minus_zero_differs_from_zero_and_nan_equals_nan():
    want = {"a": np.array([0.0, np.nan])}
    assert first_difference({"a": np.array([-0.0, np.nan])}, want) is not None
    assert first_difference({"a": np.array([0.0, np.nan])}, want) is None


def test_columns_and_rows_that_changed_are_named():
    want = {"time_min": np.zeros(3), "a": np.zeros(3), "b": np.zeros(3)}
    assert "golden columns missing: 'b'" in first_difference({"time_min": np.zeros(3),
                                                              "a": np.zeros(3)}, want)
    assert "columns not in the golden table: 'c'" in first_difference({**want, "c": np.zeros(3)},
                                                                      want)
    assert "another order" in first_difference({"a": np.zeros(3), "time_min": np.zeros(3),
                                                "b": np.zeros(3)}, want)
    assert "2 rows, the golden table has 3" in first_difference(
        {k: v[:2] for k, v in want.items()}, want)


def test_ulp_distance_counts_representable_values():
    x = 1.0
    assert ulp_distance(x, np.nextafter(np.nextafter(x, 2), 2)) == 2
    assert ulp_distance(-x, np.nextafter(-x, 0)) == 1
    assert ulp_distance(5e-324, -5e-324) == 2


def test_a_file_that_is_not_such_a_table_is_refused_with_its_line(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("# format: \"something else\"\na\n0x0.0p+0\n")
    with pytest.raises(ModelInputError, match="is not an exact readout table"):
        read_exact_table(p)
    path = write_exact_table(tmp_path / "ok.csv", {"a": [1.0, 2.0]})
    path.write_text(path.read_text().replace("0x1.0000000000000p+1", "2.0x"))
    with pytest.raises(ModelInputError, match=r"ok.csv:4: a value is not a hex float"):
        read_exact_table(path)
    with pytest.raises(ModelInputError, match="different lengths"):
        write_exact_table(tmp_path / "x.csv", {"a": [1.0], "b": [1.0, 2.0]})
