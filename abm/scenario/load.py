"""Loading a scenario.

Read the YAML tree, apply ``--set`` overrides, import the modules
named under ``plugins:`` (they register kinds), validate with the schema built from the
registries, resolve, and report the first problem by line. See docs/scenario-format.md.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from ..errors import ModelInputError
from ..registry import import_plugins
from .arms import select_arm
from .objects import Scenario
from .problems import Problems, ScenarioError, translate, typename
from .resolve import Resolver
from .schema import scenario_model
from .yamltree import apply_override, check_size, read_tree

__all__ = ["load_scenario", "load_scenario_text"]


def load_scenario(path, overrides=()) -> Scenario:
    """Read, validate and convert a scenario file.

    Parameters
    ----------
    path : str or Path
        YAML scenario file.
    overrides : sequence of str
        ``"key.path=value"`` overrides applied before validation.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        One message naming the file, line, key path and what was expected.
    """
    path = Path(path)
    if not path.exists():
        raise ScenarioError(f"scenario file not found (looked for {str(path.absolute())!r}); check "
                            f"the path, or copy one of the examples in scenarios/",
                            path.name or str(path))
    if not path.is_file():
        raise ScenarioError(f"{str(path)!r} is not a file; give the path of a YAML scenario file",
                            path.name or str(path))
    try:
        check_size(path.stat().st_size, path.name)
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError("the file is not UTF-8 text; save the scenario as a UTF-8 YAML file",
                            path.name) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read the file ({exc.strerror or exc}); check its permissions",
                            path.name) from None
    return load_scenario_text(text, name=path.name, base_dir=path.parent.absolute(),
                              overrides=overrides)


def load_scenario_text(text: str, name: str = "<scenario>", base_dir=Path("."),
                       overrides=(), stored_masks=None, plugin_dir=None,
                       from_run_file: bool = False) -> Scenario:
    """Validate and convert a scenario given as text (e.g. the copy stored in a run's HDF5 file).

    Parameters
    ----------
    text : str
        YAML text.
    name : str
        File name used in messages and in ``Scenario.source``.
    base_dir : Path
        Folder that relative paths (masks, rules CSVs, plugin files) are resolved against.
    overrides : sequence of str
        ``"key.path=value"`` overrides.
    stored_masks : dict of str to ndarray, optional
        For a scenario stored in a run file: the masks stored with it; mask regions take
        their arrays from here and no mask file is read.
    plugin_dir : path, optional
        With ``from_run_file``: the folder the user names (``--plugins-dir``) to import the
        scenario's ``.py`` plugin files from.
    from_run_file : bool
        The text comes from a run file (untrusted): a ``.py`` plugin it names is imported
        only from ``plugin_dir``, never from a folder recorded in the file. Installed
        modules named by their module name are imported as usual.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
    """
    if isinstance(overrides, str):
        overrides = (overrides,)
    overrides = tuple(overrides or ())
    data, lines, dups = read_tree(text, name)
    problems = Problems(name, lines)
    for dpath, ln, first in dups:
        problems.add(dpath, f"key '{dpath[-1]}' given twice (also on line {first}); keep one")
    set_paths = []
    for ov in overrides:
        loc = apply_override(data, ov, name)
        set_paths.append((loc, ov.partition("=")[0].strip()))
    problems.overrides = set_paths
    plugins = _plugins(data, problems, Path(base_dir), plugin_dir, from_run_file)
    chosen = select_arm(data, problems, name)
    try:
        raw = scenario_model().model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            for loc, msg in translate(err, data):
                problems.add(loc, msg)
        problems.raise_first()
        raise AssertionError("unreachable")  # pragma: no cover
    problems.raise_first()
    sc = Resolver(raw, problems, text, name, Path(base_dir), overrides, plugins,
                  stored_masks=stored_masks, arm=chosen).resolve()
    problems.raise_first()
    return sc


def _plugins(data: dict, problems: Problems, base_dir: Path, plugin_dir=None,
             from_run_file: bool = False) -> tuple:
    """Import the modules under ``plugins:`` before validation (they register kinds).

    For a scenario stored in a run file, ``.py`` files come from ``plugin_dir`` only.
    """
    mods = data.get("plugins")
    if mods is None:
        return ()
    if not isinstance(mods, list) or not all(isinstance(m, str) for m in mods):
        problems.add(("plugins",), "expected a list of module names or .py paths (relative to "
                                   f"the scenario file), got {typename(mods)}")
        problems.raise_first()
    for i, m in enumerate(mods):
        folder = base_dir
        if from_run_file and m.endswith(".py"):
            if plugin_dir is None:
                problems.add(("plugins", i),
                             f"this run uses the plugin file {m!r}; abm does not run code named "
                             f"inside a run file: if you trust it, pass --plugins-dir FOLDER "
                             f"(the folder that holds {m})")
                continue
            folder = Path(plugin_dir)
        try:
            import_plugins([m], folder)
        except ModelInputError as exc:
            problems.add(("plugins", i), str(exc))
    problems.raise_first()
    return tuple(mods)
