"""CuPy kernels against their NumPy twins (skipped, with the reason, where there is no GPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from abm import FieldSolver, Species, TissueClass
from kernels.backend import cupy_available

HAVE_GPU, WHY = cupy_available()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not HAVE_GPU, reason=f"no GPU: {WHY}")]

DX = 20.0
#: The folders of the helpers these tests share (tests/cells, tests/run): on the path even
#: when this file runs alone, as benchmarks/gpu_check.py runs it.
TESTS = Path(__file__).resolve().parents[1]


def _build(backend, dtype, hetero, scheme, seed=7):
    rng = np.random.default_rng(seed)
    shape = (40, 36, 32)
    labels = tissue = None
    if hetero:
        labels = np.zeros(shape, np.uint8)
        labels[rng.random(shape) < 0.05] = 1
        labels[10:20, 5:15, 5:25] = 2
        tissue = [TissueClass("brain"), TissueClass("bone", permeable=False),
                  TissueClass("lesion", diffusion_scale=1.5, decay_scale=3.0)]
    sp = [Species("SDF-1a", 1800.0, 0.02), Species("VEGF", 1620.0, 0.0116, fixed_faces={"x-": 0.5}),
          Species("EV", 60.0, 0.001)]
    if scheme == "spectral":
        sp[1] = Species("VEGF", 1620.0, 0.0116)
    f = FieldSolver(shape, DX, sp, labels=labels, tissue=tissue, backend=backend, dtype=dtype,
                    scheme=scheme)
    vox = rng.integers(0, 32, size=(500, 3))
    f.set_point_exchange("SDF-1a", vox, secretion_rate=rng.uniform(0, 1, 500), target=2.0,
                         uptake_rate=0.05, release=rng.uniform(0, 50, 500))
    f.set_point_exchange("VEGF", vox[:100], uptake_rate=0.2)
    mask = np.zeros(shape, bool)
    mask[25:30, 20:25, 10:15] = True
    f.add_depot("EV", mask, 1e7, "first_order", 0.01)
    f.add_bolus("SDF-1a", (5, 5, 5), 1e6)
    return f


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hetero, scheme", [(False, "spectral"), (False, "explicit"), (True, "explicit")])
def test_cupy_and_numpy_agree_after_100_steps(dtype, hetero, scheme):
    a = _build("numpy", dtype, hetero, scheme)
    b = _build("cupy", dtype, hetero, scheme)
    for _ in range(100):
        a.step(1.0)
        b.step(1.0)
    for s in a.species:
        x, y = a.field_numpy(s.name), b.field_numpy(s.name)
        # not a quotient: a field that stays zero (VEGF without fixed faces) has norm 0
        assert np.linalg.norm(x - y) <= 1e-5 * np.linalg.norm(x), s.name


def test_cell_layer_cupy_matches_numpy_over_100_steps(monkeypatch):
    """Same seed, both backends, float64 fields: identical positions, ids, states and events.

    Every random draw is integer arithmetic keyed by (seed, step, id, purpose), so
    the backends draw the same numbers; probabilities are float64 on both. Continuous
    phenotype variables agree to round-off.
    """
    monkeypatch.syspath_prepend(str(TESTS / "cells"))
    from test_cell_life import _run

    a = _run(7, steps=100, backend="numpy")
    b = _run(7, steps=100, backend="cupy")
    assert a.keys() == b.keys()
    for k in a:
        if a[k].dtype.kind in "iub":
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        else:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_scenario_run_on_cupy_resumes_exactly_and_tracks_numpy(tmp_path, monkeypatch):
    """A scenario run on the GPU resumes exactly and tracks the NumPy run.

    Resuming gives the uninterrupted run bit for bit, and the readouts follow the NumPy
    run (float32 fields on the GPU, so not bit-identical).
    """
    monkeypatch.syspath_prepend(str(TESTS / "run"))
    from test_run import small

    from abm.cli import main
    from abm.runfile import open_run

    scen = small(tmp_path, duration="80 min", snap="20 min", ckpt="20 min")
    full, part, cpu = tmp_path / "full.h5", tmp_path / "part.h5", tmp_path / "cpu.h5"
    assert main(["run", str(scen), "--out", str(full), "--quiet", "--backend", "cupy"]) == 0
    assert main(["run", str(scen), "--out", str(part), "--quiet", "--backend", "cupy",
                 "--until", "40 min"]) == 0
    assert main(["resume", str(part), "--quiet", "--until", "80 min"]) == 0
    assert main(["run", str(scen), "--out", str(cpu), "--quiet", "--backend", "numpy"]) == 0
    with open_run(full) as a, open_run(part) as b, open_run(cpu) as c:
        assert a.attrs["backend"] == b.attrs["backend"] == "cupy"
        sa, sb = a.checkpoint()["state"], b.checkpoint()["state"]
        for name in sa["fields"]:
            assert np.array_equal(sa["fields"][name], sb["fields"][name])
        for t in sa["populations"]:
            for col in sa["populations"][t]:
                assert np.array_equal(sa["populations"][t][col], sb["populations"][t][col])
        ra, rc = a.readouts(), c.readouts()
        assert np.array_equal(ra["count BMSC"], rc["count BMSC"])
        assert np.allclose(ra["total exosome"], rc["total exosome"], rtol=1e-4)
