"""Every CUDA kernel of the project compiled as C++ and run on the CPU, against its NumPy twin.

The kernels' callers take their real GPU branches (``Backend("cupy", numpy_cupy(), ...)``):
the same source text, the same launch configuration and the same argument marshalling as
on a GPU, with the shim of :mod:`kernels.cuda_shim` standing in for CuPy.

Tolerances
    * ``explicit_substep``: the kernel sums the six face terms of a voxel in the order
      x-, x+, y-, y+, z-, z+ and forms ``2 di dj / (di + dj)`` per face, where the NumPy twin
      sums per axis (x+, x-, …), precomputes the conductances and adds fixed faces last. The
      two round differently, by a few units of the last place of the terms: each of the
      ~20 operations rounds once (≤ eps/2 of its operands), and the operands are bounded by
      ``S = max|u| + 12 r max(|u|, |c_face|) + h max|src|``, so we require
      ``|shim - twin| <= 16 eps S`` (eps of the dtype), with a check that the comparison
      fails when the kernel is given one wrong argument.
    * The ElementwiseKernels (spectral update, implicit exchange) do the same IEEE
      operations in the same order as their twins, and the shim compiles without FMA
      contraction, so they must agree bit for bit.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from kernels import cuda_shim as S
from kernels import exchange as kex
from kernels import spectral as ksp
from kernels.backend import Backend, get_backend
from kernels.explicit import CUDA_SOURCE, ExplicitGeometry

pytestmark = pytest.mark.skipif(S.compiler() is None,
                                reason="no C++ compiler (g++): the CUDA shim cannot build kernels")

ROOT = Path(__file__).resolve().parents[2]
NUMPY = get_backend("numpy")


@pytest.fixture
def shim(monkeypatch):
    """A 'cupy' backend whose kernels run on the CPU shim; GPU kernel caches isolated."""
    for name, mod in S.numpy_cupyx().items():
        monkeypatch.setitem(__import__("sys").modules, name, mod)
    monkeypatch.setattr(ksp, "_ELEMENTWISE", {})
    monkeypatch.setattr(kex, "_GPU", {})
    return Backend("cupy", S.numpy_cupy(), "CPU shim")


def test_every_kernel_the_project_launches_is_covered_here():
    # A new kernel must be added to this file (and ReductionKernel to the shim).
    found = {}
    for folder in ("abm", "kernels", "viz", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "cuda_shim.py":
                continue
            for kind in re.findall(r"\.(RawModule|RawKernel|ElementwiseKernel|ReductionKernel)\(",
                                   path.read_text()):
                key = (path.relative_to(ROOT).as_posix(), kind)
                found[key] = found.get(key, 0) + 1
    # kernels/cell_motion.py is tested in tests/kernels/test_cell_motion_kernels.py
    assert found == {("kernels/explicit.py", "RawModule"): 1,
                     ("kernels/cell_motion.py", "RawModule"): 1,
                     ("kernels/spectral.py", "ElementwiseKernel"): 2,
                     ("kernels/exchange.py", "ElementwiseKernel"): 1}


# ------------------------------------------------------------------ explicit_substep
SHAPES = [(1, 1, 1), (1, 1, 9), (1, 7, 1), (6, 1, 1), (3, 5, 17), (4, 8, 8), (5, 6, 9), (9, 11, 13)]
MASKS = [0, 63, 0b100101, 0b011010]


def _labels(shape, rng):
    lab = rng.integers(0, 3, size=shape).astype(np.uint8)
    lab[0, :, :] = 1  # impermeable on the x- face and on the y+ face
    lab[:, -1, :] = 1
    lab[..., shape[2] // 2] = np.where(rng.random(lab[..., 0].shape) < 0.5, 1, 2)
    return lab


def _case(shape, dtype, hetero, mask, seed, backend):
    rng = np.random.default_rng(seed)
    kw = {}
    if hetero:
        kw = dict(labels=_labels(shape, rng), diffusion_scale=[1.0, 0.0, 1.7],
                  decay_scale=[1.0, 0.5, 3.0])
    geo = ExplicitGeometry(backend, shape, dtype, **kw)
    u = rng.uniform(0, 2, size=shape).astype(dtype)
    src = rng.uniform(0, 5, size=shape).astype(dtype)
    faces = [float(v) for v in rng.uniform(0, 3, size=6)]
    rate = geo.max_rate(1.0, 0.02, 1.0, mask)
    h = 0.9 / rate
    return geo, u, src, dict(r=h, kdt=0.02 * h, h=h, fixed_mask=mask, face_values=faces)


def _bound(u, src, p, dtype):
    eps = np.finfo(dtype).eps
    s = np.abs(u).max() + 12 * p["r"] * max(np.abs(u).max(), max(p["face_values"])) \
        + p["h"] * np.abs(src).max()
    return 16 * eps * s


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hetero", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_explicit_substep_kernel_matches_numpy_twin(shim, dtype, hetero, shape):
    for k, mask in enumerate(MASKS):
        for with_src in (True, False):
            seed = hash((shape, k)) % 2**32
            g_np, u, src, p = _case(shape, dtype, hetero, mask, seed, NUMPY)
            g_sh, *_ = _case(shape, dtype, hetero, mask, seed, shim)
            s = src if with_src else None
            ref = np.empty_like(u)
            got = np.full_like(u, np.nan)
            g_np.substep(u, ref, s, **p)
            g_sh.substep(u, got, s, **p)
            assert isinstance(g_sh._kernel, S.RawKernel)  # the GPU branch ran, on the shim
            assert got.dtype == dtype
            np.testing.assert_allclose(got, ref, rtol=0, atol=_bound(u, src, p, dtype),
                                       err_msg=f"mask={mask} src={with_src}")
            assert not np.array_equal(got, u)  # the step did something


def test_explicit_comparison_fails_on_a_wrong_argument(shim):
    # The tolerance is tight enough to see one fixed face dropped.
    g_np, u, src, p = _case((5, 6, 9), np.float64, True, 63, 3, NUMPY)
    g_sh, *_ = _case((5, 6, 9), np.float64, True, 63, 3, shim)
    ref, got = np.empty_like(u), np.empty_like(u)
    g_np.substep(u, ref, src, **p)
    g_sh.substep(u, got, src, **{**p, "fixed_mask": 62})
    assert np.abs(got - ref).max() > 1e3 * _bound(u, src, p, np.float64)


def test_explicit_kernel_grid_stride_loop_and_physics():
    # Fewer threads than voxels (the grid-stride loop), 270 voxels not a multiple of the block.
    shape = (5, 6, 9)
    rng = np.random.default_rng(11)
    lab = _labels(shape, rng)
    dtab, ktab = np.array([1.0, 0.0, 1.7]), np.array([1.0, 0.5, 3.0])
    u = rng.uniform(0, 2, size=shape)
    k = S.RawModule(code=CUDA_SOURCE, options=("-DREAL=double", "-DHETERO")).get_function(
        "explicit_substep")
    outs = []
    for grid, block in (((2,), (32,)), ((1,), (1,)), ((3,), (256,))):
        out = np.full_like(u, np.nan)
        k(grid, block, (u, out, np.zeros(1), lab, dtab, ktab, np.int32(5), np.int32(6), np.int32(9),
                        np.float64(0.05), np.float64(0.0), np.float64(0.1), np.int32(0),
                        *[np.float64(0)] * 6, np.int32(0)))
        outs.append(out)
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])
    out = outs[0]
    # no-flux faces, no decay, no source: mass is conserved and impermeable voxels keep their value
    assert abs(out.sum() - u.sum()) <= 1e-13 * u.sum()
    assert np.array_equal(out[lab == 1], u[lab == 1])
    assert not np.array_equal(out[lab != 1], u[lab != 1])


def test_shim_checks_argument_types():
    k = S.RawModule(code=CUDA_SOURCE, options=("-DREAL=double",)).get_function("explicit_substep")
    u = np.zeros((2, 2, 2), np.float32)  # float32 field handed to the double kernel
    args = [u, u.copy(), np.zeros(1), np.zeros(1, np.uint8), np.zeros(1), np.zeros(1),
            np.int32(2), np.int32(2), np.int32(2), np.float64(0.1), np.float64(0), np.float64(0.1),
            np.int32(0), *[np.float64(0)] * 6, np.int32(0)]
    with pytest.raises(TypeError, match="float32 passed to a pointer to f8"):
        k((1,), (8,), tuple(args))
    args[0], args[1] = u.astype(np.float64), u.astype(np.float64)
    args[9] = 0.1  # a Python float where CUDA expects a double: refused, pass np.float64
    with pytest.raises(TypeError, match="argument 9"):
        k((1,), (8,), tuple(args))


# ------------------------------------------------------------------------- spectral
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 3, 5), (4, 5, 6), (7, 2, 9)])
def test_spectral_update_kernels_match_numpy_twin_exactly(shim, dtype, shape):
    rng = np.random.default_rng(5)
    u = rng.uniform(0, 2, size=shape).astype(dtype)
    src = rng.uniform(0, 1, size=shape).astype(dtype)
    for s in (src, None):
        args = (shape, 20.0, 1800.0, 0.02, ("noflux",) * 3, dtype)
        ref = ksp.SpectralPropagator(NUMPY, *args).step(u, s, 1.5)
        got = ksp.SpectralPropagator(shim, *args).step(u, s, 1.5)
        assert isinstance(ksp._ELEMENTWISE["src"], S.ElementwiseKernel)
        assert got.dtype == ref.dtype == dtype
        np.testing.assert_array_equal(got, ref)
        assert not np.array_equal(got, u)


# ------------------------------------------------------------------------- exchange
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_agents", [1, 7, 1000])
def test_implicit_exchange_kernel_matches_numpy_twin_exactly(shim, dtype, n_agents):
    rng = np.random.default_rng(n_agents)
    n_vox = 4 * 5 * 6
    flat = rng.integers(0, n_vox, size=n_agents)  # repeats: several agents per voxel
    terms = dict(secretion_rate=rng.uniform(0, 1, n_agents), target=rng.uniform(0, 3, n_agents),
                 uptake_rate=rng.uniform(0, 0.5, n_agents), release=1.0)
    u0 = rng.uniform(0, 2, size=n_vox).astype(dtype)
    out = []
    for backend in (NUMPY, shim):
        ex = kex.PointExchange(backend, flat, dtype=dtype, **terms)
        u = u0.copy()
        kex.apply_implicit_exchange(u, ex, 2.5)
        out.append((ex, u))
    (e1, ref), (e2, got) = out
    assert isinstance(kex._GPU["k"], S.ElementwiseKernel)
    for a in ("voxels", "st", "su", "q"):
        np.testing.assert_array_equal(getattr(e2, a), getattr(e1, a))
    np.testing.assert_array_equal(got, ref)
    touched = np.zeros(n_vox, bool)
    touched[flat] = True
    assert np.array_equal(got[~touched], u0[~touched]) and not np.array_equal(got, u0)


# ---------------------------------------------------------- whole layers on the shim
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hetero, scheme", [(False, "spectral"), (False, "explicit"), (True, "explicit")])
def test_field_solver_gpu_branches_on_the_shim_track_numpy(shim, dtype, hetero, scheme):
    from test_gpu import _build  # the GPU test's own scenario: sources, depots, fixed faces

    a = _build("numpy", dtype, hetero, scheme)
    b = _build(shim, dtype, hetero, scheme)
    for _ in range(10):
        a.step(1.0)
        b.step(1.0)
    tol = 1e-12 if dtype == np.float64 else 1e-5  # explicit: reordered sums, rounding accumulates
    for s in a.species:
        x, y = a.field_numpy(s.name), b.field_numpy(s.name)
        assert np.linalg.norm(x - y) <= tol * np.linalg.norm(x), s.name
        if scheme == "spectral":
            np.testing.assert_array_equal(x, y, err_msg=s.name)


def test_cell_layer_gpu_branches_on_the_shim_match_numpy(shim, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "cells"))
    from test_cell_life import _run  # the cell layer's own life-cycle scenario

    a = _run(7, steps=15, backend="numpy")
    b = _run(7, steps=15, backend=shim)
    assert a.keys() == b.keys()
    for k in a:
        if a[k].dtype.kind in "iub":
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        else:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-12, atol=1e-15, err_msg=k)


def test_missing_compiler_is_one_clear_message(monkeypatch):
    monkeypatch.setenv("CXX", "no-such-compiler-abm")
    assert S.compiler() is None
    with pytest.raises(S.ShimUnsupported, match="install g\\+\\+"):
        S.RawModule(code='extern "C" __global__ void g(float* a) { a[0] = 1; }')


# --------------------------------------------------------------------- the shim itself
def test_atomics_are_read_modify_write_and_grid_indices_cover_the_launch():
    code = r"""
