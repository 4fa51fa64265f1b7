"""One Dask cluster shared by the trial tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def dask_client():
    """A real LocalCluster: two single-threaded worker processes with nannies."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
