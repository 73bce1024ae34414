"""Registry commands against something that is not a loyalty service: a web server that
answers HTML (200 or an error page) or JSON of another shape, and a URL that cannot be
parsed. Each is one line on
stderr and exit 1, never a traceback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_registry_service import loyalty

PAGE = b"<!DOCTYPE html>\n<html>\n  <body>\n    <h1>Welcome</h1>\n  </body>\n</html>\n"


@pytest.fixture
def web_server() -> Iterator[tuple[str, list[int], list[Any]]]:
    """A real HTTP server on loopback that answers every request with an HTML page (or the
    body and type set in the third item), with the status taken from the list (its last
    entry repeats)."""
    statuses = [200]
    body = [PAGE, "text/html; charset=utf-8"]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            self.send_response(statuses[0] if len(statuses) == 1 else statuses.pop(0))
            self.send_header("content-type", body[1])
            self.send_header("content-length", str(len(body[0])))
            self.end_headers()
            self.wfile.write(body[0])

        do_GET = do_POST = _serve

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", statuses, body
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize("args", [("rulesets", "list"), ("rulesets", "show", "retail", "1"),
                                  ("approve", "retail", "1"), ("activate", "retail", "1")])
def test_an_html_page_that_answers_200_is_one_line(web_server, tmp_path: Path,
                                                   args: tuple[str, ...]) -> None:
    url, _, _ = web_server
    result = loyalty(tmp_path, "lrk_x", *args, url=url)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        (f"error: the service at {url} answered 200 OK with text/html, not JSON; is {url} "
         "a loyalty service (`loyalty serve`)?")]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("status", [404, 500, 502])
def test_an_html_error_page_is_one_line(web_server, tmp_path: Path, status: int) -> None:
    url, statuses, _ = web_server
    statuses[:] = [status]
    result = loyalty(tmp_path, "lrk_x", "rulesets", "list", url=url)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: the service at {url} answered {status} ")
    assert "text/html" in lines[0] and "<" not in lines[0]


@pytest.mark.parametrize("url", ["http://[::1", "http://[::1]:port"])
def test_a_url_that_cannot_be_parsed_is_one_line(tmp_path: Path, url: str) -> None:
    result = loyalty(tmp_path, "lrk_x", "rulesets", "list", "--url", url)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --url / LOYALTY_URL {url!r} is "
                                                   "not a valid URL"), result.output


@pytest.mark.parametrize(("args", "answer", "what"), [
    (("rulesets", "list"), b"[]", "a JSON list, not an object"),
    (("rulesets", "list"), b"{}", "an object without 'programs'"),
    (("rulesets", "list"), b'{"programs": [{"program": "retail"}]}',
     "an object without 'live_version'"),
    (("rulesets", "show", "retail", "1"), b'{"version": 1}', "an object without 'sources'"),
    (("approve", "retail", "1"), b'"ok"', "a JSON str, not an object"),
    (("activate", "retail", "1"), b'{"ok": true}', "an object without"),
])
def test_json_of_another_shape_is_one_line(web_server, tmp_path: Path, args: tuple[str, ...],
                                           answer: bytes, what: str) -> None:
    url, _, body = web_server
    body[:] = [answer, "application/json"]
    result = loyalty(tmp_path, "lrk_x", *args, url=url)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: the service at {url} answered {what}"), lines[0]
    assert lines[0].endswith(f"is {url} a loyalty service (`loyalty serve`) of this version?")
