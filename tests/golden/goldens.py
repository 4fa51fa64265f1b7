"""Golden readout tables of every shipped scenario: which runs, how shortened, where stored.

Every scenario file under ``scenarios/`` (recursively; ``scenarios/trials/`` and YAML files
that are not scenarios, i.e. have no ``domain:``, are skipped) and every arm it declares is
run **shortened** on NumPy with the scenario's own seed (1 if it has none): until the first
treatment event has fired and ``steps_after`` steps more (no arms: until the last event has
fired), readouts every step (:func:`abm.experiment.shorten`). Its readout table must equal
the stored golden table ``tests/golden/<path with / as __>[__<arm>].csv`` bit for bit.

:data:`SHORTEN` sets, per file, another ``steps_after``, a fixed ``duration`` or extra
``set`` overrides (e.g. a smaller ``domain.extent``), or moves a late treatment earlier
(``treatment_at``), where the default run would take the
whole golden suite past ~90 s on 2 CPU cores. The overrides used are recorded in the golden
file; a golden made with other overrides fails with the command that regenerates it.

Regenerate (only for an intended change of results, and say so in the commit)::

    python -m tests.golden.regen                  # all (and remove stale tables)
    python -m tests.golden.regen --only quickstart
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
GOLDEN_DIR = Path(__file__).resolve().parent
COMMAND = "python -m tests.golden.regen"
#: Folders under scenarios/ whose files are not single scenarios.
SKIP_DIRS = ("trials",)
#: Steps run after the anchor event fired, unless :data:`SHORTEN` says otherwise.
STEPS_AFTER = 5

#: Per scenario file (path relative to scenarios/): keyword arguments of
#: :func:`abm.experiment.shorten`: ``steps_after`` (int), ``duration`` ("3 h"),
#: ``treatment_at`` ("0 h": move the events an arm leaves out to that time first), ``set``
#: (extra ``key.path=value`` overrides, applied first).
SHORTEN: dict[str, dict] = {
    # The MCAO scenarios inject BMSCs at 24 h and the first cells arrive 7.5 h after the
    # injection, so the default waits 131 steps of 15 min (~150 s an arm intracarotid at the
    # first drafts' size, 20-35 s intravenous, 2 cores). With the injection moved to 0 h the
    # cells arrive at 7.5 h and 3 steps follow: 33 steps, 5-7 s an arm (measured 2 Dec 2026).
    "brain/chen2003_mcao_iv_female.yaml": {"treatment_at": "0 h", "steps_after": 3},
    "brain/liu2022_shr_mcao_iv.yaml": {"treatment_at": "0 h", "steps_after": 3},
    "brain/zhang2006_mcao_intracarotid.yaml": {"treatment_at": "0 h", "steps_after": 3},
    # The OVX study at full size takes ~1.5 s a 6 h step; its golden runs the reduced block of
    # tests/validation (0.4 x 0.4 x 0.1 mm of the same metaphysis, cortex included) with the
    # treatments moved to the ovariectomy, for 3 steps after.
    "bone/ovx_rat_evs.yaml": {"treatment_at": "0 h", "steps_after": 3,
                              "set": ["domain.extent=[0.4 mm, 0.4 mm, 0.1 mm]",
                                      "tissue.labels.0.region.anatomy.center=[-930 um, -650 um]"]},
}


def is_scenario_file(path: Path) -> bool:
    """A YAML file whose top level is a mapping with ``domain:`` (unreadable YAML counts too).

    A file that does not parse is kept, so that its golden test fails loudly rather than
    the file being left out in silence.
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return True
    return isinstance(data, dict) and "domain" in data


def scenario_files(root: Path = SCENARIOS) -> list[str]:
    """Scenario files under ``root`` (posix paths relative to it), sorted."""
    out = []
    for p in sorted(Path(root).rglob("*")):
        rel = p.relative_to(root)
        if p.suffix not in (".yaml", ".yml") or not p.is_file():
            continue
        if rel.parts[0] in SKIP_DIRS or not is_scenario_file(p):
            continue
        out.append(rel.as_posix())
    return out


def declared_arms(path: Path) -> list[Optional[str]]:
    """The arms a scenario file declares (raw YAML, file order); ``[None]`` without arms."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return [None]
    arms = data.get("arms") if isinstance(data, dict) else None
    return [str(a) for a in arms] if isinstance(arms, dict) and arms else [None]


@dataclass(frozen=True)
class Case:
    """One golden run: a scenario file and one of its arms.

    Attributes
    ----------
    rel : str
        Path relative to the scenarios folder (posix).
    arm : str or None
    root : Path
        The scenarios folder.
    golden_dir : Path
        Where the golden tables are.
    """

    rel: str
    arm: Optional[str]
    root: Path = SCENARIOS
    golden_dir: Path = GOLDEN_DIR

    @property
    def name(self) -> str:
        """The scenario's name for ``--only``: its path without the suffix."""
        return self.rel.rsplit(".", 1)[0]

    @property
    def id(self) -> str:
        """``brain/x.yaml[control]``."""
        return self.rel + (f"[{self.arm}]" if self.arm else "")

    @property
    def golden(self) -> Path:
        """The golden table's path."""
        stem = self.name.replace("/", "__") + (f"__{self.arm}" if self.arm else "")
        return self.golden_dir / f"{stem}.csv"

    @property
    def regen(self) -> str:
        """The command that regenerates this scenario's golden tables."""
        return f"{COMMAND} --only {self.name}"


