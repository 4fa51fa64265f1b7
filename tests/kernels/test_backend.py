"""Backend selection: explicit choice, ABM_BACKEND, and refusing a GPU that is not there."""

from __future__ import annotations

import numpy as np
import pytest

from kernels.backend import BackendUnavailableError, cupy_available, get_backend


def test_numpy_forced_by_argument_and_environment(monkeypatch):
    assert get_backend("numpy").xp is np
    monkeypatch.setenv("ABM_BACKEND", "numpy")
    assert get_backend().name == "numpy"


def test_unknown_backend_name_is_an_error(monkeypatch):
    monkeypatch.setenv("ABM_BACKEND", "tpu")
    with pytest.raises(BackendUnavailableError, match="unknown array backend 'tpu' .*ABM_BACKEND"):
        get_backend()


@pytest.mark.skipif(cupy_available()[0], reason="a GPU is present: the refusal cannot be shown")
def test_cupy_without_gpu_is_a_clear_error_not_a_fallback(monkeypatch):
    monkeypatch.setenv("ABM_BACKEND", "cupy")
    with pytest.raises(BackendUnavailableError, match="backend 'cupy' was requested .* ABM_BACKEND=numpy"):
        get_backend()
    with pytest.raises(BackendUnavailableError, match="from the backend argument"):
        get_backend("cupy")


def test_auto_detection_matches_availability(monkeypatch):
    monkeypatch.delenv("ABM_BACKEND", raising=False)
    assert get_backend().name == ("cupy" if cupy_available()[0] else "numpy")
