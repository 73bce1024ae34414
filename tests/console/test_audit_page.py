"""The console's audit log pages through entries and filters them (no browser needed)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from store.db.database import Database
from store.registry import keys
from tests.console.conftest import console_app, form_log_in


def test_pages_and_filters(db: Database) -> None:
    with db.writing() as session:
        admin = keys.create(session, ["admin"], name="admin")[0]
        for i in range(54):
            keys.create(session, ["evaluate"], name=f"till {i}")
    with TestClient(console_app(db)) as client:
        assert form_log_in(client, admin).status_code == 303
        first = client.get("/console/audit?action=key.create")
        assert first.status_code == 200
        assert first.text.count('<td><code>key.create</code></td>') == 50
        older = re.search(r'<a href="(/console/audit\?[^"]+)" rel="next">', first.text)
        assert older, "a link to the older entries"
        second = client.get(older.group(1).replace("&amp;", "&"))
        assert second.text.count('<td><code>key.create</code></td>') == 5
        assert 'rel="next"' not in second.text and "Newest entries" in second.text

        none = client.get("/console/audit?action=ruleset.rollback&program=&from=&to=")
        assert "No entry matches." in none.text
        bad = client.get("/console/audit?from=yesterday")
        assert bad.status_code == 422 and "from: " in bad.text  # the field is named
