"""Which local cluster a trial opens: one worker per GPU with dask-cuda where both exist.

No GPU is lent to CI, so the GPU count and dask-cuda are stood in for here; what is tested is
the choice and its arguments (one worker per GPU, ``--workers`` respected, a fall-back to one
process per core without dask-cuda). That a LocalCUDACluster's workers each see their own GPU
is dask-cuda's own behaviour and needs a GPU node to check (benchmarks/gpu_check.py, issue 17).
"""

import sys
import types

import pytest

pytest.importorskip("distributed")

from distributed import LocalCluster  # noqa: E402

from abm.trial import clusters  # noqa: E402


@pytest.fixture
def fake_dask_cuda(monkeypatch):
    calls = []

    def local_cuda_cluster(**kwargs):
        calls.append(kwargs)
        # a real (tiny, in-process) cluster, so the client really connects to something
        return LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                            dashboard_address=None)

    mod = types.ModuleType("dask_cuda")
    mod.LocalCUDACluster = local_cuda_cluster
    monkeypatch.setitem(sys.modules, "dask_cuda", mod)
    return calls


@pytest.mark.parametrize("workers, expected", [(None, 2), (1, 1)])
def test_with_gpus_and_dask_cuda_a_trial_gets_one_worker_per_gpu(monkeypatch, fake_dask_cuda,
                                                                 workers, expected):
    monkeypatch.setattr(clusters, "_gpu_count", lambda: 2)
    client, close = clusters.open_client("local", workers=workers, dashboard=None)
    try:
        assert client.submit(lambda x: x + 1, 41).result(timeout=30) == 42
    finally:
        close()
    assert len(fake_dask_cuda) == 1
    assert fake_dask_cuda[0]["n_workers"] == expected
    assert fake_dask_cuda[0]["threads_per_worker"] == 1


def test_without_dask_cuda_a_gpu_node_falls_back_to_one_process_per_core(monkeypatch):
    monkeypatch.setattr(clusters, "_gpu_count", lambda: 2)
    monkeypatch.setitem(sys.modules, "dask_cuda", None)        # import fails
    monkeypatch.setattr(clusters, "_cores", lambda: 1)
    client, close = clusters.open_client("local", dashboard=None)
    try:
        info = client.scheduler_info()
        assert len(info["workers"]) == 1
        assert client.submit(lambda: 7).result(timeout=30) == 7
    finally:
        close()


def test_without_a_gpu_dask_cuda_is_not_asked(monkeypatch, fake_dask_cuda):
    monkeypatch.setattr(clusters, "_gpu_count", lambda: 0)
    monkeypatch.setattr(clusters, "_cores", lambda: 1)
    client, close = clusters.open_client("local", dashboard=None)
    close()
    assert fake_dask_cuda == []
