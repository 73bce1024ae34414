"""JUnit XML, as CI systems read it: the test cases of rule test suites (`loyalty test -o
junit`) and the checks of `loyalty ci`, written one way."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET


def plain(value: Any) -> Any:
    """A value as JSON shows it (decimals and dates as strings)."""
    return json.loads(json.dumps(value, default=str))


def failure_lines(result: Any) -> list[str]:
    """What a failed case of a rule test suite got wrong, one line each."""
    lines = [result.error] if result.error else []
    lines += [f"{f.field}: expected {json.dumps(plain(f.expected))}, "
              f"got {json.dumps(plain(f.actual))}" for f in result.failures]
    return lines


def case_element(parent: ET.Element, result: Any, name: str, classname: str) -> ET.Element:
    """A `<testcase>` for one case (or scenario) of a rule test suite; a failed one holds
    its failures and its explain trace."""
    case = ET.SubElement(parent, "testcase", name=name, classname=classname)
    if not result.passed:
        lines = failure_lines(result)
        failure = ET.SubElement(case, "failure", message=lines[0] if lines else "failed")
        failure.text = "\n".join(lines)
        if result.trace:
            ET.SubElement(case, "system-out").text = json.dumps(plain(result.trace), indent=1)
    return case


def xml_text(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
