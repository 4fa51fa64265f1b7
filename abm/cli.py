"""The ``abm`` command line.

Commands::

    abm run SCENARIO [--out RUN.h5] [--backend numpy|cupy] [--seed N] [--until TIME]
                     [--set key.path=value ...] [--overwrite] [--quiet]
    abm resume RUN.h5 [--until TIME] [--backend ...]
    abm validate SCENARIO|TRIAL|SWEEP [--set ...]
    abm trial TRIAL.yaml [--scheduler ADDRESS | --slurm | --pbs] [--workers N] [--out DIR]
    abm sweep SWEEP.yaml [--scheduler ADDRESS | --slurm | --pbs] [--workers N] [--out DIR]
    abm info RUN.h5
    abm view RUN.h5 [--field NAME] [--mode slices|iso|volume]
    abm render RUN.h5 --out FILE.png|.gif|.mp4 [--field NAME] [--time T] [--camera PRESET]
               [--cells TYPE ...] [--size WxH] [--fps F] [--max-points N]
    abm render RUN.h5 [RUN2.h5 ...] --bone [--compare] --out FILE.png [--time T] [--opacity A]
    abm plot RUN.h5 [RUN2.h5 ...] --out FILE.png [--readout NAME ...] [--label L ...]
    abm demo [--hours H] [--out PNG]
    abm info-backend

Exit codes: 0 success, 2 bad input (scenario, arguments, files, memory), 1 failure
(a field went non-finite, the run was stopped by a signal after a checkpoint, an internal
error), 130 interrupted at once (a second Ctrl-C or SIGTERM while a run stops, or Ctrl-C
outside a run; the run file keeps every snapshot and checkpoint completed before it and
resumes from the last one), 141 output to a closed pipe (``abm validate F | head -1``;
nothing is printed about it).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from kernels.backend import BackendUnavailableError, get_backend

from .errors import FieldNotFiniteError, ModelInputError, RunStopped

#: Packages of the ``viz`` extra: a missing one is an installation problem, not a bug.
_VIZ_MODULES = {"pyvista", "vtk", "vtkmodules", "imageio", "imageio_ffmpeg"}


def _fail(msg: str, code: int) -> int:
    try:
        print(f"abm: error: {msg}", file=sys.stderr)
    except (BrokenPipeError, OSError):  # stderr itself is gone
        pass
    return code


#: Exit code of a command interrupted at once (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130
#: Exit code when the reader of our output went away (128 + SIGPIPE).
EXIT_CLOSED_PIPE = 141


def _interrupted(args) -> int:
    """One line for an interrupt that stopped a command at once."""
    run = getattr(args, "out", None) if args.cmd == "run" else getattr(args, "run", None)
    hint = (f"; the run file keeps what was complete: abm resume {run}"
            if args.cmd in ("run", "resume") and run else "")
    return _fail(f"interrupted{hint}", EXIT_INTERRUPTED)


def _closed_pipe() -> int:
    """End quietly when stdout's reader has gone (``abm validate F | head -1``)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_CLOSED_PIPE


def _print_warnings(sc) -> None:
    """Print a scenario's warnings (suspicious but legal input) to stderr."""
    for w in getattr(sc, "warnings", ()):
        print(f"abm: warning: {w}", file=sys.stderr)


def _add_stepping_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the commands that step a model (run, resume)."""
    p.add_argument("--checkpoint-wall", type=float, default=1800.0, metavar="SECONDS",
                   help="also checkpoint after this much wall time (default 1800 s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true", help="also print the log to stderr")


def _add_plugins_dir(p: argparse.ArgumentParser) -> None:
    """``--plugins-dir``: the one folder a run file's ``.py`` plugins are imported from."""
    p.add_argument("--plugins-dir", type=Path, default=None, metavar="FOLDER",
                   help="import the run's .py plugin files from this folder (a run file's own "
                        "record of their folder is never used: it could point anywhere)")


def _stored_timeline(run, plugin_dir=None) -> list[str]:
    """Lines for a run's stored timeline.

    The events, processes and plugins of a run's stored scenario (rebuilt from its text,
    with its plugins), or one line saying why it cannot be rebuilt here.
    """
    from .run.runner import rebuild_scenario  # noqa: PLC0415
    from .scenario.summary import timeline  # noqa: PLC0415

    try:
        return timeline(rebuild_scenario(run, plugin_dir=plugin_dir))
    except ModelInputError as exc:
        return [f"{'events':<14}(the stored scenario cannot be rebuilt here: {exc})"]


