"""The HDF5 run file: round trip, resume, crash safety (SIGKILL), errors, XDMF sidecar."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np
import pytest

from abm.errors import ModelInputError
from abm.runfile import RunFileError, RunWriter, open_run, write_xdmf

SHAPE = (10, 7, 5)          # nx != ny != nz, so axis-order mistakes show
DX = 25.0
FIELD_UNITS = {"VEGF": "ng/mL", "SDF-1a": "nM", "a/b": "uM"}
READ_UNITS = {"count BMSC in penumbra": "cells", "mean VEGF": "ng/mL"}
SCENARIO = "name: unit-test scenario\nlattice: {shape: [10, 7, 5], dx: 25 um}\n# ünïcode ✓\n"


def _labels(version: int) -> np.ndarray:
    lab = np.zeros(SHAPE, np.uint8)
    lab[3:6, 2:5, 1:4] = 1
    if version:
        lab[0, 0, 0] = 2
    return lab


def _fields(k: int) -> dict:
    rng = np.random.default_rng(100 + k)
    return {"VEGF": rng.random(SHAPE, dtype=np.float32),
            "SDF-1a": rng.standard_normal(SHAPE),               # float64
            "a/b": np.full(SHAPE, float(k), np.float32)}


def _agents(k: int) -> dict:
    n = 4 + k
    rng = np.random.default_rng(200 + k)
    return {"BMSC": {"id": np.arange(n, dtype=np.int64) + 10 * k,
                     "pos": rng.integers(0, 5, (n, 3)).astype(np.int32),
                     "state": rng.integers(0, 3, n).astype(np.int8),
                     "vegf_secretion": rng.random(n)},
            "Microglia": {"id": np.zeros(0, np.int64), "pos": np.zeros((0, 3), np.int32),
                          "state": np.zeros(0, np.int8)}}


def _state(k: int) -> dict:
    rng = np.random.default_rng(300 + k)
    special = np.array([np.nan, -0.0, 5e-324, np.inf, -np.inf, 1 / 3], np.float64)
    return {"step": k, "time_min": 1.5 * k, "rng_key": 2 ** 64 - 5, "converged": True,
            "note": "résumé ✓", "nothing": None, "names": ["a", "b c"], "sizes": [1, 2, 3],
            "mix": [1, 2.5], "flags": [True, False], "empty_list": [],
            "fields": {"VEGF": rng.standard_normal(SHAPE), "special": special},
            "populations": {"BMSC": {"pos": rng.integers(0, 5, (6, 3)).astype(np.int32),
                                     "alive": np.ones(6, bool), "x": rng.random(6)},
                            "Microglia": {"pos": np.zeros((0, 3), np.int32),
                                          "x": np.zeros(0, np.float64)}},
                            "key/with/slash": {"%odd": 1.25}}


def _make_run(path: Path, n_snap: int = 3, rows_per_snap: int = 4, ckpt_every: int = 1,
              keep_last: int = 2) -> RunWriter:
    """3 snapshots at steps 0, 4, 8; readouts every step; labels change at snapshot 2."""
    w = RunWriter.create(path, metadata={"scenario_name": "unit-test", "backend": "numpy",
                                         "seed": 42, "dt_min": 1.5, "dx_um": DX,
                                         "shape": list(SHAPE), "n_steps": 12,
                                         "command": "abm run x.yaml", "overrides": ["a.b=1"],
                                         "gpu": False, "nothing": None},
                         scenario_text=SCENARIO, units={"length": "um", "time": "min"},
                         field_units=FIELD_UNITS, tissue_names=["healthy", "core", "penumbra"],
                         labels=_labels(0),
                         cell_types={"BMSC": {"states": ["naive", "homed"], "variables": ["x"]},
                                     "Microglia": {"states": ["M0", "M1", "M2"]}})
    step = 0
    for k in range(n_snap):
        for _ in range(rows_per_snap):
            w.append_readouts(step, 1.5 * step, {"count BMSC in penumbra": step,
                                                 "mean VEGF": 0.1 * step}, READ_UNITS)
            step += 1
        snap_step = k * rows_per_snap
        idx = w.write_snapshot(snap_step, 1.5 * snap_step, _fields(k), _agents(k),
                               labels=_labels(1 if k >= 2 else 0))
        assert idx == k
        if k % ckpt_every == 0:
            w.write_checkpoint(snap_step, 1.5 * snap_step, _state(k), keep_last=keep_last)
    return w


def _assert_tree_equal(a, b, where="state"):
    assert type(a) is type(b) or (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)), \
        f"{where}: {type(a)} vs {type(b)}"
    if isinstance(a, dict):
        assert set(a) == set(b), f"{where}: keys {sorted(a)} vs {sorted(b)}"
        for k in a:
            _assert_tree_equal(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        assert a.tobytes() == b.tobytes(), f"{where}: values differ"
    elif isinstance(a, list):
        assert len(a) == len(b) and all(type(x) is type(y) and x == y for x, y in zip(a, b)), where
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


# --------------------------------------------------------------------------- round trip


def test_round_trip_everything(tmp_path):
    path = tmp_path / "run.h5"
    with _make_run(path) as w:
        w.set_attrs(status="finished", wall_s=12.5)
    with open_run(path) as r:
        assert r.n_snapshots == 3
        np.testing.assert_array_equal(r.steps, [0, 4, 8])
        np.testing.assert_array_equal(r.times, [0.0, 6.0, 12.0])
        assert r.steps.dtype.kind == "i"
        assert r.scenario_text == SCENARIO
        assert r.attrs["format"] == "bmsc-abm-run" and r.attrs["format_version"] == 2
        assert r.attrs["seed"] == 42 and r.attrs["gpu"] is False and r.attrs["nothing"] is None
        assert r.attrs["shape"] == list(SHAPE) and r.attrs["overrides"] == ["a.b=1"]
        assert r.attrs["status"] == "finished" and r.attrs["wall_s"] == 12.5
        assert r.attrs["package_version"] and "T" in r.attrs["created"]
        assert r.units["length"] == "um" and r.units["SDF-1a"] == "nM"
        assert r.field_names == list(FIELD_UNITS) and r.field_units == FIELD_UNITS
        assert r.tissue_names == ["healthy", "core", "penumbra"]
        assert sorted(r.cell_types) == ["BMSC", "Microglia"]
        for k in range(3):
            for name, arr in _fields(k).items():
                got = r.field(name, k)
                assert got.dtype == arr.dtype and got.shape == SHAPE
                np.testing.assert_array_equal(got, arr)
            for t, cols in _agents(k).items():
                got = r.agents(t, k)
                assert set(got) == set(cols)
                for c, a in cols.items():
                    assert got[c].dtype == a.dtype and got[c].shape == a.shape, (t, c)
                    np.testing.assert_array_equal(got[c], a)
        assert r.agents("Microglia")["pos"].shape == (0, 3)
        assert set(r.agents("BMSC", 1, columns=["id"])) == {"id"}
        np.testing.assert_array_equal(r.field("VEGF"), _fields(2)["VEGF"])   # default: last
        np.testing.assert_array_equal(r.field("VEGF", -2), _fields(1)["VEGF"])
        # labels: version 0 for snapshots 0 and 1, version 1 from snapshot 2 on
        np.testing.assert_array_equal(r.labels(0), _labels(0))
        np.testing.assert_array_equal(r.labels(1), _labels(0))
        np.testing.assert_array_equal(r.labels(2), _labels(1))
        assert r.labels().dtype == np.uint8
        ro = r.readouts()
        np.testing.assert_array_equal(ro["step"], np.arange(12))
        np.testing.assert_array_equal(ro["time_min"], 1.5 * np.arange(12))
        np.testing.assert_array_equal(ro["count BMSC in penumbra"], np.arange(12.0))
        np.testing.assert_allclose(ro["mean VEGF"], 0.1 * np.arange(12), rtol=0, atol=0)
        assert r.readout_units == {"time_min": "min", "step": "1", **READ_UNITS}
        # keep_last=2: only the checkpoints at steps 4 and 8 remain
        assert r.checkpoint_steps == [4, 8]
        for k, s in ((1, 4), (2, 8)):
            ck = r.checkpoint(s)
            assert ck["step"] == s and ck["time_min"] == 1.5 * s
            _assert_tree_equal(_state(k), {**ck["state"], "mix": _state(k)["mix"]})
            assert ck["state"]["mix"] == [1.0, 2.5]        # int+float lists become float
        assert r.checkpoint()["step"] == 8
    with h5py.File(path, "r") as f:       # the layout promised in docs/run-file.md
        assert len(f["checkpoints"]) == 2 and list(f["tissue/labels"]) == ["0", "1"]
        assert f["snapshots/000002"].attrs["labels_version"] == 1
        assert f["snapshots/000000/fields/VEGF"].compression == "gzip"
        assert f["snapshots/000000/fields/VEGF"].shuffle
        assert f["snapshots/000000/fields/VEGF"].attrs["unit"] == "ng/mL"
        # lattice datasets are stored transposed, (nz, ny, nx), x fastest
        for k in range(3):
            for name, arr in _fields(k).items():
                ds = f[f"snapshots/{k:06d}/fields/{name.replace('/', '%2F')}"]
                assert ds.shape == SHAPE[::-1] and ds.attrs["axes"] == "z,y,x"
                assert ds.dtype == arr.dtype
                np.testing.assert_array_equal(ds[()], arr.transpose(2, 1, 0))
        for v in (0, 1):
            ds = f[f"tissue/labels/{v}"]
            assert ds.shape == SHAPE[::-1] and ds.attrs["axes"] == "z,y,x"
            np.testing.assert_array_equal(ds[()].T, _labels(v))
        assert f["snapshots/000000/agents/BMSC"].attrs["n"] == 4
        assert list(f["snapshots/000000/agents/Microglia"].attrs["states"]) == ["M0", "M1", "M2"]
        assert "a%2Fb" in f["snapshots/000000/fields"]
        assert f["readouts"].attrs["n_rows_complete"] == 12
        assert f["scenario"].asstr()[()] == SCENARIO


def test_keep_last_one_deletes_older_checkpoints(tmp_path):
    with _make_run(tmp_path / "run.h5", keep_last=1) as w:
        pass
    with open_run(w.path) as r:
        assert r.checkpoint_steps == [8]
        with pytest.raises(RunFileError, match="no checkpoint at step 4"):
            r.checkpoint(4)


def test_big_values_in_a_checkpoint_round_trip(tmp_path):
    """Strings and lists too big for an HDF5 object header are stored as datasets."""
    state = {"long_text": "x" * 100_000, "long_list": list(range(20_000)),
             "long_strs": [f"name {i}" for i in range(5000)]}
    with _make_run(tmp_path / "run.h5", n_snap=1) as w:
        w.write_checkpoint(99, 1.0, state)
    with open_run(w.path) as r:
        assert r.checkpoint()["state"] == state


def test_unstorable_values_are_refused(tmp_path):
    with _make_run(tmp_path / "run.h5", n_snap=1) as w:
        with pytest.raises(TypeError, match="object arrays"):
            w.write_checkpoint(9, 1.0, {"bad": np.array([{"a": 1}], dtype=object)})
        with pytest.raises(TypeError):
            w.write_checkpoint(9, 1.0, {"bad": [1, "a"]})
        with pytest.raises(TypeError):
            w.write_checkpoint(9, 1.0, {"bad": object()})
    with open_run(w.path) as r:       # the failed attempts left no complete checkpoint behind
        assert r.checkpoint_steps == [0]


# --------------------------------------------------------------------------- resume


def test_resume_truncates_after_checkpoint_and_continues(tmp_path):
    path = tmp_path / "run.h5"
    w = _make_run(path, n_snap=3, ckpt_every=2)           # checkpoints at steps 0 and 8
    # go on to a snapshot at step 12 without a checkpoint, then "crash" in a half-written one
    for s in range(12, 14):
        w.append_readouts(s, 1.5 * s, {"count BMSC in penumbra": s, "mean VEGF": 0.1 * s}, READ_UNITS)
    w.write_snapshot(12, 18.0, _fields(3), _agents(3), labels=_labels(0))   # labels v2
    w.flush()
    w._f["snapshots"].create_group("000004").create_group("fields")        # no `complete`
    w._f["checkpoints"].create_group("000009").attrs["step"] = 13
    w._f.flush()
    w._f.close()          # as after a crash: nothing else written
    with open_run(path) as r:
        assert r.n_snapshots == 4 and r.checkpoint_steps == [0, 8]
        assert r.readouts()["step"][-1] == 13

    w, ck = RunWriter.resume(path)
    assert ck["step"] == 8 and ck["time_min"] == 12.0
    _assert_tree_equal(_state(2), {**ck["state"], "mix": _state(2)["mix"]})
    with open_run(path) as r:
        np.testing.assert_array_equal(r.steps, [0, 4, 8])
        np.testing.assert_array_equal(r.readouts()["step"], np.arange(9))
        assert r.checkpoint_steps == [0, 8]
    with h5py.File(path, "r") as f:
        assert list(f["snapshots"]) == ["000000", "000001", "000002"]
        assert list(f["tissue/labels"]) == ["0", "1"]        # v2 belonged to a dropped snapshot
        assert all(len(ds) == 9 for ds in f["readouts"].values())
    # continue: steps 9.. and a new snapshot and checkpoint
    with w:
        for s in range(9, 13):
            w.append_readouts(s, 1.5 * s, {"count BMSC in penumbra": -s}, READ_UNITS)  # VEGF -> NaN
        assert w.write_snapshot(12, 18.0, _fields(5), _agents(5), labels=_labels(0)) == 3
        w.write_checkpoint(12, 18.0, _state(5))
    with open_run(path) as r:
        np.testing.assert_array_equal(r.steps, [0, 4, 8, 12])
        np.testing.assert_array_equal(r.field("VEGF"), _fields(5)["VEGF"])
        np.testing.assert_array_equal(r.labels(3), _labels(0))
        np.testing.assert_array_equal(r.labels(2), _labels(1))
        ro = r.readouts()
        np.testing.assert_array_equal(ro["step"], np.arange(13))
        np.testing.assert_array_equal(ro["count BMSC in penumbra"][9:], -np.arange(9, 13.0))
        assert np.isnan(ro["mean VEGF"][9:]).all() and not np.isnan(ro["mean VEGF"][:9]).any()
        assert r.checkpoint_steps == [8, 12]
        with pytest.raises(RunFileError, match="already open in this program"):
            RunWriter.resume(path)
    w2, _ = RunWriter.resume(path)
    with w2, pytest.raises(RunFileError, match="not in the first row"):
        w2.append_readouts(13, 1.0, {"new column": 1.0}, {})


def test_resume_without_checkpoint_is_refused(tmp_path):
    path = tmp_path / "run.h5"
    with _make_run(path, n_snap=0) as w:
        w.write_snapshot(4, 6.0, _fields(1), _agents(1))
    with pytest.raises(RunFileError, match="no complete checkpoint to resume") as e:
        RunWriter.resume(path)
    assert str(path) in str(e.value)
    assert isinstance(e.value, ModelInputError)


# --------------------------------------------------------------------------- errors


def test_existing_file_is_not_overwritten(tmp_path):
    path = tmp_path / "run.h5"
    _make_run(path, n_snap=1).close()
    before = path.read_bytes()
    with pytest.raises(RunFileError, match=r"exists; pass --overwrite"):
        _make_run(path, n_snap=1)
    assert path.read_bytes() == before
    w = RunWriter.create(path, metadata={}, scenario_text="", units={}, field_units={},
                         tissue_names=["t"], labels=np.zeros(SHAPE, np.uint8), cell_types={},
                         overwrite=True)
    w.close()
    with open_run(path) as r:
        assert r.n_snapshots == 0 and r.checkpoint_steps == []
        assert r.readouts()["step"].shape == (0,)
        assert "snapshots     0" in r.summary()
    with pytest.raises(RunFileError, match="does not exist"):
        RunWriter.create(tmp_path / "no" / "such" / "run.h5", metadata={}, scenario_text="",
                         units={}, field_units={}, tissue_names=["t"],
                         labels=np.zeros(SHAPE, np.uint8), cell_types={})


def test_unreadable_files_raise_runfileerror(tmp_path):
    missing = tmp_path / "missing.h5"
    with pytest.raises(RunFileError, match="no run file at .*missing.h5; check the path"):
        open_run(missing)
    with pytest.raises(RunFileError, match="no run file at"):
        RunWriter.resume(missing)

    junk = tmp_path / "junk.h5"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(RunFileError, match=r"junk.h5 is not a readable HDF5 file \(.*\); it may be "
                                           r"incomplete or corrupt"):
        open_run(junk)

    real = tmp_path / "real.h5"
    _make_run(real).close()
    data = real.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    for fn in (open_run, RunWriter.resume, write_xdmf):
        with pytest.raises(RunFileError, match="cut.h5 is not a readable HDF5 file"):
            fn(cut)

    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(RunFileError, match="plain.h5 is not a bmsc-abm run file"):
        open_run(plain)
    with pytest.raises(RunFileError, match="is a folder"):
        open_run(tmp_path)

    with open_run(real) as r:
        with pytest.raises(RunFileError, match="no field 'IL-6'.*VEGF"):
            r.field("IL-6")
        with pytest.raises(RunFileError, match="out of range"):
            r.field("VEGF", 3)
        with pytest.raises(RunFileError, match="no cell type 'Neuron'"):
            r.agents("Neuron")


# --------------------------------------------------------------------------- safety of files


def _walk_types(f: h5py.File):
    """(name, HDF5 type class) of every dataset and attribute in the file."""
    out = []

    def attrs_of(name, obj):
        for k in obj.attrs:
            aid = h5py.h5a.open(obj.id, k.encode())
            out.append((f"{name}@{k}", aid.get_type().get_class(), aid.dtype))
        if isinstance(obj, h5py.Dataset):
            out.append((name, obj.id.get_type().get_class(), obj.dtype))

    attrs_of("/", f)
    f.visititems(attrs_of)
    return out


def test_no_pickles_or_opaque_objects_in_a_run_file(tmp_path):
    with _make_run(tmp_path / "run.h5") as w:
        w.set_attrs(status="finished", extra={"nested": [1, 2]})
    allowed = {h5py.h5t.INTEGER, h5py.h5t.FLOAT, h5py.h5t.STRING, h5py.h5t.ENUM}
    with h5py.File(w.path, "r") as f:
        types = _walk_types(f)
    assert len(types) > 100
    bad = [(n, c) for n, c, _ in types if c not in allowed]
    assert not bad, bad
    # object dtype in numpy only ever means an HDF5 variable-length UTF-8 string here
    for n, c, dt in types:
        if dt.kind == "O":
            assert h5py.check_string_dtype(dt) is not None and c == h5py.h5t.STRING, n
    package = Path(__import__("abm.runfile").runfile.__file__).parent
    sources = sorted(package.glob("*.py"))
    assert len(sources) > 1
    src = "\n".join(p.read_text() for p in sources)
    assert "import pickle" not in src and "pickle.load" not in src


# --------------------------------------------------------------------------- summary, XDMF


def test_summary_names_scenario_fields_units_and_counts(tmp_path):
    with _make_run(tmp_path / "run.h5") as w:
        w.set_attrs(status="finished")
    with open_run(w.path) as r:
        s = r.summary()
    for text in ("unit-test", "VEGF [ng/mL]", "SDF-1a [nM]", "snapshots     3", "0 .. 0.2 h",
                 "BMSC 6", "Microglia 0", "count BMSC in penumbra [cells]", "step 4, step 8",
                 "finished", "10 x 7 x 5 voxels x 25 um", "numpy", "seed 42"):
        assert text in s, (text, s)
    assert len(s.splitlines()) <= 14


def test_xdmf_sidecar_references_valid_datasets(tmp_path):
    with _make_run(tmp_path / "run.h5") as w:
        pass
    xdmf = tmp_path / "run.xdmf"
    assert xdmf.exists()
    os.remove(xdmf)
    assert write_xdmf(w.path) == xdmf
    root = ET.parse(xdmf).getroot()
    assert root.tag == "Xdmf" and root.get("Version") == "3.0"
    coll = root.find("Domain/Grid")
    assert coll.get("GridType") == "Collection" and coll.get("CollectionType") == "Temporal"
    grids = coll.findall("Grid")
    with open_run(w.path) as r, h5py.File(w.path, "r") as f:
        assert len(grids) == r.n_snapshots == 3
        for g, t in zip(grids, r.times):
            assert float(g.find("Time").get("Value")) == t
            topo = g.find("Topology")
            assert topo.get("TopologyType") == "3DCoRectMesh"
            # slowest first, as the C-order arrays are stored: z y x
            assert [int(v) for v in topo.get("Dimensions").split()] == list(SHAPE[::-1])
            geo = g.find("Geometry")
            assert geo.get("GeometryType") == "ORIGIN_DXDYDZ"
            origin, spacing = [[float(v) for v in d.text.split()] for d in geo.findall("DataItem")]
            assert origin == [DX / 2] * 3 and spacing == [DX] * 3
            atts = g.findall("Attribute")
            assert sorted(a.get("Name") for a in atts) == sorted(FIELD_UNITS)
            for a in atts:
                assert a.get("Center") == "Node"
                di = a.find("DataItem")
                fname, dpath = di.text.strip().split(":", 1)
                assert fname == "run.h5"                       # relative
                assert dpath in f, dpath
                assert f[dpath].shape == tuple(int(v) for v in di.get("Dimensions").split())
                assert int(di.get("Precision")) == f[dpath].dtype.itemsize
                assert di.get("NumberType") == "Float"
    assert not list(tmp_path.glob("*.tmp"))


def test_xdmf_maps_paraview_xyz_to_model_xyz_on_an_anisotropic_lattice(tmp_path):
    """The XDMF maps ParaView's X, Y, Z to the model's x, y, z on an anisotropic lattice.

    ParaView takes the fastest axis as X and reads Dimensions / origin / spacing
    slowest-first (Z Y X): the datasets are (nz, ny, nx) and the triples z y x, so
    ParaView's X, Y, Z are the model's x, y, z (no mirror image).
    """
    shape = (10, 7, 5)                                    # nx, ny, nz
    rng = np.random.default_rng(7)
    fields = [{"A": rng.random(shape, dtype=np.float32), "B-c": rng.standard_normal(shape)}
              for _ in range(2)]
    labels = [rng.integers(0, 3, shape).astype(np.uint8) for _ in range(2)]
    path = tmp_path / "aniso.h5"
    with RunWriter.create(path, metadata={"dx_um": [10.0, 20.0, 30.0], "shape": list(shape)},
                          scenario_text="", units={}, field_units={"A": "nM", "B-c": "pg/mL"},
                          tissue_names=["a", "b", "c"], labels=labels[0], cell_types={}) as w:
        for k in range(2):
            w.write_snapshot(k, 1.0 * k, fields[k], {}, labels=labels[k])
    grids = ET.parse(tmp_path / "aniso.xdmf").getroot().findall("Domain/Grid/Grid")
    assert len(grids) == 2
    with open_run(path) as r, h5py.File(path, "r") as f:
        for k, g in enumerate(grids):
            assert g.find("Topology").get("Dimensions") == "5 7 10"
            origin, spacing = [d.text.split() for d in g.findall("Geometry/DataItem")]
            assert [float(v) for v in spacing] == [30.0, 20.0, 10.0]          # dz dy dx
            assert [float(v) for v in origin] == [15.0, 10.0, 5.0]            # voxel centres z y x
            atts = g.findall("Attribute")
            assert sorted(a.get("Name") for a in atts) == ["A", "B-c"]
            for a in atts:
                di = a.find("DataItem")
                assert di.get("Dimensions") == "5 7 10"
                dpath = di.text.strip().split(":", 1)[1]
                assert dpath in f, dpath
                ds = f[dpath]
                assert ds.shape == (5, 7, 10) and ds.attrs["axes"] == "z,y,x"
                assert ds.attrs["unit"] == {"A": "nM", "B-c": "pg/mL"}[a.get("Name")]
                orig = fields[k][a.get("Name")]
                np.testing.assert_array_equal(ds[()], orig.transpose(2, 1, 0))
                got = r.field(a.get("Name"), k)
                assert got.shape == shape and got.dtype == orig.dtype
                assert np.array_equal(got, orig)
            lab = f[f"tissue/labels/{f[f'snapshots/{k:06d}'].attrs['labels_version']}"]
            assert lab.shape == (5, 7, 10) and lab.attrs["axes"] == "z,y,x"
            np.testing.assert_array_equal(lab[()], labels[k].transpose(2, 1, 0))
            got = r.labels(k)
            assert got.shape == shape and got.dtype == np.uint8
            assert np.array_equal(got, labels[k])
        assert "10 x 7 x 5 voxels x 10 x 20 x 30 um  (0.1 x 0.14 x 0.15 mm)" in r.summary()


def test_xdmf_origin_and_scalar_spacing_in_zyx_order(tmp_path):
    path = tmp_path / "o.h5"
    with RunWriter.create(path, metadata={"dx_um": 10.0, "origin_um": [0, 100, 1000]},
                          scenario_text="", units={}, field_units={"A": "nM"}, tissue_names=["t"],
                          labels=np.zeros(SHAPE, np.uint8), cell_types={}) as w:
        w.write_snapshot(0, 0.0, {"A": np.zeros(SHAPE, np.float32)}, {})
    g = ET.parse(tmp_path / "o.xdmf").getroot().find("Domain/Grid/Grid")
    origin, spacing = [[float(v) for v in d.text.split()] for d in g.findall("Geometry/DataItem")]
    assert spacing == [10.0, 10.0, 10.0] and origin == [1005.0, 105.0, 5.0]


def test_checkpoint_arrays_are_not_transposed(tmp_path):
    a = np.arange(np.prod(SHAPE), dtype=np.float64).reshape(SHAPE)
    with _make_run(tmp_path / "run.h5", n_snap=1) as w:
        w.write_checkpoint(99, 1.0, {"field": a})
    with h5py.File(w.path, "r") as f:
        ds = f["checkpoints/000001/state/field"]
        assert ds.shape == SHAPE and "axes" not in ds.attrs
        np.testing.assert_array_equal(ds[()], a)
    with open_run(w.path) as r:
        np.testing.assert_array_equal(r.checkpoint(99)["state"]["field"], a)


def test_lattice_chunks_hold_whole_z_slabs():
    from abm.runfile.layout import _chunks_for
    assert _chunks_for((256, 256, 256), 4) == (8, 256, 256)          # 2 MiB, 8 z-slabs
    assert _chunks_for((100, 1024, 1024), 8) == (1, 256, 1024)       # a slab is over 2 MiB
    assert _chunks_for((5, 7, 10), 8) == (5, 7, 10)
    assert _chunks_for((60, 100, 100), 4) == (30, 100, 100)          # balanced, no sliver
    for shape, item in (((256, 256, 256), 4), ((300, 200, 100), 8), ((1000, 512, 512), 1),
                        ((64, 2000, 3000), 8)):
        c = _chunks_for(shape, item)
        nbytes = int(np.prod(c)) * item
        assert nbytes <= 4 << 20 and (nbytes >= 1 << 20 or c == shape), (shape, c)


def test_field_datasets_are_chunked_by_z_slabs(tmp_path):
    shape = (96, 80, 70)                                  # nx, ny, nz
    a = np.random.default_rng(1).random(shape, dtype=np.float32)
    with RunWriter.create(tmp_path / "c.h5", metadata={"dx_um": 10.0}, scenario_text="",
                          units={}, field_units={"A": "nM"}, tissue_names=["t"],
                          labels=np.zeros(shape, np.uint8), cell_types={}) as w:
        w.write_snapshot(0, 0.0, {"A": a}, {})
    with h5py.File(w.path, "r") as f:
        for ds in (f["snapshots/000000/fields/A"], f["tissue/labels/0"]):
            assert ds.shape == (70, 80, 96)
            assert ds.chunks[1:] == (80, 96)
        assert f["snapshots/000000/fields/A"].chunks[0] < 70      # 2.1 MB: two chunks
        np.testing.assert_array_equal(f["snapshots/000000/fields/A"][3], a[:, :, 3].T)
    with open_run(w.path) as r:       # no "shape" metadata: taken from the stored field
        assert "96 x 80 x 70 voxels" in r.summary()


def test_format_version_1_files_still_read_and_resume(tmp_path):
    """Files written before the (nz, ny, nx) layout: datasets (nx, ny, nz), no ``axes``."""
    path = tmp_path / "old.h5"
    _make_run(path, n_snap=2).close()
    with h5py.File(path, "r+") as f:              # rewrite it as the old writer did
        f.attrs["format_version"] = np.int64(1)
        for k in range(2):
            fg = f[f"snapshots/{k:06d}/fields"]
            for name, arr in _fields(k).items():
                key = name.replace("/", "%2F")
                unit = fg[key].attrs["unit"]
                del fg[key]
                fg.create_dataset(key, data=arr).attrs["unit"] = unit
        del f["tissue/labels/0"]
        f["tissue/labels"].create_dataset("0", data=_labels(0)).attrs["complete"] = np.int8(1)
    write_xdmf(path)
    with open_run(path) as r:
        np.testing.assert_array_equal(r.field("VEGF", 0), _fields(0)["VEGF"])
        np.testing.assert_array_equal(r.labels(0), _labels(0))
        assert "10 x 7 x 5 voxels" in r.summary()
    g = ET.parse(tmp_path / "old.xdmf").getroot().find("Domain/Grid/Grid")
    assert g.find("Topology").get("Dimensions") == "10 7 5"         # matches its datasets
    w, _ = RunWriter.resume(path)
    with w:
        w.write_snapshot(8, 12.0, _fields(2), {}, labels=_labels(1))
    with open_run(path) as r:
        assert r.attrs["format_version"] == 2
        np.testing.assert_array_equal(r.field("VEGF", 0), _fields(0)["VEGF"])
        np.testing.assert_array_equal(r.field("VEGF", 2), _fields(2)["VEGF"])
        np.testing.assert_array_equal(r.labels(2), _labels(1))
    dims = [g.find("Topology").get("Dimensions")
            for g in ET.parse(tmp_path / "old.xdmf").getroot().findall("Domain/Grid/Grid")]
    assert dims == ["10 7 5", "10 7 5", "5 7 10"]


# --------------------------------------------------------------------------- crash safety

_WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from abm.runfile import RunWriter

    shape = (48, 40, 36)
    w = RunWriter.create(sys.argv[1], metadata={"scenario_name": "kill", "dx_um": 10.0},
                         scenario_text="kill", units={"length": "um"},
                         field_units={"A": "nM", "B": "nM"}, tissue_names=["t0", "t1"],
                         labels=np.zeros(shape, np.uint8), cell_types={"BMSC": {}})
    print("ready", flush=True)
    k = 0
    while True:
        rng = np.random.default_rng(k)
        for s in range(3 * k, 3 * k + 3):
            w.append_readouts(s, 0.5 * s, {"x": s, "y": 2.0 * s}, {"x": "1", "y": "1"})
        n = 3000 + 97 * k
        w.write_snapshot(3 * k, 1.5 * k,
                         {"A": rng.random(shape, dtype=np.float32), "B": rng.random(shape)},
                         {"BMSC": {"id": np.arange(n, dtype=np.int64) + k,
                                   "pos": rng.integers(0, 36, (n, 3)).astype(np.int32)}},
                         labels=np.full(shape, (k // 3) % 2, np.uint8))
        if k % 2:
            w.write_checkpoint(3 * k, 1.5 * k, {"k": k, "v": rng.random(50_000)})
        k += 1
""")


