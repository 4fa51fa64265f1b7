"""Array backend selection and the hot loops (diffusion, exchange), each with a NumPy twin.

This package imports neither :mod:`abm` nor :mod:`viz`.
"""

from .backend import Backend, BackendUnavailableError, cupy_available, get_backend, to_numpy

__all__ = ["Backend", "BackendUnavailableError", "cupy_available", "get_backend", "to_numpy"]
