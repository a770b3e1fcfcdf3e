"""Safe YAML and JSON loading that remembers where each value came from.

Only ``yaml.SafeLoader`` is used: no YAML tag can construct a Python object.
The loader returns the data and a map from JSON path (a tuple of keys and
indices) to the 1-based line of that value, so errors can name the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from tdm.errors import UserError

Loc = tuple[str | int, ...]


class JsonSafeLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates and times as strings, so every document is plain JSON data
    (a schema's ``2024-01-31`` means the string a JSON Schema validator sees)."""


JsonSafeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

#: the same loader on libyaml (PyYAML's C parser) when PyYAML was built with it: the
#: constructor and the resolvers are the same Python code, only the parsing is compiled
_FastLoader: Any = None
if getattr(yaml, "__with_libyaml__", False):

    class _CJsonSafeLoader(yaml.CSafeLoader):
        pass

    _CJsonSafeLoader.yaml_implicit_resolvers = JsonSafeLoader.yaml_implicit_resolvers
    _FastLoader = _CJsonSafeLoader


class Located:
    """Parsed document plus the line of every node."""

    def __init__(self, data: Any, lines: dict[Loc, int], path: str) -> None:
        self.data = data
        self.lines = lines
        self.path = path

    def line_of(self, loc: Loc) -> int | None:
        """Line of ``loc``, or of its nearest ancestor that has one."""
        loc = tuple(loc)
        while True:
            if loc in self.lines:
                return self.lines[loc]
            if not loc:
                return None
            loc = loc[:-1]


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], display: str) -> None:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            if key in seen and key != "<<":
                raise UserError(
                    f"duplicate key '{key}': YAML would silently keep only the last one; "
                    "remove or rename one of them",
                    path=display,
                    line=key_node.start_mark.line + 1,
                )
            seen.add(key)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*loc, key), lines, display)
            # the key's own line is the more useful one for a mapping value
            lines[(*loc, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), lines, display)


def _parse_fast(text: str) -> tuple[yaml.Node | None, Any] | None:
    """The node tree and the data, parsed once by libyaml; None when libyaml is missing or
    finds an error (the pure-Python parser then reports it, in its words)."""
    if _FastLoader is None:
        return None
    loader = _FastLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


def parse_yaml(text: str, display: str) -> Located:
    """Parse YAML text safely; a syntax error becomes a UserError with its line."""
    fast = _parse_fast(text)
    if fast is not None:
        found: dict[Loc, int] = {}
        if fast[0] is not None:
            _walk(fast[0], (), found, display)
        return Located(fast[1], found, display)
    try:
        node = yaml.compose(text, Loader=JsonSafeLoader)
        data = yaml.load(text, Loader=JsonSafeLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise UserError(
            f"malformed YAML: {problem}; fix the syntax at this line", path=display, line=line
        ) from None
    except yaml.YAMLError as exc:
        raise UserError(f"malformed YAML: {exc}", path=display) from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _walk(node, (), lines, display)
    return Located(data, lines, display)


def parse_json(data: bytes, display: str) -> Located:
    """Parse a JSON document; no line map beyond the error position."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UserError(f"malformed JSON: {exc}", path=display, line=exc.lineno) from None
    return Located(value, {}, display)


def load_document(path: Path, display: str) -> Located:
    """Load a YAML or JSON file (by extension) with line information."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError("file not found", path=display) from None
    except OSError as exc:
        raise UserError(f"cannot read file: {exc.strerror}", path=display) from None
    if path.suffix == ".json":
        return parse_json(raw, display)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError("file is not UTF-8 text", path=display) from None
    return parse_yaml(text, display)


def dump_yaml(data: Any) -> str:
    """Dump data as block-style YAML with keys in the given order."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