def _leave_no_process_behind() -> None:
    """Make sure the command leaves no helper process running once it has exited.

    Python starts a helper, the ``multiprocessing`` resource tracker, the first time a
    process makes a multiprocessing semaphore, and before Python 3.12.10 / 3.13.3 nothing
    waits for it at exit (python/cpython#88887), so it outlived every command that
    started one. Two things started one:

    * tqdm's default lock, made with the first progress bar (even a disabled one), holds a
      multiprocessing ``RLock``; this command draws its bars from one process only, so a
      thread lock serves (``tqdm.set_lock``) and ``abm run`` starts no helper at all;
    * Dask's worker processes (``abm trial``, ``abm sweep``) and the spawn pool of
      :mod:`abm.experiment.animals` need the tracker; :func:`_reap_resource_tracker`
      stops it at exit and waits for it.
    """
    import atexit  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from tqdm import tqdm  # noqa: PLC0415

    tqdm.set_lock(threading.RLock())
    atexit.register(_reap_resource_tracker)


def _reap_resource_tracker(timeout_s: float = 5.0) -> None:
    """At exit: stop this process's multiprocessing resource tracker and wait for it.

    multiprocessing's own exit work runs first (it ends its child processes, and its
    finalizers unregister their semaphores through the tracker); then the tracker's pipe is
    closed, which tells it to exit, and it is reaped. The wait is bounded: a process that
    still holds the pipe (one forked by hand, say) keeps the tracker alive, which is
    then left as before rather than hanging the exit. Uses the tracker's private state
    (``_fd``, ``_pid``, ``_lock``); if those change in a later Python, this does nothing.
    """
    import time  # noqa: PLC0415

    try:
        from multiprocessing import resource_tracker, util  # noqa: PLC0415

        tracker = resource_tracker._resource_tracker
        if tracker._pid is None or tracker._fd is None:
            return  # never started here (or already stopped by Python itself)
        util._exit_function()
        with tracker._lock:
            pid, fd = tracker._pid, tracker._fd
            if pid is None or fd is None:
                return
            tracker._pid = tracker._fd = None
            os.close(fd)
        deadline = time.monotonic() + timeout_s
        while os.waitpid(pid, os.WNOHANG)[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
    except (AttributeError, ImportError, OSError):  # not our child, or another Python's internals
        pass


def main(argv=None) -> int:
    """Entry point of the ``abm`` command; returns the exit code.

    Output is flushed here, so that a reader that has gone away (a closed pipe) ends the
    command quietly with exit 141 instead of an error at interpreter exit. On the command
    line (``argv`` None) no helper process outlives the command
    (:func:`_leave_no_process_behind`).
    """
    if argv is None:
        _leave_no_process_behind()
    try:
        code = _main(argv)
        sys.stdout.flush()
        if argv is None:
            # the command line's work is done: a late Ctrl-C or SIGTERM must not turn the
            # exit code into a death by signal while the interpreter shuts down
            for s in (signal.SIGINT, signal.SIGTERM):
                signal.signal(s, signal.SIG_IGN)
        return code
    except BrokenPipeError:
        return _closed_pipe()
    except KeyboardInterrupt:   # before a command started (argument parsing, imports)
        return _fail("interrupted", EXIT_INTERRUPTED)


def _main(argv) -> int:
    """Parse ``argv`` and run the command (see :func:`main`)."""
    p = argparse.ArgumentParser(prog="abm", description="BMSC tissue simulator")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="run the field-engine demonstration (cytokines around a lesion)")
    d.add_argument("--hours", type=float, default=12.0, help="simulated time, h (default 12)")
    d.add_argument("--out", type=Path, default=Path("demo_fields.png"),
                   help="picture to write (PNG; default demo_fields.png)")
    d.add_argument("--overwrite", action="store_true", help="replace an existing picture")
    d.add_argument("--backend", choices=["numpy", "cupy"], default=None,
                   help="array backend (default: ABM_BACKEND, else GPU if present)")
    sub.add_parser("info-backend", help="show which array backend would be used")
    r = sub.add_parser("run", help="run a scenario headless and write an HDF5 run file")
    r.add_argument("scenario", type=Path, help="scenario YAML file")
    r.add_argument("--out", type=Path, default=None,
                   help="run file to write (default: <scenario name>.h5 in the current folder)")
    r.add_argument("--backend", choices=["numpy", "cupy"], default=None,
                   help="array backend (default: ABM_BACKEND, else GPU if present)")
    r.add_argument("--seed", type=int, default=None, help="random seed (overrides the scenario's)")
    r.add_argument("--until", default=None, metavar="TIME",
                   help="simulated time to stop at, with its unit, e.g. '12 h' (overrides domain.duration)")
    r.add_argument("--arm", default=None, metavar="NAME",
                   help="run this arm of the experiment, e.g. control (one of the scenario's arms:; "
                        "default: the first)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override one value of the scenario, e.g. --set 'domain.dt=2 min' (repeatable)")
    r.add_argument("--overwrite", action="store_true", help="replace an existing run file")
    _add_stepping_options(r)
    rs = sub.add_parser("resume", help="continue a run file from its last checkpoint")
    rs.add_argument("run", type=Path, help="run file (HDF5)")
    rs.add_argument("--until", default=None, metavar="TIME",
                    help="new end time with its unit, e.g. '36 h' (to extend a run)")
    rs.add_argument("--backend", choices=["numpy", "cupy"], default=None,
                    help="array backend (default: the one the run was written with)")
    _add_stepping_options(rs)
    _add_plugins_dir(rs)
    inf = sub.add_parser("info", help="say what is in a run file")
    inf.add_argument("run", type=Path, help="run file (HDF5)")
    _add_plugins_dir(inf)
    vw = sub.add_parser("view", help="play a run in an interactive 3D window (PyVista)")
    vw.add_argument("run", type=Path, help="run file (HDF5)")
    vw.add_argument("--field", default=None, help="field shown first (default: the first)")
    vw.add_argument("--mode", choices=["slices", "iso", "volume"], default="slices",
                    help="how fields are drawn (default slices)")
    rn = sub.add_parser("render", help="render a run off-screen to a picture or a movie")
    rn.add_argument("run", type=Path, help="run file (HDF5)")
    rn.add_argument("--out", type=Path, required=True,
                    help="FILE.png (one snapshot), FILE.gif or FILE.mp4 (one frame per snapshot)")
    rn.add_argument("--field", default=None, help="field to draw (default: the first)")
    rn.add_argument("--time", default=None, metavar="T",
                    help="snapshot nearest this simulated time, with its unit, e.g. '12 h' (PNG; default the last)")
    rn.add_argument("--camera", choices=["iso", "xy", "xz", "yz"], default="iso",
                    help="camera preset (default iso)")
    rn.add_argument("--mode", choices=["slices", "iso", "volume"], default="slices",
                    help="how the field is drawn (default slices)")
    rn.add_argument("--size", default="1024x768", metavar="WxH",
                    help="picture size in pixels (default 1024x768)")
    rn.add_argument("--fps", type=float, default=4.0, help="frames per second of a movie (default 4)")
    rn.add_argument("--max-points", type=int, default=200_000, metavar="N",
                    help="draw at most about N cells per frame, every k-th above that (default 200000)")
    rn.add_argument("--cells", nargs="+", default=None, metavar="TYPE",
                    help="draw only these cell types (default: all), e.g. --cells BMSC")
    rn.add_argument("--section", default=None, metavar="AXIS=POS",
                    help="draw one flat section instead of the 3D scene, e.g. z=300um (a coronal "
                         "section of a forebrain slab): field, tissue outlines and the cells in "
                         "the plane (.png, .pdf or .svg)")
    rn.add_argument("--thickness", type=int, default=0, metavar="VOXELS",
                    help="with --section: also draw cells this many voxels either side (default 0)")
    rn.add_argument("--overwrite", action="store_true", help="replace an existing picture")
    from viz.bone import add_bone_options  # noqa: PLC0415  (--bone, --compare: viz/bone.py)

    add_bone_options(rn)
    pl = sub.add_parser("plot", help="plot readout time series of one or more runs")
    pl.add_argument("runs", type=Path, nargs="*", help="run files (HDF5), e.g. treated and control")
    pl.add_argument("--arm", dest="arms", action="append", default=None, metavar="LABEL=FILES",
                    help="an arm of animals, e.g. --arm 'control=runs/control_*.h5' (repeatable): "
                         "each arm is drawn as its mean with a band across its runs")
    pl.add_argument("--band", choices=["sd", "sem", "ci95"], default="sd",
                    help="with --arm: the band drawn, mean ± SD (default), ± SEM, or the 95%% CI")
    pl.add_argument("--out", type=Path, required=True, help="picture to write (.png, .pdf or .svg)")
    pl.add_argument("--readout", dest="readouts", action="append", default=None, metavar="NAME",
                    help="readout to plot (repeatable; default: all common to the runs)")
    pl.add_argument("--label", dest="labels", action="append", default=None, metavar="LABEL",
                    help="legend label per run, in order (repeatable; default: file names)")
    pl.add_argument("--time-unit", choices=["s", "min", "h", "d"], default="h",
                    help="unit of the time axis (default h)")
    pl.add_argument("--overwrite", action="store_true", help="replace an existing picture")
    v = sub.add_parser("validate", help="check a scenario file without running it")
    v.add_argument("scenario", type=Path, help="scenario YAML file")
    v.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override one value of the scenario (repeatable)")
    v.add_argument("--arm", default=None, metavar="NAME",
                   help="check this arm of the experiment (one of the scenario's arms:)")
    from .trial.command import add_trial_parser  # noqa: PLC0415

    add_trial_parser(sub)
    args = p.parse_args(argv)
    try:
        if args.cmd == "info-backend":
            b = get_backend()
            print(f"{b.name}: {b.device}")
            return 0
        if args.cmd in ("run", "resume") and not args.checkpoint_wall >= 0:
            return _fail(f"--checkpoint-wall must be >= 0 seconds, got {args.checkpoint_wall}", 2)
        if args.cmd == "run":
            from .run.runner import run_scenario  # noqa: PLC0415
            from .scenario import load_scenario  # noqa: PLC0415

            overrides = list(args.overrides) + ([f"arm={args.arm}"] if args.arm else [])
            if args.until:
                overrides.append(f"domain.duration={args.until}")
            sc = load_scenario(args.scenario, overrides=overrides)
            _print_warnings(sc)
            out = args.out or Path(f"{sc.name}_{sc.arm}.h5" if sc.arm else f"{sc.name}.h5")
            path = run_scenario(sc, out, backend=args.backend, seed=args.seed,
                                overwrite=args.overwrite, progress=not args.quiet,
                                checkpoint_wall_s=args.checkpoint_wall,
                                verbose=args.verbose)
            print(f"wrote {path} (+ {path.with_suffix('.xdmf').name}, {path.with_suffix('.log').name})\n"
                  f"  summary:  abm info {path}\n"
                  f"  picture:  abm render {path} --out {path.with_suffix('.png').name}\n"
                  f"  readouts: abm plot {path} --out {path.stem}_readouts.png")
            return 0
        if args.cmd == "resume":
            from .run.runner import resume_run  # noqa: PLC0415

            path = resume_run(args.run, until=args.until, backend=args.backend,
                              progress=not args.quiet, verbose=args.verbose,
                              checkpoint_wall_s=args.checkpoint_wall,
                              plugin_dir=args.plugins_dir)
            print(f"resumed and finished {path}")
            return 0
        if args.cmd == "info":
            from .runfile import open_run  # noqa: PLC0415

            with open_run(args.run) as run:
                print(run.summary())
                print("\n".join(_stored_timeline(run, args.plugins_dir)))
            return 0
        if args.cmd == "plot" and args.arms:
            from viz.arms import parse_arm, plot_arms  # noqa: PLC0415

            if args.runs:
                return _fail("give either run files or --arm groups, not both (put every run "
                             "in an arm)", 2)
            arms = dict(parse_arm(a) for a in args.arms)
            if len(arms) != len(args.arms):
                return _fail("two --arm groups have the same label; give each arm its own", 2)
            plot_arms(arms, args.out, readouts=args.readouts, time_unit=args.time_unit,
                      band=args.band, overwrite=args.overwrite)
            print(f"wrote {args.out}")
            return 0
        if args.cmd == "plot":
            from viz.plots import plot_runs  # noqa: PLC0415

            plot_runs(args.runs, args.out, readouts=args.readouts, labels=args.labels,
                      time_unit=args.time_unit, overwrite=args.overwrite)
            print(f"wrote {args.out}")
            return 0
        if args.cmd == "render":
            from viz.bone import bone_command  # noqa: PLC0415

            if bone_command(args) == 0:           # --bone [--compare]; -1: not a bone picture
                return 0
        if args.cmd == "render" and args.section is not None:
            from viz.section import render_section  # noqa: PLC0415

            render_section(args.run, args.out, section=args.section, field=args.field,
                           time=args.time, thickness=args.thickness, cell_types=args.cells,
                           overwrite=args.overwrite)
            print(f"wrote {args.out}")
            return 0
        if args.cmd == "render":
            from viz.render import render_run  # noqa: PLC0415

            try:
                size = tuple(int(v) for v in args.size.lower().split("x"))
                assert len(size) == 2
            except (ValueError, AssertionError):
                return _fail(f"--size must be WIDTHxHEIGHT in pixels, e.g. 1280x960, got {args.size!r}", 2)
            if args.max_points < 1:
                return _fail(f"--max-points must be >= 1, got {args.max_points}", 2)
            path = render_run(args.run, args.out, field=args.field, time=args.time,
                              camera=args.camera, mode=args.mode, overwrite=args.overwrite,
                              cell_types=args.cells, window_size=size, fps=args.fps,
                              max_points=args.max_points)
            print(f"wrote {path}")
            return 0
        if args.cmd == "view":
            from viz.viewer import view_run  # noqa: PLC0415

            view_run(args.run, field=args.field, mode=args.mode)
            return 0
        if args.cmd in ("trial", "sweep"):
            from .trial.command import trial_command  # noqa: PLC0415

            return trial_command(args)
        if args.cmd == "validate":
            from .trial.command import is_trial_or_sweep  # noqa: PLC0415

            if is_trial_or_sweep(args.scenario):
                from .trial.command import validate_trial  # noqa: PLC0415

                return validate_trial(args.scenario, args.overrides, args.arm)
            from .run.build import check_memory  # noqa: PLC0415
            from .run.memory import format_bytes  # noqa: PLC0415
            from .scenario import load_scenario  # noqa: PLC0415

            sc = load_scenario(args.scenario, overrides=list(args.overrides)
                               + ([f"arm={args.arm}"] if args.arm else []))
            need = check_memory(sc)
            print(sc.summary())
            print(f"  memory: about {format_bytes(need)} on this machine")
            _print_warnings(sc)
            return 0
        if args.cmd == "demo":
            if not (args.hours > 0):
                return _fail(f"--hours must be > 0, got {args.hours}", 2)
            if args.out.suffix.lower() != ".png":
                return _fail(f"--out must name a .png file, got {args.out}", 2)
            if args.out.exists() and not args.overwrite:
                return _fail(f"{args.out} exists; pass --overwrite to replace it or choose another --out", 2)
            if not args.out.parent.exists():
                return _fail(f"folder {args.out.parent} does not exist; create it or choose another --out", 2)
            from .demo import run_demo  # noqa: PLC0415

            run_demo(args.hours, args.out, args.backend)
            return 0
    except (BackendUnavailableError, ModelInputError) as exc:
        return _fail(str(exc), 2)
    except (FieldNotFiniteError, RunStopped) as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        return _interrupted(args)
    except BrokenPipeError:
        return _closed_pipe()
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in _VIZ_MODULES:
            return _fail(f"abm {args.cmd} needs {exc.name}, which is not installed; install the "
                         "viewing extras: python3 -m pip install 'bmsc-abm[viz]' (or -e '.[viz]' "
                         "in a checkout)", 2)
        return _fail(f"internal error: {type(exc).__name__}: {exc}; please report it", 1)
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback, for the user
        return _fail(f"internal error: {type(exc).__name__}: {exc}; please report it with the "
                     "scenario and the .log file", 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