def _check_killed_file(path: Path) -> int:
    shape = (48, 40, 36)
    with open_run(path) as r:
        for i, step in enumerate(r.steps):
            k = int(step) // 3
            rng = np.random.default_rng(k)
            np.testing.assert_array_equal(r.field("A", i), rng.random(shape, dtype=np.float32))
            np.testing.assert_array_equal(r.field("B", i), rng.random(shape))
            n = 3000 + 97 * k
            ag = r.agents("BMSC", i)
            np.testing.assert_array_equal(ag["id"], np.arange(n) + k)
            np.testing.assert_array_equal(ag["pos"], rng.integers(0, 36, (n, 3)).astype(np.int32))
            assert (r.labels(i) == (k // 3) % 2).all()
        ro = r.readouts()
        np.testing.assert_array_equal(ro["step"], np.arange(len(ro["step"])))
        np.testing.assert_array_equal(ro["x"], ro["step"].astype(float))
        np.testing.assert_array_equal(ro["y"], 2.0 * ro["step"])
        assert len(ro["step"]) >= 3 * r.n_snapshots
        for s in r.checkpoint_steps:
            ck = r.checkpoint(s)
            k = ck["state"]["k"]
            rng = np.random.default_rng(k)
            rng.random(shape, dtype=np.float32), rng.random(shape)
            rng.integers(0, 36, (3000 + 97 * k, 3))
            np.testing.assert_array_equal(ck["state"]["v"], rng.random(50_000))
        n, cks = r.n_snapshots, r.checkpoint_steps
    if cks:     # resume and write on: the file accepts more
        w, ck = RunWriter.resume(path)
        with w:
            w.write_snapshot(ck["step"] + 1, 0.0, {"A": np.zeros(shape, np.float32)}, {})
        with open_run(path) as r:
            assert r.steps[-1] == ck["step"] + 1 and r.steps[-2] <= ck["step"]
    return n


def test_sigkill_at_random_moments_leaves_readable_complete_snapshots(tmp_path):
    delays = np.random.default_rng(2024).uniform(0.3, 1.5, 4)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])}
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    procs = []
    for j in range(len(delays)):
        p = subprocess.Popen([sys.executable, str(script), str(tmp_path / f"kill{j}.h5")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        procs.append(p)
    ready = []
    for p in procs:
        line = p.stdout.readline()
        assert line.strip() == "ready", p.stderr.read()
        ready.append(time.monotonic())
    for p, t0, d in sorted(zip(procs, ready, delays), key=lambda x: x[1] + x[2]):
        time.sleep(max(0.0, t0 + d - time.monotonic()))
        assert p.poll() is None, p.stderr.read()      # still writing when killed
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        assert p.returncode == -signal.SIGKILL
    counts = [_check_killed_file(tmp_path / f"kill{j}.h5") for j in range(len(delays))]
    assert sum(counts) > 0, "no trial got as far as one complete snapshot"
