"""Property-based run over the B2B portal's operations: whatever the generated input, no
5xx, and a manager's answers never carry another company's data.

Path parameters are pinned to data that exists (program b2b-portal, company ACME and its
managers) so generated bodies reach the handlers; the admin routes run with an admin
key, the manager routes with ACME's company_admin's personal key (every role). Bounded:
25 examples per operation."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.api.b2b_fixtures import bearer
from tests.api.conftest import make_key

EXAMPLES = 25
EXISTING = {"program": "b2b-portal", "company_id": "ACME", "manager_id": "viewer"}


def test_no_server_errors_on_b2b_routes(app, db, client, companies):
    admin = bearer(make_key(db, "admin"))
    manager = bearer(companies["company_admin"])
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()
                  if "/companies" in result.ok().path]
    assert len(operations) >= 20
    for operation in operations:
        _exercise(operation, admin if "/admin/" in operation.path else manager, manager)


def _exercise(operation, headers, manager) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def exercise(case: schemathesis.Case) -> None:
        for name in case.path_parameters or {}:
            case.path_parameters[name] = EXISTING.get(name, case.path_parameters[name])
        response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
        if headers is manager:
            assert "GLOBEX" not in response.text and "gina" not in response.text

    exercise()
