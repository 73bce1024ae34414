"""Where registry commands send their work: the running service (HTTP, with an API key),
or — only when asked for explicitly — a database, through the store's functions.

`--url` / `LOYALTY_URL` names the service (default: the local `loyalty serve` address);
`--database-url` / `LOYALTY_DATABASE_URL` a database. A command-line option wins over the
environment; both at the same level is a usage error.
"""

from __future__ import annotations

import json as json_module
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote

import click
from click.core import ParameterSource

from cli.output import EXIT_INVALID_RULESET, fail

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT_SECONDS = 60.0
F = TypeVar("F", bound=Callable[..., Any])


def target_options(fn: F) -> F:
    """`--url` and `--database-url` (each also from the environment)."""
    fn = click.option("--database-url", envvar="LOYALTY_DATABASE_URL", default=None,
                      help="work on this database directly instead of the service (env "
                           "LOYALTY_DATABASE_URL); it must exist (`loyalty db upgrade`)")(fn)
    return click.option("--url", envvar="LOYALTY_URL", default=None,
                        help=f"the loyalty service (env LOYALTY_URL; default {DEFAULT_URL}); "
                             "authenticates with the key in LOYALTY_KEY")(fn)


@dataclass
class Target:
    """A service URL, or a database URL (`url` None)."""

    url: str | None
    database_url: str | None

    @property
    def direct(self) -> bool:
        return self.database_url is not None


def target(url: str | None, database_url: str | None) -> Target:
    """Resolve the options of `target_options` for the running command."""
    ctx = click.get_current_context()
    if url and database_url:
        sources = (ctx.get_parameter_source("url"), ctx.get_parameter_source("database_url"))
        if sources[0] == ParameterSource.COMMANDLINE and sources[1] != ParameterSource.COMMANDLINE:
            database_url = None
        elif sources[1] == ParameterSource.COMMANDLINE and sources[0] != ParameterSource.COMMANDLINE:
            url = None
        else:
            fail("both a service URL (--url / LOYALTY_URL) and a database URL (--database-url / "
                 "LOYALTY_DATABASE_URL) are given; pass one")
    if database_url:
        return Target(None, database_url)
    return Target((url or DEFAULT_URL).rstrip("/"), None)


class Service:
    """A thin client of the HTTP API: JSON in, JSON out; any problem becomes one line on
    stderr and exit 1 (exit 3 with every located error for an invalid ruleset)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.key = os.environ.get("LOYALTY_KEY", "").strip()

    def call(self, method: str, path: str, json: Any = None,
             params: dict[str, Any] | None = None) -> Any:
        import httpx

        if not self.key:
            fail("no API key: set LOYALTY_KEY to a key of the service at "
                 f"{self.url} (`loyalty keys create`, run where its database is)")
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = httpx.request(method, self.url + path, json=json, params=query,
                                     headers=headers, timeout=TIMEOUT_SECONDS)
        except httpx.InvalidURL as exc:
            fail(f"--url / LOYALTY_URL {self.url!r} is not a valid URL ({exc})")
        except httpx.HTTPError as exc:
            self._unreachable(exc)
        if response.is_success:
            try:
                answer = json_module.loads(response.content, object_hook=self._answer)
            except ValueError:
                fail(f"the service at {self.url} answered {self._status(response)}, not JSON; "
                     f"is {self.url} a loyalty service (`loyalty serve`)?")
            if not isinstance(answer, Answer):
                self._unexpected(f"a JSON {type(answer).__name__}, not an object")
            return answer
        self._problem(response)

    def _answer(self, fields: dict[str, Any]) -> Answer:
        return Answer(fields, service=self)

    def _unexpected(self, what: str) -> NoReturn:
        fail(f"the service at {self.url} answered {what}; is {self.url} a loyalty service "
             "(`loyalty serve`) of this version?")

    @staticmethod
    def _status(response: Any) -> str:
        """`404 Not Found with text/html`: what answered, on one line."""
        kind = response.headers.get("content-type", "").split(";")[0].strip() or "no body type"
        return f"{response.status_code} {response.reason_phrase} with {kind}"

    def _unreachable(self, exc: Exception) -> NoReturn:
        fail(f"cannot reach the loyalty service at {self.url} ({type(exc).__name__}); start it "
             "with `loyalty serve`, or pass --url / LOYALTY_URL (a database directly: "
             "--database-url)")

    def _problem(self, response: Any) -> NoReturn:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "code" not in body:
            # Not a problem of the service: a proxy's or another server's page. Its text is
            # shown on the line only when it is not markup.
            text = " ".join(response.text.split())[:200]
            shown = f": {text}" if text and "html" not in response.headers.get("content-type", "") else ""
            fail(f"the service at {self.url} answered {self._status(response)}{shown}")
        if body["code"] == "invalid_ruleset":
            for error in body.get("errors") or []:
                click.echo(error.get("text") or error.get("message"), err=True)
            fail(f"invalid_ruleset: {body.get('detail')}", EXIT_INVALID_RULESET)
        fail(problem_line(body))


class Answer(dict[str, Any]):
    """A JSON object the service answered. A field the command needs and the answer lacks
    (another server, or a service of another version) is one line and exit 1, not a
    traceback."""

    def __init__(self, fields: dict[str, Any], service: Service) -> None:
        super().__init__(fields)
        self._service = service

    def __missing__(self, key: str) -> NoReturn:
        self._service._unexpected(f"an object without {key!r}")

    def pop(self, key: str, *default: Any) -> Any:
        if key not in self and not default:
            self.__missing__(key)
        return super().pop(key, *default)


def plain(answer: Any) -> Any:
    """An answer as plain dicts and lists: for code that probes for keys that may be
    absent (a report's template), where an Answer would fail on the first one."""
    if isinstance(answer, dict):
        return {k: plain(v) for k, v in answer.items()}
    if isinstance(answer, list):
        return [plain(v) for v in answer]
    return answer


def segment(value: str) -> str:
    """A path segment as typed (a program name), escaped so it stays one segment."""
    return quote(value, safe="")


def problem_line(body: dict[str, Any]) -> str:
    """`code: detail (at <field>)` of a problem+json body."""
    line = f"{body['code']}: {body.get('detail', '')}"
    where = body.get("pointer")
    errors = body.get("errors") or []
    if errors:
        first = errors[0]
        where = first.get("pointer") or first.get("parameter") or where
        if first.get("message") and body["code"] == "invalid_request":
            line = f"{body['code']}: {first['message']}"
    return f"{line} (at {where})" if where else line
