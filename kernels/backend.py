"""Array-backend selection: CuPy on a GPU, NumPy on the CPU.

Every array expression in the project is written once against a module ``xp``
that is either :mod:`numpy` or :mod:`cupy`. This module picks it, once, from
(in order of precedence) an explicit ``backend`` argument, the environment
variable ``ABM_BACKEND`` (``numpy`` or ``cupy``), or auto-detection (CuPy when
it imports and sees a CUDA device, NumPy otherwise).

Asking for ``cupy`` where CuPy or a GPU is missing raises
:class:`BackendUnavailableError`; it never falls back silently, because a user
who asked for the GPU and got the CPU would wait hours without knowing why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

__all__ = [
    "Backend",
    "BackendUnavailableError",
    "get_backend",
    "cupy_available",
    "to_numpy",
]

_VALID = ("numpy", "cupy")


class BackendUnavailableError(RuntimeError):
    """The requested array backend cannot be used on this machine."""


@dataclass(frozen=True)
class Backend:
    """The active array backend.

    Attributes
    ----------
    name : str
        ``"numpy"`` or ``"cupy"``.
    xp : module
        The array module (:mod:`numpy` or :mod:`cupy`).
    device : str
        A human-readable description of where arrays live.
    """

    name: str
    xp: ModuleType
    device: str

    @property
    def is_gpu(self) -> bool:
        """True when arrays live on a CUDA device."""
        return self.name == "cupy"

    def asarray(self, a: Any, dtype: Any = None):
        """Copy or move ``a`` onto this backend (no copy when already there)."""
        return self.xp.asarray(a, dtype=dtype)

    def synchronize(self) -> None:
        """Wait for queued device work (no-op on NumPy); use before timing."""
        if self.is_gpu:
            self.xp.cuda.Device().synchronize()


def _cupy_probe() -> tuple[ModuleType | None, str]:
    """Import CuPy and count devices; return (module or None, reason)."""
    try:
        import cupy  # noqa: PLC0415
    except Exception as exc:  # ImportError, or a broken CUDA install
        return None, f"CuPy does not import ({type(exc).__name__}: {exc})"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return None, f"CuPy imports but finds no CUDA device ({exc})"
    if n < 1:
        return None, "CuPy imports but finds no CUDA device"
    return cupy, "ok"


def cupy_available() -> tuple[bool, str]:
    """Whether CuPy and a CUDA GPU can be used, and if not, why not."""
    mod, reason = _cupy_probe()
    return mod is not None, reason


def get_backend(backend: str | Backend | None = None) -> Backend:
    """Choose the array backend.

    Parameters
    ----------
    backend : {"numpy", "cupy"}, Backend or None
        Explicit choice. ``None`` reads ``ABM_BACKEND`` and, if that is unset,
        uses CuPy when a GPU is present and NumPy otherwise.

    Returns
    -------
    Backend

    Raises
    ------
    BackendUnavailableError
        ``cupy`` was requested but CuPy or a CUDA GPU is missing, or the name
        is not one of ``numpy``/``cupy``.
    """
    if isinstance(backend, Backend):
        return backend
    source = "the backend argument"
    if backend is None:
        env = os.environ.get("ABM_BACKEND", "").strip()
        if env:
            backend, source = env, "ABM_BACKEND"
    if backend is not None:
        name = str(backend).strip().lower()
        if name not in _VALID:
            raise BackendUnavailableError(
                f"unknown array backend {backend!r} (from {source}); use 'numpy' or 'cupy'"
            )
        if name == "numpy":
            return _numpy_backend()
        mod, reason = _cupy_probe()
        if mod is None:
            raise BackendUnavailableError(
                f"backend 'cupy' was requested (from {source}) but cannot be used: {reason}. "
                "Install the GPU extra (pip install 'bmsc-abm[gpu]') on a machine with an "
                "NVIDIA GPU, or ask for ABM_BACKEND=numpy."
            )
        return _cupy_backend(mod)
    mod, _ = _cupy_probe()
    return _cupy_backend(mod) if mod is not None else _numpy_backend()


def _numpy_backend() -> Backend:
    import numpy  # noqa: PLC0415

    return Backend("numpy", numpy, f"CPU ({os.cpu_count()} cores)")


def _cupy_backend(cupy: ModuleType) -> Backend:
    dev = cupy.cuda.Device()
    try:
        name = cupy.cuda.runtime.getDeviceProperties(dev.id)["name"].decode()
    except Exception:  # pragma: no cover - cosmetic only
        name = "CUDA device"
    return Backend("cupy", cupy, f"GPU {dev.id}: {name}")


def to_numpy(a: Any):
    """Return ``a`` as a NumPy array (copies from the GPU when needed)."""
    import numpy  # noqa: PLC0415

    get = getattr(a, "get", None)
    if callable(get) and type(a).__module__.startswith("cupy"):
        return get()
    return numpy.asarray(a)
