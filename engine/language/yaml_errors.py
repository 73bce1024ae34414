"""PyYAML's syntax errors → located ruleset errors a person can act on.

A parser stops where it can go no further, which for an unclosed ``[``, ``{`` or quote
is often the end of the file, far from the mistake. PyYAML also says where the construct
it was reading started (the *context mark*); the error is reported there, and the stop
position — kept inside the file — is named in the message. Libyaml's own nesting limit
(PyYAML 6.0.3 and later stop a 1,000-deep document before the reader's 64-level limit
is reached) is reported in the reader's words, so every PyYAML version says the same.
"""

from __future__ import annotations

from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

from engine.errors import RulesetError

__all__ = ["OpenFlow", "nesting_message", "syntax_error"]

Mark = tuple[int, int]
OpenFlow = tuple[str, Mark]  # ("flow sequence" | "flow mapping", where it opened)
NESTING_HINT = "Flatten the structure; rulesets never need this much nesting."
_LIBYAML_MAX_DEPTH = 1000  # libyaml's default nesting limit

_UNCLOSED = {  # PyYAML's context → what is never closed, and how to close it
    "while parsing a flow sequence": (
        "flow sequence", ("Close it with ']', or write the items as a block list, one "
                          "'- item' per line.")),
    "while parsing a flow mapping": (
        "flow mapping", ("Close it with '}', or write the entries as a block mapping, one "
                         "'key: value' per line.")),
    "while scanning a quoted scalar": (
        "quoted string", ("Close the string with the quote it opened with (inside double "
                          "quotes write \\\" for a quote, inside single quotes '').")),
}
_IN_FLOW = "while parsing a flow"  # a flow node, sequence or mapping
_UNCLOSED_HINTS = dict(_UNCLOSED.values())
_IN_FLOW_HINT = ("Check the {what} up to where the parser stopped: items are separated by "
                 "commas, and a block entry ('- ' or an indented 'key: value') cannot appear "
                 "inside it; close it first, or write the whole value as a block.")


def nesting_message(max_depth: int) -> str:
    return f"nesting is deeper than {max_depth} levels"


def syntax_error(name: str, exc: yaml.MarkedYAMLError, text: str, open_flow: OpenFlow | None,
                 max_depth: int) -> RulesetError:
    """The located error for a PyYAML syntax error in file ``name`` holding ``text``;
    ``open_flow`` is the innermost flow collection the reader had opened when it stopped."""
    lines = _lines(text)
    stop = _clamp(_at(exc.problem_mark) or _at(exc.context_mark) or (1, 1), lines)
    opened = _at(exc.context_mark)
    problem = exc.problem or "invalid YAML"
    context = exc.context or ""
    if "maximum nesting depth" in problem:
        depth = min(max_depth, _LIBYAML_MAX_DEPTH)
        return RulesetError(name, *stop, "$", nesting_message(depth), NESTING_HINT)
    if context in _UNCLOSED and opened is not None and opened != stop:
        what, hint = _UNCLOSED[context]
        return _unclosed(name, what, _clamp(opened, lines), stop, lines, hint)
    if open_flow is not None and open_flow[1] < stop and context.startswith(_IN_FLOW):
        what, where = open_flow
        if _at_end(stop, lines):
            return _unclosed(name, what, where, stop, lines, _UNCLOSED_HINTS[what])
        return RulesetError(name, *where, "$",
                            f"YAML syntax error: {problem} inside the {what} opened here "
                            f"(the parser stopped at line {stop[0]}, column {stop[1]})",
                            _IN_FLOW_HINT.format(what=what))
    message = f"{problem} {context}".strip()
    if opened is not None and opened != stop and context:
        message += f" that starts at line {opened[0]}, column {opened[1]}"
    return RulesetError(name, *stop, "$", f"YAML syntax error: {message}",
                        _hint(problem, lines, stop))


def _unclosed(name: str, what: str, opened: Mark, stop: Mark, lines: list[str],
              hint: str) -> RulesetError:
    where = f"line {stop[0]}, column {stop[1]}"
    if _at_end(stop, lines):
        state = f"never closed (the parser stopped at {where})"
    else:
        found = lines[stop[0] - 1][stop[1] - 1:stop[1]]
        at = f", at {found!r}" if found.strip() else ""
        state = f"not closed (the parser stopped at {where}{at})"
    return RulesetError(name, *opened, "$", f"YAML syntax error: {what} opened here is {state}",
                        hint)


def _at_end(stop: Mark, lines: list[str]) -> bool:
    """Whether nothing but white space follows ``stop`` in the file."""
    if not lines:
        return True
    line, col = stop
    rest = [lines[line - 1][col - 1:], *lines[line:]]
    return not "".join(rest).strip()


def _hint(problem: str, lines: list[str], stop: Mark) -> str | None:
    line, col = stop
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    if "\t" in source_line[: max(col, 1)] or "\t" in source_line.lstrip(" ")[:1]:
        return "YAML indentation must use spaces, not tabs."
    if "quot" in problem or "scalar" in problem:
        return "Check for a quote that is opened but never closed."
    if "indent" in problem or "mapping" in problem or "block" in problem:
        return "Check the indentation of this line against the lines above it."
    return None


def _at(mark: Any) -> Mark | None:
    return (mark.line + 1, mark.column + 1) if mark is not None else None


def _lines(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no line of its own
    return lines


def _clamp(mark: Mark, lines: list[str]) -> Mark:
    """``mark`` kept inside the file: a parser that read past the last line stopped at its
    end."""
    line, col = mark
    if not lines:
        return (1, 1)
    if line > len(lines):
        return (len(lines), len(lines[-1]) + 1)
    return (max(line, 1), max(1, min(col, len(lines[line - 1]) + 1)))
