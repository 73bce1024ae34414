"""Safe YAML → plain data with positions: the event-level half of engine.language.loader.

PyYAML's event parser (libyaml's ``CSafeLoader`` when available) feeds the builder below,
so no Python object is ever constructed from a tag, nesting is bounded without recursion
(an explicit stack, so a 100,000-deep ``[[[...`` cannot overflow anything), and aliases are
priced by the size of what they expand to before they are copied.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]
from yaml.constructor import SafeConstructor  # type: ignore[import-untyped,unused-ignore]
from yaml.resolver import Resolver  # type: ignore[import-untyped,unused-ignore]

from engine.errors import RulesetError, format_path
from engine.language.yaml_errors import NESTING_HINT, OpenFlow, nesting_message, syntax_error

try:  # libyaml is much faster; the pure-Python parser gives the same events.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

__all__ = ["DEFAULT_LIMITS", "Limits", "YamlReader", "too_big"]

Path_ = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALAR_TAGS = {_STR, _INT, _FLOAT, _BOOL, _NULL, "tag:yaml.org,2002:timestamp",
                "tag:yaml.org,2002:value"}
_DUPLICATE = "\0duplicate"  # stands in for a duplicate key whose value is dropped
_ScalarEvent, _MappingStartEvent, _MappingEndEvent = (
    yaml.ScalarEvent, yaml.MappingStartEvent, yaml.MappingEndEvent)
_SequenceStartEvent, _SequenceEndEvent = yaml.SequenceStartEvent, yaml.SequenceEndEvent


@dataclass(frozen=True)
class Limits:
    """Bounds that keep hostile or accidental input from exhausting the loader."""

    max_bytes: int = 1024 * 1024  # per file, UTF-8 encoded
    max_depth: int = 64  # nested mappings/sequences, the top-level mapping is 1
    max_alias_nodes: int = 10_000  # nodes produced by expanding aliases, per file
    max_alias_bytes: int = 1024 * 1024  # characters of scalars produced by aliases, per file


DEFAULT_LIMITS = Limits()


def too_big(name: str, limits: Limits) -> RulesetError:
    return RulesetError(name, 1, 1, "$", f"file is larger than {limits.max_bytes} bytes",
                        "Split the ruleset into a folder of files, one per section.")


class _Stop(Exception):
    """Raised inside the builder when a file cannot be read any further."""


class _Frame:
    __slots__ = ("anchor", "count", "flow", "height", "key", "key_mark", "merges", "path",
                 "record", "size", "value")

    def __init__(self, value: Any, path: Path_, record: bool, anchor: str | None) -> None:
        self.value = value
        self.path = path
        self.record = record  # False while building a duplicate key's (discarded) value
        self.key: str | None = None
        self.key_mark: tuple[int, int] | None = None
        self.anchor = anchor
        self.count = 1  # nodes in this subtree, used to price alias expansion
        self.size = 0  # characters of the scalars (keys included) in this subtree, likewise
        self.height = 1
        self.flow: OpenFlow | None = None  # a [...] or {...}: what it is and where it opened
        self.merges: list[tuple[Any, tuple[int, int]]] = []


_resolver = Resolver()
_constructor = SafeConstructor()


class YamlReader:
    """Turns one file's YAML events into data, positions and errors."""

    def __init__(self, name: str, limits: Limits) -> None:
        self.name = name
        self.limits = limits
        self.errors: list[RulesetError] = []
        self.positions: dict[Path_, tuple[int, int]] = {}
        self.key_positions: dict[Path_, tuple[int, int]] = {}
        self.anchors: dict[str, tuple[Any, int, int, int] | None] = {}
        self.alias_nodes = 0
        self.alias_bytes = 0
        self._stack: list[_Frame] = []  # the collections open at the current event

    # -- entry point -------------------------------------------------------------------
    def build(self, text: str) -> dict[str, Any] | None:
        if len(text.encode("utf-8")) > self.limits.max_bytes:
            self.errors.append(too_big(self.name, self.limits))
            return None
        try:
            root = self._run(text)
        except _Stop:
            return None
        except yaml.MarkedYAMLError as exc:
            flows = [frame.flow for frame in self._stack if frame.flow is not None]
            self.errors.append(syntax_error(self.name, exc, text, flows[-1] if flows else None,
                                            self.limits.max_depth))
            return None
        except yaml.YAMLError as exc:
            self._error((), f"YAML error: {exc}", at=(1, 1))
            return None
        if root is None:
            self._error((), "file is empty", "Start it with a top-level mapping of sections.",
                        at=(1, 1))
            return None
        if not isinstance(root, dict):
            self._error((), f"expected a mapping of sections at the top level, got "
                            f"{_kind(root)}")
            return None
        return root

    def _run(self, text: str) -> Any:
        loader = _Loader(text)
        try:
            return self._consume(loader.get_event)
        finally:
            loader.dispose()

    # -- event loop --------------------------------------------------------------------
    def _consume(self, next_event: Callable[[], Any]) -> Any:
        stack: list[_Frame] = []
        self._stack = stack
        root: list[Any] = []
        documents = 0
        plain: dict[str, Any] = {}  # plain scalar text → value, resolved once per file
        positions = self.positions
        while True:
            event = next_event()
            kind = type(event)
            if kind is _ScalarEvent:
                mark = event.start_mark
                mark = (mark.line + 1, mark.column + 1)
                top = stack[-1] if stack else None
                if top is not None and type(top.value) is dict:
                    if top.key is None:
                        self._key(top, event, mark)
                        continue
                    if event.anchor is None and event.tag is None and top.record \
                            and top.key not in ("<<", _DUPLICATE):
                        # the common case, inlined: a plain or quoted value in a mapping
                        if not event.implicit[0]:
                            value = event.value
                        elif event.value in plain:
                            value = plain[event.value]
                        else:
                            value = plain[event.value] = self._scalar(event, mark, stack)
                        path = (*top.path, top.key)
                        positions[path] = mark
                        top.value[top.key] = value
                        top.key = None
                        top.count += 1
                        top.size += len(event.value)
                        continue
                value = self._scalar(event, mark, stack)
                self._attach(stack, root, value, mark, False, 1, 1, len(event.value),
                             event.anchor)
            elif kind is _MappingStartEvent or kind is _SequenceStartEvent:
                self._open(stack, event, {} if kind is _MappingStartEvent else [])
            elif kind is _MappingEndEvent or kind is _SequenceEndEvent:
                frame = stack.pop()
                if frame.merges:
                    self._merge(frame)
                if frame.anchor is not None:
                    self.anchors[frame.anchor] = (frame.value, frame.count, frame.height,
                                                  frame.size)
                self._attach(stack, root, frame.value, None, True, frame.count, frame.height,
                             frame.size, None)
            elif kind is yaml.AliasEvent:
                self._alias(stack, root, event)
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    self._error((), "a ruleset file holds one YAML document, found another",
                                "Remove the second '---' or move it to its own file.",
                                at=_mark(event))
                    raise _Stop
            elif kind is yaml.StreamEndEvent or event is None:
                return root[0] if root else None

    def _open(self, stack: list[_Frame], event: Any, value: Any) -> None:
        mark = _mark(event)
        if event.tag not in (None, "!", _MAP, _SEQ):
            self._error(self._path_of(stack), f"unsupported YAML tag {event.tag}", at=mark)
            raise _Stop
        if len(stack) + 1 > self.limits.max_depth:
            self._error(self._path_of(stack), nesting_message(self.limits.max_depth),
                        NESTING_HINT, at=mark)
            raise _Stop
        parent = stack[-1] if stack else None
        path, record = self._child_path(parent)
        if record:
            self.positions[path] = parent.key_mark if parent and parent.key_mark else mark
        frame = _Frame(value, path, record, event.anchor)
        if event.flow_style:
            frame.flow = ("flow mapping" if type(value) is dict else "flow sequence", mark)
        stack.append(frame)
        if event.anchor is not None:
            self.anchors[event.anchor] = None  # being built: an alias to it would recurse

    def _key(self, frame: _Frame, event: Any, mark: tuple[int, int]) -> None:
        key = event.value
        frame.size += len(key)
        if key == "<<" and event.implicit[0] and event.tag is None:
            frame.key, frame.key_mark = "<<", mark
            return
        frame.key, frame.key_mark = key, mark
        if key in frame.value and frame.record:
            first = self.key_positions.get(frame.path + (key,))
            where = f" (first at line {first[0]})" if first else ""
            self._error(frame.path + (key,), f"duplicate key '{key}'{where}",
                        "A mapping may name each key once; remove or rename one of them.",
                        at=mark)
            frame.key = _DUPLICATE
        elif frame.record:
            self.key_positions[frame.path + (key,)] = mark

    def _attach(self, stack: list[_Frame], root: list[Any], value: Any,
                mark: tuple[int, int] | None, collection: bool, count: int, height: int,
                size: int, anchor: str | None) -> None:
        if anchor is not None:
            self.anchors[anchor] = (value, 1, 1, size)
        if not stack:
            root.append(value)
            return
        parent = stack[-1]
        parent.count += count
        parent.size += size
        parent.height = max(parent.height, height + 1)
        if type(parent.value) is list:
            if mark is not None and parent.record:
                self.positions[parent.path + (len(parent.value),)] = mark
            parent.value.append(value)
            return
        key = parent.key
        parent.key = None
        if key == "<<":
            parent.merges.append((value, parent.key_mark or (1, 1)))
            return
        if key is None or key == _DUPLICATE:
            return
        if mark is not None and parent.record:
            self.positions[parent.path + (key,)] = mark
        parent.value[key] = value

    def _child_path(self, parent: _Frame | None) -> tuple[Path_, bool]:
        if parent is None:
            return (), True
        if type(parent.value) is list:
            return parent.path + (len(parent.value),), parent.record
        key = parent.key
        if key is None:
            self._error(parent.path, "a mapping key must be a plain scalar, not a mapping or "
                        "sequence", at=self.positions.get(parent.path, (1, 1)))
            raise _Stop
        ok = parent.record and key not in ("<<", _DUPLICATE)
        return parent.path + (key,), ok

    def _path_of(self, stack: list[_Frame]) -> Path_:
        if not stack:
            return ()
        top = stack[-1]
        if type(top.value) is list:
            return top.path + (len(top.value),)
        key = top.key
        return top.path if key is None or key in ("<<", _DUPLICATE) else (*top.path, key)

    # -- scalars, aliases, merges --------------------------------------------------------
    def _scalar(self, event: Any, mark: tuple[int, int], stack: list[_Frame]) -> Any:
        value = event.value
        tag = event.tag
        if tag is None or tag == "!":
            if not event.implicit[0]:
                return value
            tag = _resolver.resolve(yaml.ScalarNode, value, event.implicit)
        if tag == _STR or tag not in _SCALAR_TAGS:
            if tag not in _SCALAR_TAGS:
                self._error(self._path_of(stack), f"unsupported YAML tag {tag}", at=mark)
            return value
        if tag == _INT:
            return _constructor.construct_yaml_int(yaml.ScalarNode(tag, value))
        if tag == _FLOAT:
            return self._decimal(value, mark, stack)
        if tag == _BOOL:
            return _constructor.bool_values[value.lower()]
        if tag == _NULL:
            return None
        return value  # timestamps and '=' stay as written

    def _decimal(self, text: str, mark: tuple[int, int], stack: list[_Frame]) -> Decimal | str:
        cleaned = text.replace("_", "")
        if ":" not in cleaned and "inf" not in cleaned.lower() and "nan" not in cleaned.lower():
            try:
                return Decimal(cleaned)
            except InvalidOperation:
                pass
        self._error(self._path_of(stack), f"number {text!r} cannot be read exactly",
                    "Write it as a plain decimal such as 1.25.", at=mark)
        return text

    def _alias(self, stack: list[_Frame], root: list[Any], event: Any) -> None:
        mark = _mark(event)
        path = self._path_of(stack)
        if event.anchor not in self.anchors:
            self._error(path, f"alias *{event.anchor} names no anchor defined before it", at=mark)
            raise _Stop
        target = self.anchors[event.anchor]
        if target is None:
            self._error(path, f"alias *{event.anchor} refers to a node that contains it",
                        at=mark)
            raise _Stop
        value, count, height, size = target
        self.alias_nodes += count
        self.alias_bytes += size
        too_many = self.alias_nodes > self.limits.max_alias_nodes
        if too_many or self.alias_bytes > self.limits.max_alias_bytes:
            what = f"{self.limits.max_alias_nodes} nodes" if too_many else \
                f"{self.limits.max_alias_bytes} characters of text"
            self._error(path, f"aliases expand to more than {what}",
                        "This looks like an alias bomb; write the data out or use fewer "
                        "aliases.", at=mark)
            raise _Stop
        if len(stack) + height > self.limits.max_depth + 1:
            self._error(path, f"nesting is deeper than {self.limits.max_depth} levels", at=mark)
            raise _Stop
        if isinstance(value, (dict, list)):
            value = copy.deepcopy(value)
        if stack and type(stack[-1].value) is dict and stack[-1].key is None:
            self._error(path, "an alias cannot be used as a mapping key", at=mark)
            raise _Stop
        self._attach(stack, root, value, mark, False, count, height, size, None)

    def _merge(self, frame: _Frame) -> None:
        for value, mark in frame.merges:
            sources = value if isinstance(value, list) else [value]
            for source in sources:
                if not isinstance(source, dict):
                    self._error(frame.path, "a merge key (<<) takes a mapping or a list of "
                                "mappings", at=mark)
                    continue
                for key, item in source.items():
                    frame.value.setdefault(key, item)

    # -- errors --------------------------------------------------------------------------
    def _error(self, path: Path_, message: str, hint: str | None = None,
               at: tuple[int, int] | None = None) -> None:
        line, col = at if at is not None else self.positions.get(path, (1, 1))
        self.errors.append(RulesetError(self.name, line, col, format_path(path), message, hint))


def _mark(event: Any) -> tuple[int, int]:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a sequence"
    if isinstance(value, str):
        return "a string"
    return "a scalar"
