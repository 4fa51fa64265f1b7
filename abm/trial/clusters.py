"""Where a trial's animals run: Dask clusters from a laptop to a batch system.

* ``local`` (default): a :class:`distributed.LocalCluster` with one single-threaded
  worker process per core (``--workers N`` to choose), or, where dask-cuda is installed
  and a GPU is present, a ``LocalCUDACluster`` with one worker per GPU.
* ``scheduler``: an existing Dask cluster, by its scheduler address
  (``--scheduler tcp://host:8786``).
* ``slurm`` / ``pbs``: dask-jobqueue's ``SLURMCluster`` / ``PBSCluster``; each batch job
  is one worker with the trial file's ``cluster:`` resources (cores, memory, walltime,
  queue, account, GPUs, extra directives, prologue lines), and ``--workers`` (else
  ``cluster.jobs``) jobs are submitted. ``abm trial T.yaml --slurm --job-script`` prints
  the job script without submitting anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ModelInputError
from .spec import Resources

__all__ = ["open_client", "jobqueue_cluster", "job_script", "KINDS"]

KINDS = ("local", "scheduler", "slurm", "pbs")


def _missing(pkg: str, exc: ImportError) -> ModelInputError:
    return ModelInputError(f"abm trial needs {pkg}, which is not installed ({exc}); install it: "
                           f"python3 -m pip install '{pkg}'")


def jobqueue_cluster(kind: str, res: Resources, log_dir=None):
    """A dask-jobqueue cluster (no job submitted yet) for ``kind`` ``slurm`` or ``pbs``."""
    try:
        import dask_jobqueue  # noqa: PLC0415
    except ImportError as exc:
        raise _missing("dask-jobqueue", exc) from None
    kw = dict(cores=res.cores, processes=1, memory=res.memory, walltime=res.walltime,
              queue=res.queue, account=res.account, job_script_prologue=list(res.prologue),
              log_directory=str(log_dir) if log_dir else None)
    extra = list(res.job_extra)
    if kind == "slurm":
        if res.gpus:
            extra.insert(0, f"--gres=gpu:{res.gpus}")
        return dask_jobqueue.SLURMCluster(job_extra_directives=extra, **kw)
    if kind == "pbs":
        gib = res.memory.removesuffix("GiB")
        spec = f"select=1:ncpus={res.cores}:mem={gib}gb" + (f":ngpus={res.gpus}" if res.gpus else "")
        return dask_jobqueue.PBSCluster(resource_spec=spec, job_extra_directives=extra, **kw)
    raise ValueError(f"not a batch system: {kind!r}")


def job_script(kind: str, res: Resources) -> str:
    """The batch script one worker job would be submitted with (nothing is submitted)."""
    cluster = jobqueue_cluster(kind, res)
    try:
        return cluster.job_script()
    finally:
        cluster.close()


def _cores() -> int:
    """Cores this process may use (its CPU affinity: a batch job's share, not the node's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _gpu_count() -> int:
    try:
        from kernels.backend import cupy_available  # noqa: PLC0415

        ok, _ = cupy_available()
        if not ok:
            return 0
        import cupy  # noqa: PLC0415

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # noqa: BLE001 - no usable GPU
        return 0


def open_client(kind: str = "local", *, workers: int | None = None, address: str | None = None,
                resources: Resources = Resources(), log_dir=None, dashboard: str = ":8787"):
    """Start (or connect to) a cluster; returns ``(client, close)``.

    ``close()`` shuts down what this call started (an existing ``scheduler`` is left
    running). ``workers`` is the number of local worker processes, or of batch jobs.
    """
    try:
        from distributed import Client, LocalCluster  # noqa: PLC0415
    except ImportError as exc:
        raise _missing("dask[distributed]", exc) from None
    if workers is not None and workers < 1:
        raise ModelInputError(f"--workers must be >= 1, got {workers}")
    if kind == "scheduler":
        try:
            client = Client(address, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise ModelInputError(f"cannot reach the Dask scheduler at {address} ({exc}); check the "
                                  "address (tcp://HOST:8786) and that the scheduler runs") from None
        return client, client.close
    if kind in ("slurm", "pbs"):
        if log_dir:
            Path(log_dir).mkdir(parents=True, exist_ok=True)
        cluster = jobqueue_cluster(kind, resources, log_dir)
        cluster.scale(jobs=workers or resources.jobs)
    else:
        gpus = _gpu_count()
        cluster = None
        if gpus:
            try:
                from dask_cuda import LocalCUDACluster  # noqa: PLC0415

                cluster = LocalCUDACluster(n_workers=workers or gpus, threads_per_worker=1,
                                           dashboard_address=dashboard)
            except ImportError:
                cluster = None
        if cluster is None:
            cluster = LocalCluster(n_workers=workers or _cores(), threads_per_worker=1,
                                   processes=True, dashboard_address=dashboard)
    client = Client(cluster)

    def close():
        client.close()
        cluster.close()
    return client, close
