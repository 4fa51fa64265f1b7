"""SLURM and PBS through dask-jobqueue: the job script a worker would be submitted with.

There is no batch system here, so the generated script is what is checked: each resource
of the trial file's ``cluster:`` must become the directive a SLURM or PBS user would write.
"""

import sys
from pathlib import Path

import pytest

from abm.cli import main
from abm.trial.clusters import job_script
from abm.trial.load import load_trial

sys.path.insert(0, str(Path(__file__).parent))

from trial_helpers import write_trial  # noqa: E402

pytest.importorskip("dask_jobqueue")

CLUSTER = """\
cluster: {cores: 4, memory: 16 GiB, walltime: 2 h, queue: gpu, account: stroke-lab, gpus: 1,
          jobs: 6, job_extra: ["--constraint=a100"], prologue: ["module load cuda/12.4"]}
"""


def test_the_slurm_job_script_asks_for_the_trial_files_resources(tmp_path):
    res = load_trial(write_trial(tmp_path, extra=CLUSTER)).resources
    script = job_script("slurm", res)
    lines = script.splitlines()
    for directive in ("#SBATCH -p gpu", "#SBATCH -A stroke-lab", "#SBATCH -t 02:00:00",
                      "#SBATCH --cpus-per-task=4", "#SBATCH --mem=16G", "#SBATCH --gres=gpu:1",
                      "#SBATCH --constraint=a100"):
        assert directive in lines, (directive, script)
    assert "module load cuda/12.4" in lines
    worker = next(li for li in lines if "distributed.cli.dask_worker" in li)
    assert "--nthreads 4" in worker and "--memory-limit 16.00GiB" in worker
    assert worker.startswith(sys.executable)          # the worker runs this environment's Python


def test_the_pbs_job_script_asks_for_the_trial_files_resources(tmp_path):
    res = load_trial(write_trial(tmp_path, extra=CLUSTER)).resources
    lines = job_script("pbs", res).splitlines()
    for directive in ("#PBS -q gpu", "#PBS -A stroke-lab", "#PBS -l walltime=02:00:00",
                      "#PBS -l select=1:ncpus=4:mem=16gb:ngpus=1", "#PBS --constraint=a100"):
        assert directive in lines, (directive, lines)


def test_abm_trial_prints_the_job_script(tmp_path, capsys):
    path = write_trial(tmp_path, extra=CLUSTER)
    assert main(["trial", str(path), "--slurm", "--job-script"]) == 0
    assert "#SBATCH --gres=gpu:1" in capsys.readouterr().out