def cases(root: Path = SCENARIOS, golden_dir: Path = GOLDEN_DIR) -> list[Case]:
    """Every (scenario file, arm) under ``root``."""
    return [Case(rel, arm, Path(root), Path(golden_dir)) for rel in scenario_files(root)
            for arm in declared_arms(Path(root) / rel)]


def opts_of(case: Case, shorten_table: Optional[dict] = None) -> dict:
    """The keyword arguments of :func:`abm.experiment.shorten` for a case (defaults filled)."""
    opts = dict((SHORTEN if shorten_table is None else shorten_table).get(case.rel, {}))
    opts.setdefault("steps_after", STEPS_AFTER)
    return opts


def golden_settings(case: Case, shorten_table: Optional[dict] = None):
    """The shortening (:class:`abm.experiment.Shortening`) and seed of a case's golden run."""
    from abm.experiment import shorten  # noqa: PLC0415
    from abm.scenario import load_scenario  # noqa: PLC0415

    opts = opts_of(case, shorten_table)
    extra = opts.pop("set", ())
    path = case.root / case.rel
    s = shorten(path, overrides=extra, **opts)
    seed = load_scenario(path, list(s.overrides)).domain.seed
    return s, (1 if seed is None else int(seed))


def golden_run(case: Case, extra=(), shorten_table: Optional[dict] = None) -> tuple[dict, dict]:
    """Run a case as its golden is made: the table (columns) and the metadata to store.

    Parameters
    ----------
    extra : sequence of str
        Further overrides after the shortening's (only for tests of this harness).
    """
    from abm.experiment import run_arms  # noqa: PLC0415

    s, seed = golden_settings(case, shorten_table)
    overrides = list(s.overrides) + list(extra)
    runs = run_arms(case.root / case.rel, arms=[case.arm] if case.arm else None, seeds=[seed],
                    overrides=overrides, backend="numpy")
    (t,) = next(iter(runs.values()))
    columns = {"time_min": t.time_min, "step": t.steps.astype(np.float64), **t.readouts}
    meta = {"scenario": f"scenarios/{case.rel}", "arm": case.arm, "seed": seed,
            "backend": "numpy", "overrides": overrides,
            "shortened": _how(s, opts_of(case, shorten_table)),
            "regenerate": case.regen, "made_with": _versions()}
    return columns, meta


def check_case(case: Case, got_columns: dict, got_meta: dict) -> Optional[str]:
    """Why a run does not reproduce its golden table, or None when it does bit for bit."""
    from abm.experiment import first_difference, read_exact_table  # noqa: PLC0415

    if not case.golden.exists():
        return (f"no golden table for {case.id}: make it with `{case.regen}` (from the "
                f"repository root) and commit {_shown(case.golden)}")
    want = read_exact_table(case.golden)
    for key in ("overrides", "seed", "backend"):
        if want.meta.get(key) != got_meta[key]:
            return (f"the golden table of {case.id} was made with {key} {want.meta.get(key)!r}, "
                    f"the golden run now uses {got_meta[key]!r} (the scenario or the SHORTEN "
                    f"table changed); if that is meant, regenerate: `{case.regen}`")
    diff = first_difference(got_columns, want.columns)
    if diff is None:
        return None
    return (f"{case.id} no longer reproduces its golden table {case.golden.name} bit for bit "
            f"(made with {want.meta.get('made_with')}, now {_versions()}):\n{diff}\n"
            f"If this change of results is intended, regenerate with `{case.regen}` and say so "
            "in the commit.")


def _how(s, opts: dict) -> str:
    """How a golden run was shortened, in words (stored in the table, for a reader)."""
    if s.anchor == "fixed duration":
        return f"a fixed duration of {s.duration_min:g} min"
    if s.anchor_min is None:
        return f"no events: {s.duration_min:g} min"
    return (f"{s.anchor} at {s.anchor_min:g} min, then {opts['steps_after']} steps: "
            f"{s.duration_min:g} min")


def _shown(path: Path) -> str:
    """A path relative to the repository root where it lies inside it."""
    try:
        return Path(path).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def _versions() -> str:
    import scipy  # noqa: PLC0415

    return f"numpy {np.__version__}, scipy {scipy.__version__}"
