"""Registries: each kind of biological thing is declared once, in one module, and registered here.

Everything else (the scenario schema, the runner, the run file, ``abm info``, the
viewer) looks it up by name.

Six registries exist:

=====================  ==========================================================
:data:`CELL_TYPES`     cell types (:class:`abm.cells.LatticeCell` subclasses)
:data:`PROCESSES`      tissue processes: per-voxel states that do not diffuse
:data:`EVENT_KINDS`    timeline events of a scenario (injury, injection, ...)
:data:`REGION_SHAPES`  region shapes of a scenario (sphere, box, ...)
:data:`READOUT_KINDS`  readouts of a scenario (count, fraction, mean, ...)
:data:`ROUTES`         delivery routes of injections and exosome doses (intravenous, ...)
=====================  ==========================================================

The package's own entries are registered by the modules that define them
(:mod:`abm.biology`, :mod:`abm.events`, :mod:`abm.regions`, :mod:`abm.readouts`,
imported on first look-up). A user's module registers its own the same way,
and a scenario names that module under ``plugins:`` so that ``abm run`` and
``abm resume`` import it::

    from abm.registry import CELL_TYPES
    from abm.cells import LatticeCell

    @CELL_TYPES.register
    class Osteoclast(LatticeCell):
        states = ("resting", "resorbing")
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from .errors import ModelInputError

__all__ = ["Registry", "CELL_TYPES", "PROCESSES", "EVENT_KINDS", "REGION_SHAPES",
           "READOUT_KINDS", "ROUTES", "did_you_mean", "import_plugins"]

T = TypeVar("T")

#: Modules that register the package's own entries (imported on first look-up).
BUILTIN_MODULES = ("abm.biology", "abm.events", "abm.regions", "abm.readouts")
_loaded = False


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in BUILTIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:  # a registry whose module is not written yet
            if exc.name != mod:
                raise


def did_you_mean(word: str, choices) -> str:
    """``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Registry(Generic[T]):
    """Named entries of one kind, registered once.

    Parameters
    ----------
    kind : str
        What an entry is, for messages (``"cell type"``).
    name_of : callable, optional
        Name of an entry registered without an explicit name (default: its
        ``name`` attribute, else ``cell_type``, else ``__name__``).
    """

    def __init__(self, kind: str, name_of: Callable[[Any], str] | None = None):
        self.kind = kind
        self._name_of = name_of
        self._entries: dict[str, T] = {}
        self._builtin: list[str] = []

    def _default_name(self, obj) -> str:
        if self._name_of is not None:
            return self._name_of(obj)
        for attr in ("name", "cell_type", "__name__"):
            v = getattr(obj, attr, None)
            if isinstance(v, str) and v:
                return v
        raise ModelInputError(f"cannot tell the name of {obj!r}; register it with a name")

    def register(self, obj: T | None = None, *, name: str | None = None, replace: bool = False,
                 builtin: bool = False):
        """Register ``obj`` (also usable as a decorator, with or without arguments).

        ``builtin`` marks the package's own entries (what a model gets by default).

        Raises
        ------
        ModelInputError
            The name is taken by another entry and ``replace`` is false.
        """
        def add(o):
            n = name or self._default_name(o)
            old = self._entries.get(n)
            if old is not None and old is not o and not replace:
                raise ModelInputError(f"{self.kind} {n!r} is registered already (by "
                                      f"{getattr(old, '__module__', '?')}); choose another "
                                      f"name or pass replace=True")
            self._entries[n] = o
            if builtin and n not in self._builtin:
                self._builtin.append(n)
            return o

        return add if obj is None else add(obj)

    def unregister(self, name: str) -> None:
        """Remove an entry (tests use this to clean up)."""
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        """The entry called ``name``.

        Raises
        ------
        ModelInputError
            Unknown name, with the closest known one and the full list.
        """
        _load_builtins()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ModelInputError(
                f"unknown {self.kind} {name!r}{did_you_mean(name, self._entries)}; known: "
                f"{', '.join(sorted(self._entries))}") from None

    def instance(self, name: str):
        """The entry called ``name`` as an object.

        A registered instance is returned as it is; a registered class is instantiated
        with no arguments.

        Raises
        ------
        ModelInputError
            Unknown name (see :meth:`get`).
        """
        entry = self.get(name)
        return entry() if isinstance(entry, type) else entry

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        _load_builtins()
        return list(self._entries)

    def builtin_names(self) -> list[str]:
        """Names of the package's own entries, in registration order."""
        _load_builtins()
        return list(self._builtin)

    def items(self) -> list[tuple[str, T]]:
        """``(name, entry)`` pairs, in registration order."""
        _load_builtins()
        return list(self._entries.items())

    def __contains__(self, name) -> bool:
        _load_builtins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        _load_builtins()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<Registry of {len(self._entries)} {self.kind}s>"


CELL_TYPES: Registry = Registry("cell type")
PROCESSES: Registry = Registry("tissue process")
EVENT_KINDS: Registry = Registry("event kind")
REGION_SHAPES: Registry = Registry("region shape")
READOUT_KINDS: Registry = Registry("readout kind")
ROUTES: Registry = Registry("delivery route")


def import_plugins(modules, base_dir=None) -> None:
    """Import the modules a scenario names under ``plugins:`` (each registers its entries).

    Parameters
    ----------
    modules : sequence of str
        Importable module names (``my_lab.osteoclast``) or paths of ``.py`` files,
        relative to ``base_dir``.
    base_dir : path, optional
        Folder of the scenario file.

    Raises
    ------
    ModelInputError
        A module cannot be found or fails to import.
    """
    import importlib.util  # noqa: PLC0415
    import sys  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    for m in modules:
        m = str(m)
        try:
            if m.endswith(".py"):
                path = Path(m) if base_dir is None else Path(base_dir) / m
                if not path.is_file():
                    raise ModelInputError(f"plugin file {str(path)!r} not found")
                key = f"abm_plugin_{path.stem}_{abs(hash(str(path.resolve()))):x}"
                if key in sys.modules:
                    continue
                spec = importlib.util.spec_from_file_location(key, path)
                mod = importlib.util.module_from_spec(spec)
                sys.modules[key] = mod
                spec.loader.exec_module(mod)
            else:
                importlib.import_module(m)
        except ModelInputError:
            raise
        except ModuleNotFoundError as exc:
            raise ModelInputError(f"plugin {m!r} cannot be imported ({exc}); install it or put "
                                  f"it on PYTHONPATH, or give the path of a .py file") from None
        except Exception as exc:  # noqa: BLE001 - a plugin's own bug, reported in one line
            raise ModelInputError(f"plugin {m!r} failed to import: {type(exc).__name__}: {exc}") \
                from None
