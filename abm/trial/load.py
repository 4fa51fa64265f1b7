"""Reading and checking a trial file (``abm trial``, ``abm validate``).

The file is read with the scenario machinery (:func:`abm.scenario.yamltree.read_tree`:
safe YAML, the line of every key) and its problems are reported as the scenario loader
reports them: one :class:`~abm.scenario.ScenarioError` naming the file, the line, the key
path and the fix, the first by line. :func:`check_trial` then loads every (study, arm)
scenario with its overrides and the typical value of every varied quantity, so a key
path that does not exist, a unit that does not fit or an outcome that the scenario does
not record is refused before any animal runs. See docs/trials.md.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from .. import units as U
from ..scenario.problems import Problems, ScenarioError, did_you_mean, typename
from ..scenario.yamltree import check_size, read_tree
from .spec import Arm, Comparison, Outcome, Resources, Study, Trial
from .variability import VariationProblem, parse_variation

__all__ = ["load_trial", "is_trial_file", "check_trial", "check_outcomes", "TRIAL_KEYS"]

#: Keys of the ``trial:`` mapping.
TRIAL_KEYS = ("name", "description", "scenario", "seed", "animals", "set", "arms", "comparisons",
              "variability", "outcomes", "studies", "cluster")
_ARM_KEYS = ("scenario", "set", "description")
_STUDY_KEYS = ("name", "animals", "set", "arms", "subgroups", "description")
_CLUSTER_KEYS = ("cores", "memory", "walltime", "queue", "account", "gpus", "jobs", "job_extra",
                 "prologue")
#: Names of arms and studies become file names: letters, digits, ``_ - .`` only.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Most animals one trial may plan (a typo such as 10000 is refused, not queued).
MAX_RUNS = 100_000


def has_top_level_key(path, key: str) -> bool:
    """Whether ``path`` is a readable text file with ``key:`` at the start of a line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return re.search(rf"(?m)^{re.escape(key)}\s*:", text) is not None


def is_trial_file(path) -> bool:
    """Whether ``path`` is a YAML file whose top level has a ``trial:`` key."""
    return has_top_level_key(path, "trial")


def load_trial(path) -> Trial:
    """Read and check a trial file (its own keys; see :func:`check_trial` for the scenarios).

    Raises
    ------
    ScenarioError
        The first problem by line, with the file, line, key path and what to write.
    """
    path = Path(path)
    name = path.name or str(path)
    if not path.is_file():
        raise ScenarioError(f"trial file not found (looked for {str(path.absolute())!r}); check the "
                            "path, or copy scenarios/trials/cortex_trial.yaml", name)
    try:
        check_size(path.stat().st_size, name)
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError("the file is not UTF-8 text; save the trial as a UTF-8 YAML file",
                            name) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read the file ({exc.strerror or exc}); check its permissions",
                            name) from None
    data, lines, dups = read_tree(text, name)
    pb = Problems(name, lines)
    for loc, line, first in dups:
        pb.add(loc, f"duplicate key '{loc[-1]}' (first on line {first}); give each key once")
    trial = _read(data, pb, path)
    pb.raise_first()
    return trial


def _known(d: dict, allowed, loc, pb) -> bool:
    """Add a problem for each key of ``d`` not in ``allowed``; whether there was one."""
    unknown = [k for k in d if k not in allowed]
    for k in unknown:
        pb.add(loc + (k,), f"unknown key '{k}'{did_you_mean(k, allowed)}; allowed keys: "
                           f"{', '.join(allowed)}")
    return bool(unknown)


def _list_of_str(v, loc, pb) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        pb.add(loc, f"expected a list of KEY.PATH=VALUE texts, e.g. [\"domain.dt=2 min\"], got "
                    f"{typename(v)}")
        return ()
    for i, s in enumerate(v):
        if "=" not in s:
            pb.add(loc + (i,), f"'{s}' is not KEY.PATH=VALUE; write e.g. \"arm=control\"")
    return tuple(v)


