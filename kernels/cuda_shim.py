"""Run the project's CUDA kernel sources on the CPU: the same text compiled as C++.

CuPy is never imported here. :class:`RawModule` and :class:`ElementwiseKernel`
take exactly the arguments the GPU code gives ``cupy.RawModule`` and
``cupy.ElementwiseKernel``, compile the very same source text with ``g++``
(after a prelude that defines ``__global__``, ``__device__``, ``dim3``,
``blockIdx``/``blockDim``/``threadIdx``/``gridDim``, the atomics and the
CUDA math functions), load the shared library with :mod:`ctypes` and run it
on NumPy arrays. :func:`numpy_cupy` returns a stand-in for the ``cupy``
module (NumPy plus these classes) so that the real GPU branches of the
kernels' callers run unchanged against the shim.

How a launch is emulated
    A RawModule kernel ``f(grid, block, args)`` runs every thread of every
    block one after the other (threads x fastest, then y, z; blocks likewise),
    each one a plain call of the kernel function with the launch indices set.
    An ElementwiseKernel runs its operation once per element ``i`` of the
    broadcast shape of its non-raw arrays, the way CuPy generates its loop:
    ``i`` and ``_ind.size()``/``_ind.get()`` are defined, non-raw inputs are
    ``const`` copies of element ``i``, non-raw outputs are references to it,
    scalars are values, ``raw`` arrays are indexed flat in C order.

What it checks that a GPU run would not report
    The type of every scalar argument and the element type of every pointer
    argument of a RawModule kernel, read from the compiled function's own
    signature: a ``float32`` array or ``np.float32`` scalar handed to a
    ``double`` parameter is an error here, where CUDA would silently
    misread the bytes.

What it cannot check
    * Races and atomics: threads run one at a time, so ``atomicAdd`` and
      friends are plain read-modify-write; a kernel whose result depends on
      thread order, or that writes one element from two threads without an
      atomic, is *not* caught.
    * Warp-level behaviour and timing: warp divergence, ``__shfl*``/vote
      intrinsics, ``__syncthreads``, shared memory and its bank conflicts,
      occupancy, coalescing and speed. Sources that use those features are
      refused with :class:`ShimUnsupported`, naming the feature.
    * Launch limits: the grid and block sizes are not checked against a
      device's limits, and registers or shared memory per block are not counted.
    * Floating-point contraction: NVRTC fuses ``a*b + c`` into one FMA by
      default (``--fmad=true``); the shim compiles with ``-ffp-contract=off``
      so that it rounds each operation as NumPy does. A GPU result may
      therefore differ from the shim's by about one rounding per fused
      operation. CUDA's fast intrinsics (``__expf``…) are mapped to the exact
      ``<cmath>`` functions.
    * ReductionKernel: not emulated (the project has none; the tests fail if
      one appears without being added here).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import types

import numpy as np

__all__ = ["ShimUnsupported", "compiler", "RawModule", "RawKernel", "ElementwiseKernel",
           "numpy_cupy", "numpy_cupyx", "PRELUDE", "UNSUPPORTED_FEATURES"]


class ShimUnsupported(RuntimeError):
    """A kernel uses a CUDA feature the CPU shim cannot emulate, or no compiler is installed."""


#: CUDA features whose meaning depends on threads running together (refused).
UNSUPPORTED_FEATURES = ("__syncthreads", "__shared__", "__shfl", "__ballot", "__any_sync",
                        "__all_sync", "__activemask", "warpSize", "cooperative_groups",
                        "__syncwarp", "tex1D", "tex2D", "tex3D", "surf1D", "surf2D", "surf3D")

#: Compiler flags: each operation rounded as in NumPy (no FMA contraction, no fast math).
CXXFLAGS = ("-std=c++17", "-O2", "-shared", "-fPIC", "-ffp-contract=off", "-fno-fast-math")

PRELUDE = r"""
#include <cmath>
#include <cstdint>
#include <string>
#include <algorithm>
struct dim3 { unsigned int x, y, z; };
static dim3 blockIdx, blockDim, threadIdx, gridDim;
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
using std::min; using std::max;
using std::sqrt; using std::exp; using std::log; using std::pow; using std::fabs;
using std::floor; using std::ceil; using std::sin; using std::cos; using std::tanh;
using std::expm1; using std::log1p; using std::fma; using std::fmin; using std::fmax;
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __powf(float a, float b) { return std::pow(a, b); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
// Atomics: threads run one at a time, so a plain read-modify-write is exact.
// Races between threads are NOT checked.
template <class T> inline T atomicAdd(T* a, T v) { T o = *a; *a = o + v; return o; }
template <class T> inline T atomicSub(T* a, T v) { T o = *a; *a = o - v; return o; }
template <class T> inline T atomicMax(T* a, T v) { T o = *a; *a = o < v ? v : o; return o; }
template <class T> inline T atomicMin(T* a, T v) { T o = *a; *a = v < o ? v : o; return o; }
template <class T> inline T atomicExch(T* a, T v) { T o = *a; *a = v; return o; }
template <class T> inline T atomicCAS(T* a, T c, T v) { T o = *a; if (o == c) *a = v; return o; }
inline void __threadfence() {}
template <class T> struct ShimCode { static const char* get() { return "?"; } };
#define SHIM_CODE(T, c) template <> struct ShimCode<T> { static const char* get() { return c; } };
SHIM_CODE(bool, "b1") SHIM_CODE(signed char, "i1") SHIM_CODE(char, "i1")
SHIM_CODE(unsigned char, "u1") SHIM_CODE(short, "i2") SHIM_CODE(unsigned short, "u2")
SHIM_CODE(int, "i4") SHIM_CODE(unsigned int, "u4") SHIM_CODE(long, "i8")
SHIM_CODE(unsigned long, "u8") SHIM_CODE(long long, "i8") SHIM_CODE(unsigned long long, "u8")
SHIM_CODE(float, "f4") SHIM_CODE(double, "f8")
template <class T> struct ShimCode<T*> {
  static const char* get() { static std::string s = std::string("p") + ShimCode<T>::get(); return s.c_str(); } };
template <class T> struct ShimCode<const T*> {
  static const char* get() { return ShimCode<T*>::get(); } };
template <class... A> std::string shim_signature(void (*)(A...)) {
  std::string s; ((s += ShimCode<A>::get(), s += ","), ...); return s; }
"""

_KERNEL_RE = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)', re.S)
_CTYPE = {"b1": ctypes.c_bool, "i1": ctypes.c_int8, "u1": ctypes.c_uint8, "i2": ctypes.c_int16,
          "u2": ctypes.c_uint16, "i4": ctypes.c_int32, "u4": ctypes.c_uint32, "i8": ctypes.c_int64,
          "u8": ctypes.c_uint64, "f4": ctypes.c_float, "f8": ctypes.c_double}
_EW_TYPES = {"bool": "bool", "int8": "signed char", "uint8": "unsigned char", "int16": "short",
             "uint16": "unsigned short", "int32": "int", "uint32": "unsigned int",
             "int64": "long long", "uint64": "unsigned long long", "float32": "float",
             "float64": "double"}


def compiler() -> str | None:
    """Path of the C++ compiler the shim uses (``$CXX`` or ``g++``), or None if absent."""
    return shutil.which(os.environ.get("CXX", "g++"))


def _refuse_unsupported(code: str, what: str) -> None:
    for feat in UNSUPPORTED_FEATURES:
        if feat in code:
            raise ShimUnsupported(f"{what} uses {feat}, which the CPU shim cannot emulate "
                                  "(threads run one at a time); test it on a GPU")


def _build(source: str, flags=()) -> ctypes.CDLL:
    """Compile ``source`` into a cached shared library and load it."""
    cxx = compiler()
    if cxx is None:
        raise ShimUnsupported("no C++ compiler: install g++ (or set CXX) to run the CUDA shim")
    flags = tuple(flags)
    key = hashlib.sha256("\0".join((cxx, *CXXFLAGS, *flags, source)).encode()).hexdigest()[:24]
    cache = os.path.join(tempfile.gettempdir(), f"abm-cuda-shim-{os.getuid()}")
    os.makedirs(cache, exist_ok=True)
    lib = os.path.join(cache, f"{key}.so")
    if not os.path.exists(lib):
        src = os.path.join(cache, f"{key}.{os.getpid()}.cpp")
        tmp = os.path.join(cache, f"{key}.{os.getpid()}.so")
        with open(src, "w") as fh:
            fh.write(source)
        res = subprocess.run([cxx, *CXXFLAGS, *flags, src, "-o", tmp],
                             capture_output=True, text=True)
        os.unlink(src)
        if res.returncode != 0:
            raise RuntimeError(f"the CUDA shim could not compile the kernel:\n{res.stderr}")
        os.replace(tmp, lib)
    return ctypes.CDLL(lib)


def _dims(d) -> tuple[int, int, int]:
    d = tuple(int(v) for v in (d if isinstance(d, (tuple, list)) else (d,)))
    return (d + (1, 1, 1))[:3]


class RawKernel:
    """One ``extern "C" __global__`` function of a :class:`RawModule`; call as CuPy's."""

    def __init__(self, lib: ctypes.CDLL, name: str):
        self.name = name
        self._launch = getattr(lib, f"shim_launch_{name}")
        sig = getattr(lib, f"shim_sig_{name}")
        sig.restype = ctypes.c_char_p
        self.signature = tuple(sig().decode().rstrip(",").split(",")) if sig().decode() else ()
        if "?" in "".join(self.signature):
            raise ShimUnsupported(f"kernel {name} has a parameter type the shim cannot pass "
                                  f"({self.signature})")

    def __call__(self, grid, block, args, shared_mem: int = 0) -> None:
        """Run every thread of the launch ``grid`` × ``block`` on ``args`` (NumPy arrays, scalars)."""
        if shared_mem:
            raise ShimUnsupported("dynamic shared memory cannot be emulated by the CPU shim")
        if len(args) != len(self.signature):
            raise TypeError(f"{self.name} takes {len(self.signature)} arguments, got {len(args)}")
        cargs = []
        for k, (a, code) in enumerate(zip(args, self.signature)):
            if code.startswith("p"):
                if not isinstance(a, np.ndarray) or not a.flags.c_contiguous:
                    raise TypeError(f"{self.name} argument {k}: expected a C-contiguous array")
                if a.dtype.str[1:] != code[1:] and not (code[1:] == "b1" and a.dtype == bool):
                    raise TypeError(f"{self.name} argument {k}: array of {a.dtype} passed to a "
                                    f"pointer to {code[1:]}")
                cargs.append(ctypes.c_void_p(a.ctypes.data))
            else:
                if not isinstance(a, np.generic) or a.dtype.str[1:] != code:
                    raise TypeError(f"{self.name} argument {k}: {type(a).__name__} {a!r} passed "
                                    f"to a parameter of type {code}; pass a NumPy scalar of that type")
                cargs.append(_CTYPE[code](a.item()))
        self._launch(*[ctypes.c_uint(v) for v in _dims(grid) + _dims(block)], *cargs)


class RawModule:
    """CPU stand-in for ``cupy.RawModule(code=..., options=...)``.

    Parameters
    ----------
    code : str
        CUDA source; every ``extern "C" __global__ void`` function becomes launchable.
    options : tuple of str
        Compiler options; only ``-D`` macro definitions are meaningful on the CPU
        (others are refused).
    """

    def __init__(self, code: str, options=()):
        _refuse_unsupported(code, "this RawModule")
        flags = []
        for o in options:
            if not o.startswith("-D"):
                raise ShimUnsupported(f"compiler option {o!r} has no CPU meaning in the shim")
            flags.append(o)
        self.names = [m.group(1) for m in _KERNEL_RE.finditer(code)]
        wrappers = [_launcher(m.group(1), m.group(2)) for m in _KERNEL_RE.finditer(code)]
        self._lib = _build(PRELUDE + code + "\n".join(wrappers), flags)

    def get_function(self, name: str) -> RawKernel:
        """The launchable kernel ``name``."""
        if name not in self.names:
            raise AttributeError(f"no extern \"C\" __global__ function {name!r} in the module")
        return RawKernel(self._lib, name)


def _launcher(name: str, params: str) -> str:
    """C++ wrapper that runs kernel ``name`` for every thread of a launch."""
    decls = [p.strip() for p in params.split(",") if p.strip()]
    names = [re.findall(r"\w+", p)[-1] for p in decls]
    return f"""
extern "C" const char* shim_sig_{name}() {{
  static std::string s = shim_signature(&{name}); return s.c_str(); }}
extern "C" void shim_launch_{name}(unsigned gx, unsigned gy, unsigned gz,
                                   unsigned bx, unsigned by, unsigned bz{''.join(', ' + d for d in decls)}) {{
  gridDim = dim3{{gx, gy, gz}}; blockDim = dim3{{bx, by, bz}};
  for (unsigned kz = 0; kz < gz; ++kz) for (unsigned ky = 0; ky < gy; ++ky) for (unsigned kx = 0; kx < gx; ++kx)
  for (unsigned tz = 0; tz < bz; ++tz) for (unsigned ty = 0; ty < by; ++ty) for (unsigned tx = 0; tx < bx; ++tx) {{
    blockIdx = dim3{{kx, ky, kz}}; threadIdx = dim3{{tx, ty, tz}};
    {name}({', '.join(names)});
  }}
}}
"""


def _parse_params(spec: str):
    """``"T a, raw float64 b"`` -> [(raw, type, name)]."""
    out = []
    for p in (s.strip() for s in spec.split(",")):
        if not p:
            continue
        words = p.split()
        raw = words[0] == "raw"
        words = words[1:] if raw else words
        if len(words) != 2:
            raise ValueError(f"cannot parse ElementwiseKernel parameter {p!r}")
        out.append((raw, words[0], words[1]))
    return out


class ElementwiseKernel:
    """CPU stand-in for ``cupy.ElementwiseKernel`` (one C++ loop over the elements).

    Parameters
    ----------
    in_params, out_params, operation, name, preamble
        As in CuPy. Type placeholders (any type name that is not a NumPy
        dtype name) are bound from the arrays passed, then from scalars.
    """

    def __init__(self, in_params, out_params, operation, name="kernel", preamble="", **kw):
        if kw:
            raise ShimUnsupported(f"ElementwiseKernel options {sorted(kw)} are not emulated")
        _refuse_unsupported(preamble + operation, f"ElementwiseKernel {name}")
        self.inp = _parse_params(in_params)
        self.out = _parse_params(out_params)
        self.operation, self.name, self.preamble = operation, name, preamble
        self._libs = {}

    def __call__(self, *args):
        """Run the operation over the broadcast shape of the non-raw arrays; return the outputs."""
        params = self.inp + self.out
        if len(args) not in (len(self.inp), len(params)):
            raise TypeError(f"{self.name} takes {len(self.inp)} or {len(params)} arguments")
        args = list(args) + [None] * (len(params) - len(args))
        bind = {}
        for (raw, t, _), a in zip(params, args):
            if t not in _EW_TYPES and isinstance(a, np.ndarray):
                if bind.setdefault(t, a.dtype) != a.dtype:
                    raise TypeError(f"{self.name}: type {t} bound to {bind[t]} and {a.dtype}")
        for (raw, t, _), a in zip(params, args):
            if t not in _EW_TYPES and t not in bind and a is not None:
                bind[t] = np.asarray(a).dtype

        def dtype_of(t):
            if t in _EW_TYPES:
                return np.dtype(t)
            if t not in bind:
                raise TypeError(f"{self.name}: cannot tell the type {t} from the arguments")
            return bind[t]

        shape = np.broadcast_shapes(*[np.shape(a) for (raw, _, _), a in zip(params, args)
                                      if not raw and isinstance(a, np.ndarray)])
        bufs, sizes = [], []
        for k, ((raw, t, nm), a) in enumerate(zip(params, args)):
            dt = dtype_of(t)
            is_out = k >= len(self.inp)
            if is_out and a is None:
                if raw:
                    raise TypeError(f"{self.name}: raw output {nm} must be passed")
                a = np.empty(shape, dt)
            elif is_out or raw:
                if (not isinstance(a, np.ndarray) or a.dtype != dt or not a.flags.c_contiguous
                        or (not raw and a.shape != shape)):
                    raise TypeError(f"{self.name}: {nm} must be a C-contiguous {dt} array"
                                    + ("" if raw else f" of shape {shape}"))
            elif isinstance(a, np.ndarray):
                a = np.ascontiguousarray(np.broadcast_to(a.astype(dt, copy=False), shape))
            else:
                a = np.asarray(a, dtype=dt)
            bufs.append(a)
            sizes.append(a.size)
        key = tuple(str(dtype_of(t)) for _, t, _ in params) + tuple(
            a.ndim == 0 and not raw for (raw, _, _), a in zip(params, bufs))
        if key not in self._libs:
            self._libs[key] = _build(self._source(dtype_of, [b.ndim == 0 for b in bufs]))
        n = int(np.prod(shape))
        ptrs = (ctypes.c_void_p * len(bufs))(*[b.ctypes.data for b in bufs])
        lens = (ctypes.c_longlong * len(bufs))(*sizes)
        self._libs[key].shim_elementwise(ctypes.c_longlong(n), ptrs, lens)
        outs = bufs[len(self.inp):]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _source(self, dtype_of, scalar) -> str:
        rev = {np.dtype(k): v for k, v in _EW_TYPES.items()}
        tdefs = "".join(f"typedef {rev[dtype_of(t)]} {t};\n" for t in
                        dict.fromkeys(t for _, t, _ in self.inp + self.out if t not in _EW_TYPES))
        body = []
        for k, (raw, t, nm) in enumerate(self.inp + self.out):
            c = rev[dtype_of(t)]
            if raw:
                body.append(f"ShimRaw<{c}> {nm}{{({c}*)_p[{k}], _len[{k}]}};")
            elif k >= len(self.inp):
                body.append(f"{c}& {nm} = (({c}*)_p[{k}])[i];")
            elif scalar[k]:
                body.append(f"const {c} {nm} = *(const {c}*)_p[{k}];")
            else:
                body.append(f"const {c} {nm} = ((const {c}*)_p[{k}])[i];")
        lines = "\n      ".join(body)
        return f"""{PRELUDE}
{tdefs}
template <class V> struct ShimRaw {{ V* p; long long n;
  V& operator[](long long k) const {{ return p[k]; }} long long size() const {{ return n; }} }};
struct ShimInd {{ long long n, i; long long size() const {{ return n; }} long long get() const {{ return i; }} }};
{self.preamble}
extern "C" void shim_elementwise(long long _n, void** _p, const long long* _len) {{
  for (long long i = 0; i < _n; ++i) {{
      ShimInd _ind{{_n, i}}; (void)_ind;
      {lines}
      {self.operation};
  }}
}}
"""


class _NumpyCupy(types.ModuleType):
    """Module whose attributes are NumPy's unless the shim defines them."""

    def __getattr__(self, name):
        return getattr(np, name)


def numpy_cupy() -> types.ModuleType:
    """A stand-in for the ``cupy`` module: NumPy's functions plus the shim's kernel classes.

    ``Backend("cupy", numpy_cupy(), "CPU shim")`` makes the kernels' callers take their
    GPU branches, with arrays that are NumPy arrays.
    """
    mod = _NumpyCupy("cupy_cpu_shim")
    # CuPy sorts stably and accepts no other kind (cupy.sort / cupy.argsort docs)
    mod.sort = lambda a, axis=-1, kind=None: np.sort(a, axis=axis, kind="stable")
    mod.argsort = lambda a, axis=-1, kind=None: np.argsort(a, axis=axis, kind="stable")
    mod.RawModule = RawModule
    mod.ElementwiseKernel = ElementwiseKernel
    mod.cuda = types.SimpleNamespace(Device=lambda *a: types.SimpleNamespace(synchronize=lambda: None))
    return mod


def numpy_cupyx() -> dict[str, types.ModuleType]:
    """Stand-ins for ``cupyx`` (``scatter_add``) and ``cupyx.scipy.fft`` (SciPy's), by module name.

    Put them in :data:`sys.modules` (for instance with ``monkeypatch.setitem``) while
    a test runs the GPU branches on the shim.
    """
    import scipy.fft  # noqa: PLC0415

    cupyx = types.ModuleType("cupyx")
    cupyx.scatter_add = np.add.at
    sci = types.ModuleType("cupyx.scipy")
    sci.fft = scipy.fft
    cupyx.scipy = sci
    return {"cupyx": cupyx, "cupyx.scipy": sci, "cupyx.scipy.fft": scipy.fft}
