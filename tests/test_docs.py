"""The user documentation stands alone: it cites no document users do not have."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What users get: the README, the guides, and every example (scripts and data included).
USER_FILES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
                     *(p for p in (ROOT / "examples").rglob("*") if p.is_file())])


def test_user_docs_cite_no_design_document() -> None:
    assert len(USER_FILES) > 10
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for path in USER_FILES
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"\bDESIGN\b", line)]
    assert not found, "say what the design says instead of citing it:\n" + "\n".join(found)