def _count(v, loc, pb, what: str, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        pb.add(loc, f"{what} must be a whole number, got {typename(v)}")
        return minimum
    if v < minimum:
        pb.add(loc, f"{what} must be >= {minimum}, got {v}")
        return minimum
    return v


def _name(v, loc, pb, what: str) -> str:
    if not isinstance(v, str) or not _NAME.match(v):
        pb.add(loc, f"{what} {typename(v)} cannot name files: use letters, digits, '_', '-' or "
                    "'.' (at most 64, starting with a letter or digit)")
        return str(v)
    return v


def _time(v, loc, pb) -> float:
    try:
        return U.to_internal(v, U.TIME)
    except U.UnitProblem as exc:
        pb.add(loc, str(exc))
        return 0.0


def _read(data: dict, pb: Problems, path: Path) -> Trial | None:
    top = [k for k in data if k != "trial"]
    if top:
        pb.add((top[0],), f"unknown top-level key '{top[0]}': a trial file holds one mapping, "
                          "trial: (scenario files are named inside it)")
    t = data.get("trial")
    if not isinstance(t, dict):
        pb.add(("trial",), f"trial: must be a mapping (name, scenario, arms, outcomes, ...), got "
                           f"{typename(t)}")
        return None
    L = ("trial",)
    # a misspelt key is the problem to report, not the required key it then lacks
    typo = _known(t, TRIAL_KEYS, L, pb)
    name = _name(t.get("name", path.stem), L + ("name",), pb, "the trial name")
    seed = t.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        pb.add(L + ("seed",), f"seed must be a whole number >= 0, got {typename(seed)}")
        seed = 0
    base = path.parent.absolute()
    default_scenario = t.get("scenario")
    if default_scenario is not None and not isinstance(default_scenario, str):
        pb.add(L + ("scenario",), f"expected the path of a scenario file, got {typename(default_scenario)}")
        default_scenario = None
    animals = _count(t.get("animals", 6), L + ("animals",), pb, "animals per arm", 2)

    arms = {}
    raw_arms = t.get("arms")
    if (not isinstance(raw_arms, dict) or not raw_arms) and not (typo and raw_arms is None):
        pb.add(L + ("arms",), "arms: must map arm names to {set: [...]} (at least two arms, e.g. "
                              "treated: {set: [arm=treated]} and control: {set: [arm=control]}), got "
                              f"{typename(raw_arms)}")
        raw_arms = {}
    elif len(raw_arms) < 2:
        pb.add(L + ("arms",), "a trial compares arms: declare at least two (e.g. treated and control)")
    raw_arms = raw_arms if isinstance(raw_arms, dict) else {}
    for an, a in raw_arms.items():
        loc = L + ("arms", an)
        _name(an, loc, pb, "arm name")
        a = {} if a is None else a
        if not isinstance(a, dict):
            pb.add(loc, f"an arm is a mapping {{scenario: FILE, set: [...]}}, got {typename(a)}")
            continue
        _known(a, _ARM_KEYS, loc, pb)
        scen = a.get("scenario", default_scenario)
        if not isinstance(scen, str):
            pb.add(loc + ("scenario",) if "scenario" in a else loc,
                   "no scenario for this arm: give trial.scenario or the arm's own scenario: FILE")
            continue
        spath = (base / scen) if not Path(scen).is_absolute() else Path(scen)
        if not spath.is_file():
            where = loc + ("scenario",) if "scenario" in a else L + ("scenario",)
            pb.add(where, f"scenario file {scen!r} not found (looked for {str(spath)!r}); paths are "
                          "relative to the trial file's folder")
        arms[str(an)] = Arm(str(an), spath, _list_of_str(a.get("set"), loc + ("set",), pb))

    comparisons = []
    raw_cmp = t.get("comparisons")
    if raw_cmp is None:
        names = list(arms)
        if len(names) == 2:
            comparisons = [Comparison(names[0], names[1])]
        elif len(names) > 2:
            pb.add(L + ("arms",), f"with {len(names)} arms, say which to compare: comparisons: "
                                  f"[\"{names[0]} vs {names[-1]}\", ...]")
    elif not isinstance(raw_cmp, list) or not raw_cmp:
        pb.add(L + ("comparisons",), f"expected a list such as [\"treated vs control\"], got "
                                     f"{typename(raw_cmp)}")
    else:
        for i, c in enumerate(raw_cmp):
            parts = c.split(" vs ") if isinstance(c, str) else []
            if len(parts) != 2:
                pb.add(L + ("comparisons", i), f"write 'TREATED vs CONTROL', got {typename(c)}")
                continue
            a, b = (p.strip() for p in parts)
            for side in (a, b):
                if side not in arms and raw_arms:
                    pb.add(L + ("comparisons", i), f"no arm named '{side}'{did_you_mean(side, arms)}; "
                                                   f"arms: {', '.join(arms)}")
            if a == b:
                pb.add(L + ("comparisons", i), "an arm compared with itself; name two arms")
            comparisons.append(Comparison(a, b))

    variability = []
    raw_var = t.get("variability") or {}
    if not isinstance(raw_var, dict):
        pb.add(L + ("variability",), "variability: maps scenario key paths to distributions, e.g. "
                                     "events.2.injection.dose: {lognormal: {mean: 150 cells, cv: 0.3}}")
        raw_var = {}
    for key, spec in raw_var.items():
        try:
            v = parse_variation(str(key), spec)
        except VariationProblem as exc:
            pb.add(L + ("variability", key) + exc.key, str(exc))
            continue
        for i, a in enumerate(v.arms or ()):
            if a not in arms and raw_arms:
                pb.add(L + ("variability", key, "arms", i), f"no arm named '{a}'{did_you_mean(a, arms)}; "
                                                            f"arms: {', '.join(arms)}")
        variability.append(v)

    outcomes = []
    raw_out = t.get("outcomes")
    if (not isinstance(raw_out, list) or not raw_out) and not (typo and raw_out is None):
        pb.add(L + ("outcomes",), "outcomes: lists the readouts compared, e.g. "
                                  "[{readout: count BMSC in penumbra, at: 24 h}]")
        raw_out = []
    raw_out = raw_out if isinstance(raw_out, list) else []
    for i, o in enumerate(raw_out):
        loc = L + ("outcomes", i)
        if isinstance(o, str):
            o = {"readout": o}
        if not isinstance(o, dict) or not isinstance(o.get("readout"), str):
            pb.add(loc, f"an outcome is {{readout: NAME, at: TIME}}, got {typename(o)}")
            continue
        _known(o, ("readout", "at"), loc, pb)
        outcomes.append(Outcome(o["readout"], _time(o["at"], loc + ("at",), pb) if "at" in o else None))
    if len(set(outcomes)) != len(outcomes):
        pb.add(L + ("outcomes",), "an outcome is listed twice; list each readout and time once")

    studies = []
    raw_st = t.get("studies")
    if raw_st is None:
        studies = [Study(name, animals)]
    elif not isinstance(raw_st, list) or not raw_st:
        pb.add(L + ("studies",), f"studies: is a list of {{name, animals, set, subgroups}}, got "
                                 f"{typename(raw_st)}")
    else:
        for i, s in enumerate(raw_st):
            loc = L + ("studies", i)
            if not isinstance(s, dict):
                pb.add(loc, f"a study is a mapping {{name, animals, set, subgroups}}, got {typename(s)}")
                continue
            _known(s, _STUDY_KEYS, loc, pb)
            sn = _name(s.get("name", f"study{i + 1}"), loc + ("name",), pb, "study name")
            n = _count(s.get("animals", animals), loc + ("animals",), pb, "animals per arm", 2)
            sub = s.get("subgroups") or {}
            if not isinstance(sub, dict) or not all(isinstance(v, (str, int, float)) and
                                                    not isinstance(v, bool) for v in sub.values()):
                pb.add(loc + ("subgroups",), "subgroups: maps a factor to this study's level, e.g. "
                                             "{frequency: weekly, duration: 4 weeks}")
                sub = {}
            studies.append(Study(sn, n, _list_of_str(s.get("set"), loc + ("set",), pb),
                                 {str(k): str(v) for k, v in sub.items()},
                                 _study_arms(s.get("arms"), loc + ("arms",), pb, arms, raw_arms)))
        names = [s.name for s in studies]
        for i, n in enumerate(names):
            if n in names[:i]:
                pb.add(L + ("studies", i, "name"), f"two studies are named '{n}'; name each once")
        factors = [set(s.subgroups) for s in studies]
        if any(f != factors[0] for f in factors):
            pb.add(L + ("studies",), "give every study the same subgroup factors (each study a level "
                                     "of each factor) or none")
    resources = _resources(t.get("cluster"), L + ("cluster",), pb)
    n_runs = sum(s.animals for s in studies) * max(1, len(arms))
    if n_runs > MAX_RUNS:
        pb.add(L + ("animals",), f"the trial plans {n_runs} runs, over the limit of {MAX_RUNS}")
    overrides = _list_of_str(t.get("set"), L + ("set",), pb)
    if pb.items:
        return None
    return Trial(name, path, seed, arms, studies, variability, outcomes, comparisons, resources,
                 overrides)


def _study_arms(raw, loc, pb, arms: dict, raw_arms) -> dict:
    """A study's ``arms:``: per-arm overrides in this study only, ``{ARM: {set: [...]}}``."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        pb.add(loc, "a study's arms: maps arm names of trial.arms to {set: [...]} overrides of that "
                    "arm in this study, e.g. {treated: {set: [arm=treated_3d]}}, got "
                    f"{typename(raw)}")
        return {}
    out = {}
    for an, a in raw.items():
        here = loc + (an,)
        if an not in arms and raw_arms:
            pb.add(here, f"no arm named '{an}'{did_you_mean(str(an), arms)} in trial.arms; a study "
                         f"changes the trial's arms ({', '.join(arms)}), it does not add any")
            continue
        if not isinstance(a, dict):
            pb.add(here, f"expected {{set: [KEY.PATH=VALUE, ...]}} (this arm's overrides in this study), "
                         f"got {typename(a)}")
            continue
        if _known(a, ("set",), here, pb):
            continue
        if "set" not in a:
            pb.add(here, "give this arm's overrides in this study as {set: [KEY.PATH=VALUE, ...]}")
            continue
        out[str(an)] = _list_of_str(a["set"], here + ("set",), pb)
    return out


def _resources(c, loc, pb) -> Resources:
    if c is None:
        return Resources()
    if not isinstance(c, dict):
        pb.add(loc, f"cluster: is a mapping of job resources (cores, memory, walltime, queue, ...), "
                    f"got {typename(c)}")
        return Resources()
    _known(c, _CLUSTER_KEYS, loc, pb)
    kw = {}
    for k in ("cores", "gpus", "jobs"):
        if k in c:
            kw[k] = _count(c[k], loc + (k,), pb, k, 0 if k == "gpus" else 1)
    if "memory" in c:
        try:
            q, bare = U.parse_quantity(c["memory"])
            gib = float(q.to("GiB").magnitude)
            if bare or not gib > 0:
                raise U.UnitProblem("")
            kw["memory"] = f"{gib:.4g}GiB"
        except Exception:  # noqa: BLE001 - pint's errors, a bare number, a wrong dimension
            pb.add(loc + ("memory",), f"memory must be an amount of memory, e.g. '16 GB', got "
                                      f"{typename(c['memory'])}")
    if "walltime" in c:
        minutes = _time(c["walltime"], loc + ("walltime",), pb)
        if not minutes > 0:
            pb.add(loc + ("walltime",), f"walltime must be > 0, e.g. '2 h', got {typename(c['walltime'])}")
        s = int(math.ceil(minutes * 60))
        kw["walltime"] = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    for k in ("queue", "account"):
        if k in c:
            if not isinstance(c[k], str):
                pb.add(loc + (k,), f"{k} must be a name, got {typename(c[k])}")
            else:
                kw[k] = c[k]
    for k in ("job_extra", "prologue"):
        if k in c:
            v = c[k]
            if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
                pb.add(loc + (k,), f"{k} must be a list of texts, got {typename(v)}")
            else:
                kw[k] = tuple(v)
    return Resources(**kw)


# ------------------------------------------------------------- checks against scenarios
def _blame(trial: Trial, exc: ScenarioError, study, arm) -> tuple[tuple, str]:
    """Where in the trial file a scenario problem comes from (key path in the trial)."""
    L = ("trial",)
    where = getattr(exc, "path", "") or ""
    msg = str(exc)
    for v in trial.variability:
        if f"--set {v.key}" in msg:
            return L + ("variability", v.key), msg
    for i, s in enumerate(trial.overrides):
        if f"--set {s.partition('=')[0].strip()}" in msg:
            return L + ("set", i), msg
    si = trial.studies.index(study)
    for i, s in enumerate(study.arm_overrides.get(arm.name, ())):
        key = s.partition("=")[0].strip()
        if f"--set {key}" in msg or (key == "arm" and "arm" in where):
            return L + ("studies", si, "arms", arm.name, "set", i), msg
    for i, s in enumerate(study.overrides):
        if f"--set {s.partition('=')[0].strip()}" in msg:
            return L + ("studies", si, "set", i), msg
    for i, s in enumerate(arm.overrides):
        key = s.partition("=")[0].strip()
        if f"--set {key}" in msg or (key == "arm" and "arm" in where):
            return L + ("arms", arm.name, "set", i), msg
    return L + ("arms", arm.name), msg


def check_outcomes(sc, outcomes, pb: Problems, loc, where: str) -> None:
    """Add a problem for each outcome that scenario ``sc`` does not record at its time.

    ``loc`` is the key path of the outcomes list; ``where`` names the scenario in messages.
    """
    from ..run.recording import steps_for  # noqa: PLC0415

    dt, n_end = sc.domain.dt, sc.domain.n_steps
    every = steps_for(sc.outputs.readout_every, dt)
    times = [k * dt for k in range(0, n_end + 1) if k % every == 0 or k == n_end]
    names = [getattr(r, "text", str(r)) for r in sc.outputs.readouts]
    for oi, o in enumerate(outcomes):
        here = tuple(loc) + (oi,)
        if o.readout not in names:
            pb.add(here + ("readout",), f"'{o.readout}' is not a readout of {where}"
                                        f"{did_you_mean(o.readout, names)}; its outputs.readouts: "
                                        f"{', '.join(names)}")
        if o.time is not None and not any(abs(o.time - t) <= 1e-6 * max(1.0, t) for t in times):
            near = min(times, key=lambda t: abs(t - o.time))
            pb.add(here + ("at",), f"{o.time:g} min is not a readout time of {where}: every "
                                   f"{every * dt:g} min to {n_end * dt:g} min; the nearest is {near:g} min")


def check_trial(trial: Trial):
    """Load every (study, arm) scenario as its animals will; check the outcomes against it.

    Returns
    -------
    dict
        ``(study name, arm name) -> Scenario`` (loaded with the typical varied values).

    Raises
    ------
    ScenarioError
        Located in the trial file (the arm, study or variability entry whose override the
        scenario refused, or the outcome it does not record).
    """
    from ..scenario import load_scenario  # noqa: PLC0415

    text = trial.source.read_text(encoding="utf-8")
    _, lines, _ = read_tree(text, trial.source.name)
    pb = Problems(trial.source.name, lines)
    loaded = {}
    for study in trial.studies:
        for arm in trial.arms.values():
            central = [v.override(v.centre) for v in trial.variability
                       if v.arms is None or arm.name in v.arms]
            try:
                sc = load_scenario(arm.scenario, overrides=[*trial.overrides, *arm.overrides,
                                                            *study.overrides_of(arm.name), *central])
            except ScenarioError as exc:
                loc, msg = _blame(trial, exc, study, arm)
                pb.add(loc, f"the scenario refuses this {'study' if 'studies' in loc else 'entry'} "
                            f"(with arm {arm.name}, study {study.name}): {msg}")
                continue
            loaded[(study.name, arm.name)] = sc
            check_outcomes(sc, trial.outcomes, pb, ("trial", "outcomes"),
                           f"{arm.scenario.name} (arm {arm.name}, study {study.name})")
    seen = set()          # one problem per place (not one per arm and study it recurs in)
    pb.items = [it for it in pb.items if not (it[0] in seen or seen.add(it[0]))]
    pb.raise_first()
    return loaded
