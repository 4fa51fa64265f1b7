"""The YAML tree of a scenario file.

Read with PyYAML's safe loader, the line of every key
(for line-precise messages), duplicate keys, and ``--set key.path=value`` overrides applied
before validation. See docs/scenario-format.md ("Overrides").
"""

from __future__ import annotations

import yaml

from .problems import ScenarioError, did_you_mean, fmt_path, typename

__all__ = ["read_tree", "line_map", "apply_override", "MAX_SCENARIO_BYTES", "MAX_YAML_VALUES"]

#: Largest scenario text read, bytes: a scenario is a few kB (large data go in mask files).
MAX_SCENARIO_BYTES = 1_000_000
#: Most values a scenario may hold once YAML aliases are expanded (a few thousand is usual).
MAX_YAML_VALUES = 200_000
#: Deepest nesting of mappings and lists.
MAX_YAML_DEPTH = 64


def check_size(n_bytes: int, name: str) -> None:
    """ScenarioError if a scenario text of ``n_bytes`` is over :data:`MAX_SCENARIO_BYTES`."""
    if n_bytes > MAX_SCENARIO_BYTES:
        raise ScenarioError(f"the scenario is {n_bytes / 1e6:.3g} MB, over the limit of "
                            f"{MAX_SCENARIO_BYTES / 1e6:g} MB; a scenario is a few kB: put large "
                            "data (masks) in .npy or .h5 files and name them under region: "
                            "{shape: mask, file: ...}", name)


def _check_flow_depth(text: str, name: str) -> None:
    """Refuse brackets nested deeper than ``MAX_YAML_DEPTH`` before the (recursive) parser runs."""
    depth = 0
    quote = None
    line = 1
    for ch in text:
        if ch == "\n":
            line += 1
            quote = None
        elif quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise ScenarioError(f"the YAML is nested more than {MAX_YAML_DEPTH} levels deep "
                                    "(brackets inside brackets); a scenario needs a few levels",
                                    name, line=line)
        elif ch in "]}":
            depth = max(0, depth - 1)


def _expanded_size(node, name: str) -> int:
    """Values under ``node`` with every alias expanded; ScenarioError past the limits.

    Shared nodes (aliases) are counted once per use without being expanded, so an
    "alias bomb" (a few lines that expand to billions of values) is refused at once.
    """
    memo: dict[int, int] = {}

    def size(n, depth):
        if depth > MAX_YAML_DEPTH:
            raise ScenarioError(f"the YAML is nested more than {MAX_YAML_DEPTH} levels deep; a "
                                "scenario needs a few levels", name, line=n.start_mark.line + 1)
        key = id(n)
        if key in memo:
            return memo[key]
        memo[key] = 0            # a recursive alias counts as nothing more
        if isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(k, depth + 1) + size(v, depth + 1) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(v, depth + 1) for v in n.value)
        else:
            total = 1
        if total > MAX_YAML_VALUES:
            raise ScenarioError(f"the YAML expands to more than {MAX_YAML_VALUES} values (aliases "
                                "such as *name repeat what an &name anchor holds, and repeated "
                                "again they multiply); write the values out, without nested "
                                "aliases", name, line=n.start_mark.line + 1)
        memo[key] = total
        return total

    return size(node, 0) if node is not None else 0


def read_tree(text: str, name: str):
    """Parse YAML text safely.

    Returns
    -------
    (object, dict, list)
        The data, the line of each key path (1-based), and duplicate keys as
        ``(path, line, first line)``.

    Raises
    ------
    ScenarioError
        Invalid YAML (with its line), or a top level that is not a mapping.
    """
    check_size(len(text.encode("utf-8", "surrogatepass")), name)
    _check_flow_depth(text, name)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        _expanded_size(node, name)
        data = yaml.safe_load(text)
    except RecursionError:
        raise ScenarioError(f"the YAML is nested too deeply (more than {MAX_YAML_DEPTH} levels); a "
                            "scenario needs a few levels", name) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        ctx = getattr(exc, "context", None)
        cmark = getattr(exc, "context_mark", None)
        if ctx and cmark is not None and mark is not None and cmark.line != mark.line:
            ctx += f" that starts on line {cmark.line + 1}"
        raise ScenarioError(f"invalid YAML: {problem}" + (f" ({ctx})" if ctx else "")
                            + "; check indentation, colons and quotes", name,
                            line=None if mark is None else mark.line + 1) from None
    if not isinstance(data, dict):
        raise ScenarioError("the top level must be a mapping of keys (name, domain, fields, ...), "
                            f"got {typename(data) if data is not None else 'an empty file'}",
                            name, line=1 if data is not None else None)
    lines, dups = line_map(node)
    return data, lines, dups


def line_map(node, path=(), out=None, dups=None):
    """Map key paths to 1-based lines; record duplicate keys."""
    if out is None:
        out, dups = {}, []
    if isinstance(node, yaml.MappingNode):
        seen = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k.value)
            if key in seen:
                dups.append((path + (key,), k.start_mark.line + 1, seen[key]))
            seen[key] = k.start_mark.line + 1
            out[path + (key,)] = k.start_mark.line + 1
            line_map(v, path + (key,), out, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out[path + (i,)] = v.start_mark.line + 1
            line_map(v, path + (i,), out, dups)
    return out, dups


def apply_override(data, text: str, src: str) -> tuple:
    """Apply one ``key.path=value`` override to the tree ``data`` in place.

    Returns
    -------
    tuple
        The key path set (integer parts index lists).

    Raises
    ------
    ScenarioError
        A malformed override, a path that does not exist, or a value that is not YAML.
    """
    if not isinstance(text, str) or "=" not in text:
        raise ScenarioError(f"malformed override {text!r}: write KEY.PATH=VALUE, e.g. "
                            f"'domain.dt=2 min'", src, where="--set")
    key, _, value_text = text.partition("=")
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ScenarioError(f"malformed override {text!r}: the key path is empty or has an empty "
                            f"part; write KEY.PATH=VALUE, e.g. 'domain.dt=2 min'", src, where="--set")
    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"cannot read the value {value_text.strip()!r} as YAML "
                            f"({getattr(exc, 'problem', None) or exc})", src,
                            where=f"--set {key}") from None
    cur, loc = data, []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        here = fmt_path(loc) or "the top level"
        if isinstance(cur, list):
            try:
                idx = int(part)
            except ValueError:
                raise ScenarioError(f"{here} is a list: use an index 0–{len(cur) - 1}, not "
                                    f"'{part}'", src, where=f"--set {key}") from None
            if not -len(cur) <= idx < len(cur):
                raise ScenarioError(f"{here} has {len(cur)} entries; index {idx} does not exist",
                                    src, where=f"--set {key}")
            idx %= len(cur)
            part_key = idx
        elif isinstance(cur, dict):
            part_key = part
            if part not in cur and not last:
                raise ScenarioError(f"{here} has no key '{part}'{did_you_mean(part, cur)}",
                                    src, where=f"--set {key}")
        else:
            raise ScenarioError(f"{here} is {typename(cur)}, not a mapping or list; cannot set "
                                f"'{part}' inside it", src, where=f"--set {key}")
        loc.append(part_key)
        if last:
            cur[part_key] = value
        else:
            if cur[part_key] is None and isinstance(cur, dict):
                cur[part_key] = {}
            cur = cur[part_key]
    return tuple(loc)
