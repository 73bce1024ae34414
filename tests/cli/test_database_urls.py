"""A database URL that cannot work — not a URL, a database this platform does not support,
a server that does not answer, a SQLite file in a folder that does not exist — is one line
and exit 1 from every command, including those that may create a database (`db upgrade`,
`import`, `serve`), never a traceback; and nothing is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.server import free_port
from tests.cli.test_no_database_side_effects import run_in

BAD_URLS = [
    ("garbage", ("error: not a database URL: 'garbage' (e.g. sqlite:///./loyalty.db or "
                "postgresql://user@host/db)")),
    ("mysql://loyalty@db/loyalty", ("error: unsupported database 'mysql' in "
                                   "mysql://loyalty@db/loyalty: use sqlite:///… or "
                                   "postgresql://…")),
]


@pytest.mark.parametrize(("url", "line"), BAD_URLS)
@pytest.mark.parametrize("args", [("db", "upgrade"), ("keys", "list"),
                                  ("rulesets", "list")])
def test_a_url_that_cannot_work_is_one_line(tmp_path: Path, url: str, line: str,
                                            args: tuple[str, ...]) -> None:
    result = run_in(tmp_path, *args, "--database-url", url)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [line]
    assert list(tmp_path.iterdir()) == []


def test_upgrade_of_a_database_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    server = f"postgresql://u:secret@127.0.0.1:{free_port()}/loyalty"
    down = run_in(tmp_path, "db", "upgrade", "--database-url", server)
    assert down.exit_code == 1
    lines = down.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: cannot open the database at postgresql+psycopg://u:***@127.0.0.1:"), lines
    assert "secret" not in down.output

    missing = tmp_path / "no-such-folder" / "loyalty.db"
    nowhere = run_in(tmp_path, "db", "upgrade", "--database-url", f"sqlite:///{missing}")
    assert nowhere.exit_code == 1
    assert nowhere.output.strip().splitlines() == [
        f"error: cannot open the database at sqlite:///{missing}: unable to open database file"]
    assert list(tmp_path.iterdir()) == []
