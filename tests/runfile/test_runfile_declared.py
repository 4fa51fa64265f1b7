"""What a run file declares and carries besides fields: cell colours and tissue states.

Round trips, layout, XDMF, summary and resume, and files written without them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np
import pytest

from abm.runfile import FORMAT_VERSION, RunFileError, RunWriter, open_run

SHAPE = (9, 6, 4)                   # nx != ny != nz, so axis-order mistakes show
TYPES = {"BMSC": {"states": [], "variables": ["x"], "colour": "#e7298a"},
         "Microglia": {"states": ["M0", "M1", "M2"], "colour": "#b0b0b0",
                       "state_colours": {"M1": "#e41a1c", "M2": "#3a7fd5"}},
         "Plain": {"states": ["a", "b"]}}
STATE_UNITS = {"viability": "1", "mineral": "mg/cm^3"}


def _states(k: int) -> dict:
    rng = np.random.default_rng(50 + k)
    return {"viability": rng.random(SHAPE),                          # float64
            "mineral": rng.random(SHAPE, dtype=np.float32) * 1200.0}  # float32


def _create(path: Path, **kw) -> RunWriter:
    args = dict(metadata={"scenario_name": "declared", "dx_um": 20.0, "shape": list(SHAPE)},
                scenario_text="name: declared\n", units={"length": "um"},
                field_units={"VEGF": "ng/mL"}, tissue_names=["healthy", "lesion"],
                labels=np.zeros(SHAPE, np.uint8), cell_types=TYPES,
                tissue_state_units=STATE_UNITS)
    args.update(kw)
    return RunWriter.create(path, **args)


def _write(path: Path, n: int = 2) -> Path:
    with _create(path) as w:
        for k in range(n):
            w.write_snapshot(k, 10.0 * k, {"VEGF": np.full(SHAPE, float(k), np.float32)},
                             {"BMSC": {"pos": np.zeros((3, 3), np.int32)}},
                             tissue_states=_states(k))
            w.write_checkpoint(k, 10.0 * k, {"k": k})
    return path


# --------------------------------------------------------------------------- colours


def test_cell_colours_read_back_as_declared(tmp_path):
    with open_run(_write(tmp_path / "r.h5")) as r:
        assert r.cell_colours == {
            "BMSC": {"colour": "#e7298a", "states": {}},
            "Microglia": {"colour": "#b0b0b0", "states": {"M1": "#e41a1c", "M2": "#3a7fd5"}},
            "Plain": {"colour": None, "states": {}}}
        assert r.cell_states == {"BMSC": [], "Microglia": ["M0", "M1", "M2"], "Plain": ["a", "b"]}
    with h5py.File(tmp_path / "r.h5", "r") as f:
        mg = f["cell_types/Microglia"].attrs
        assert [s.decode() if isinstance(s, bytes) else s for s in mg["state_colours"]] == \
            ["", "#e41a1c", "#3a7fd5"]                        # aligned with the states
        assert "colour" not in f["cell_types/Plain"].attrs


@pytest.mark.parametrize("spec, match", [
    ({"colour": "red"}, "'red' must be a '#rrggbb'"),
    ({"colour": "#12345"}, "must be a '#rrggbb'"),
    ({"states": ["M0"], "state_colours": {"M9": "#ffffff"}}, r"state\(s\) \['M9'\]"),
    ({"states": ["M0"], "state_colours": {"M0": "#fffff"}}, "state 'M0': colour"),
])
def test_bad_colour_refused_before_the_file_is_replaced(tmp_path, spec, match):
    path = _write(tmp_path / "keep.h5", n=1)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=match):
        _create(path, cell_types={"X": spec}, overwrite=True)
    assert path.read_bytes() == before


# --------------------------------------------------------------------------- tissue states


def test_tissue_states_round_trip_exactly(tmp_path):
    with open_run(_write(tmp_path / "r.h5", n=3)) as r:
        assert r.tissue_state_names == ["viability", "mineral"]
        assert r.tissue_state_units == STATE_UNITS
        for i in range(3):
            for name, a in _states(i).items():
                b = r.tissue_state(name, i)
                assert b.shape == SHAPE and b.dtype == a.dtype
                assert np.array_equal(b, a)
        assert np.array_equal(r.tissue_state("viability"), _states(2)["viability"])
        assert np.array_equal(r.field("VEGF", 1), np.full(SHAPE, 1.0, np.float32))
        with pytest.raises(RunFileError, match=r"no tissue state 'mineal'.*viability, mineral"):
            r.tissue_state("mineal")


def test_tissue_states_stored_like_fields(tmp_path):
    shape = (64, 80, 96)                # big enough to be chunked and compressed
    path = tmp_path / "big.h5"
    a = np.linspace(0.0, 1.0, np.prod(shape)).reshape(shape)
    with _create(path, labels=np.zeros(shape, np.uint8), field_units={"F": "nM"},
                 metadata={"dx_um": 10.0}) as w:
        w.write_snapshot(0, 0.0, {"F": a}, {}, tissue_states={"viability": a})
    with h5py.File(path, "r") as f:
        fd, td = f["snapshots/000000/fields/F"], f["snapshots/000000/tissue_states/viability"]
        assert td.shape == shape[::-1] and td.attrs["axes"] == "z,y,x"
        assert (td.chunks, td.compression, td.compression_opts, td.shuffle) == \
            (fd.chunks, fd.compression, fd.compression_opts, fd.shuffle)
        assert td.chunks is not None and td.compression == "gzip"
        assert td.attrs["unit"] == "1"
        assert np.array_equal(td[()], a.transpose(2, 1, 0))
    with open_run(path) as r:
        assert np.array_equal(r.tissue_state("viability"), a)


def test_a_tissue_state_must_be_a_lattice_array(tmp_path):
    with _create(tmp_path / "r.h5") as w:
        with pytest.raises(ValueError, match=r"tissue state 'viability' must be a lattice array"):
            w.write_snapshot(0, 0.0, {}, {}, tissue_states={"viability": np.ones(9 * 6 * 4)})
    with open_run(tmp_path / "r.h5") as r:
        assert r.n_snapshots == 0                     # the refused snapshot is not visible


def test_xdmf_and_summary_list_tissue_states(tmp_path):
    path = _write(tmp_path / "r.h5")
    root = ET.parse(tmp_path / "r.xdmf").getroot()
    grids = root.findall("Domain/Grid/Grid")
    assert len(grids) == 2
    with h5py.File(path, "r") as f:
        for g, snap in zip(grids, ("000000", "000001")):
            atts = {a.get("Name"): a.find("DataItem") for a in g.findall("Attribute")}
            assert list(atts) == ["VEGF", "mineral", "viability"]     # fields first, by name
            for name, di in atts.items():
                file, where = di.text.split(":")
                assert file == "r.h5"
                group = "fields" if name == "VEGF" else "tissue_states"
                assert where == f"/snapshots/{snap}/{group}/{name}"
                assert [int(v) for v in di.get("Dimensions").split()] == list(f[where].shape)
            assert atts["mineral"].get("NumberType") == "Float"
            assert atts["mineral"].get("Precision") == "4"
            assert atts["viability"].get("Precision") == "8"
    with open_run(path) as r:
        s = r.summary()
    assert "tissue states viability [1], mineral [mg/cm^3]" in s
    assert len(s.splitlines()) <= 14


def test_tissue_state_named_like_a_field_is_distinct_in_xdmf(tmp_path):
    path = tmp_path / "r.h5"
    with _create(path, tissue_state_units={"VEGF": "1"}) as w:
        w.write_snapshot(0, 0.0, {"VEGF": np.zeros(SHAPE)}, {},
                         tissue_states={"VEGF": np.ones(SHAPE)})
    names = [a.get("Name") for a in ET.parse(tmp_path / "r.xdmf").getroot().iter("Attribute")]
    assert names == ["VEGF", "tissue_state:VEGF"]
    with open_run(path) as r:
        assert r.field("VEGF").sum() == 0 and r.tissue_state("VEGF").sum() == np.prod(SHAPE)


def test_resume_keeps_tissue_state_units_and_colours(tmp_path):
    path = _write(tmp_path / "r.h5", n=2)
    w, ck = RunWriter.resume(path)
    assert ck["step"] == 1
    with w:
        w.write_snapshot(2, 20.0, {"VEGF": np.zeros(SHAPE, np.float32)}, {},
                         tissue_states=_states(2))
    with open_run(path) as r:
        assert r.n_snapshots == 3 and r.tissue_state_units == STATE_UNITS
        assert np.array_equal(r.tissue_state("mineral", 2), _states(2)["mineral"])
        assert r.cell_colours["Microglia"]["states"]["M2"] == "#3a7fd5"
    with h5py.File(path, "r") as f:
        assert f["snapshots/000002/tissue_states/mineral"].attrs["unit"] == "mg/cm^3"


# --------------------------------------------------------------------------- older files


def strip_declarations(path: Path) -> None:
    """Make ``path`` look like a file written before colours and tissue states were recorded.

    Format version 2 as it was: what recording them added is removed.
    """
    with h5py.File(path, "r+") as f:
        for g in f["cell_types"].values():
            for k in ("colour", "state_colours"):
                if k in g.attrs:
                    del g.attrs[k]
        if "tissue/state_units" in f:
            del f["tissue/state_units"]
        if "tissue_state_names" in f["snapshots"].attrs:
            del f["snapshots"].attrs["tissue_state_names"]
        for s in f["snapshots"].values():
            if "tissue_states" in s:
                del s["tissue_states"]


def test_a_file_without_the_new_attributes_still_reads(tmp_path):
    path = _write(tmp_path / "old.h5")
    strip_declarations(path)
    with open_run(path) as r:
        assert r.attrs["format_version"] == FORMAT_VERSION == 2
        assert r.cell_colours == {t: {"colour": None, "states": {}} for t in TYPES}
        assert r.cell_states["Microglia"] == ["M0", "M1", "M2"]
        assert r.tissue_state_names == [] and r.tissue_state_units == {}
        assert "tissue states" not in r.summary()
        assert np.array_equal(r.field("VEGF", 1), np.full(SHAPE, 1.0, np.float32))
        with pytest.raises(RunFileError, match="no tissue state 'viability'.*tissue states: none"):
            r.tissue_state("viability")
    w, _ = RunWriter.resume(path)                       # and resumes, with tissue states added
    with w:
        w.write_snapshot(2, 20.0, {"VEGF": np.zeros(SHAPE, np.float32)}, {},
                         tissue_states={"viability": _states(5)["viability"]})
    with open_run(path) as r:
        assert r.tissue_state_names == ["viability"] and r.tissue_state_units == {"viability": ""}
        assert np.array_equal(r.tissue_state("viability"), _states(5)["viability"])
