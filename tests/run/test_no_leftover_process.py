"""A finished ``abm run`` (or ``abm trial``) leaves no process of its own behind.

Each command runs as the only child of a small watcher process that has made itself a
*child subreaper* (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``): every descendant of the
command that outlives it is re-parented to the watcher instead of to PID 1, whatever init
the machine has (one that reaps at once would hide a late exit; one that reaps every few
seconds would show it). When the command has exited, the watcher lists its own children
(running or zombie) from ``/proc``, reports them, then ends and reaps them.

The leftover this guards against: the ``multiprocessing`` resource tracker, a helper
process that Python starts the first time a multiprocessing semaphore is made (tqdm's
default lock made one for every progress bar; Dask's nanny makes them for its worker
processes). Before Python 3.12.10 / 3.13.3 nothing waits for that helper, so it outlives
the command (python/cpython#88887).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "experiment"))

from tiny_experiment import write  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the watcher needs Linux (prctl and /proc)")

#: Runs argv as its only child, as a subreaper; prints {"rc": ..., "left": [...]} as JSON.
WATCHER = r"""
import ctypes, json, os, signal, subprocess, sys, time

PR_SET_CHILD_SUBREAPER = 36
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    print(json.dumps({"error": "prctl failed"})); sys.exit(0)
me = os.getpid()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = child.communicate(timeout=float(os.environ.get("WATCH_TIMEOUT", "180")))[1]


def children():
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                stat = fh.read()
            with open(f"/proc/{d}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == me:
            out.append({"pid": int(d), "state": fields[0], "name": name, "cmdline": cmd})
    return out


left = children()
for p in left:  # end what the command left, then reap it
    try:
        os.kill(p["pid"], signal.SIGKILL)
    except OSError:
        pass
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        if os.waitpid(-1, os.WNOHANG)[0] == 0:
            time.sleep(0.05)
    except ChildProcessError:
        break
print(json.dumps({"rc": child.returncode, "left": left, "stderr": err.decode()[-2000:]}))
"""

#: Two arms of two animals (the least a trial takes), one outcome at the end of the run.
TINY_TRIAL = """\
trial:
  name: tinytrial
  scenario: tiny.yaml
  seed: 7
  animals: 2
  arms:
    treated: {set: [arm=treated]}
    control: {set: [arm=control]}
  outcomes:
    - {readout: total SDF-1a}
"""


def _watch(argv, cwd) -> dict:
    res = subprocess.run([sys.executable, "-c", WATCHER, *argv], cwd=cwd, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert "error" not in report, report
    return report


def _assert_nothing_left(report) -> None:
    assert report["rc"] == 0, report["stderr"]
    left = [f"pid {p['pid']} {p['name']} (state {p['state']}): {p['cmdline'] or '<exited, not reaped>'}"
            for p in report["left"]]
    assert not left, "the finished command left processes behind:\n" + "\n".join(left)


def test_a_finished_abm_run_leaves_no_process(tmp_path):
    write(tmp_path, name="tiny.yaml")   # the shared tiny two-arm scenario
    report = _watch([sys.executable, "-m", "abm", "run", "tiny.yaml", "--out", "tiny.h5"],
                    tmp_path)
    _assert_nothing_left(report)
    assert (tmp_path / "tiny.h5").exists()


def test_a_finished_abm_trial_leaves_no_process(tmp_path):
    write(tmp_path, name="tiny.yaml")   # the shared tiny two-arm scenario
    (tmp_path / "trial.yaml").write_text(TINY_TRIAL)
    report = _watch([sys.executable, "-m", "abm", "trial", "trial.yaml", "--workers", "1",
                     "--quiet", "--out", "out"], tmp_path)
    _assert_nothing_left(report)
    assert (tmp_path / "out" / "effects.csv").exists()