extern "C" __global__ void hist(const int* __restrict__ v, unsigned long long* bins,
                                int* seen, const long long n) {
    const long long i = (long long)blockIdx.y * gridDim.x * blockDim.x * blockDim.y
        + ((long long)blockIdx.x * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    if (i < n) { atomicAdd(&bins[v[i]], 1ULL); atomicAdd(&seen[i], 1); }
}
"""
    v = np.random.default_rng(2).integers(0, 10, size=997).astype(np.int32)
    bins = np.zeros(10, np.uint64)
    seen = np.zeros(997, np.int32)
    S.RawModule(code=code).get_function("hist")((4, 3), (16, 6), (v, bins, seen, np.int64(997)))
    assert np.array_equal(bins, np.bincount(v, minlength=10))
    assert np.array_equal(seen, np.ones(997, np.int32))  # every element by exactly one thread


def test_elementwise_index_raw_broadcast_and_allocated_output():
    rev = S.ElementwiseKernel("raw T x, T w, float64 c", "T y",
                              "y = x[_ind.size() - 1 - i] * w + c", "rev")
    x = np.arange(12.0).reshape(3, 4)
    w = np.array([1.0, 2.0, 3.0, 4.0])  # broadcast against the (3, 4) output
    y = np.empty((3, 4))
    rev(x, w, 0.5, y)
    assert np.array_equal(y, x.ravel()[::-1].reshape(3, 4) * w + 0.5)
    assert np.array_equal(S.ElementwiseKernel("T a", "T b", "b = a * i", "k")(np.ones(5)),
                          np.arange(5.0))


def test_shim_refuses_what_it_cannot_emulate():
    with pytest.raises(S.ShimUnsupported, match="__syncthreads"):
        S.RawModule(code='extern "C" __global__ void f(float* a) { __syncthreads(); }')
    with pytest.raises(S.ShimUnsupported, match="--use_fast_math"):
        S.RawModule(code=CUDA_SOURCE, options=("--use_fast_math",))
    with pytest.raises(RuntimeError, match="could not compile"):
        S.RawModule(code='extern "C" __global__ void f(float* a) { a[0] = undefined_name; }')
