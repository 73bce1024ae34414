"""A real, small HTTP server on loopback for tests of outgoing calls (fulfilment webhook,
external points API, OAuth token endpoint; JSON or form bodies). It answers through a plain function and misbehaves on demand:
queue faults with `fail()`, `delay()`, `drop()` and `drop_after()`; each fault applies to
one request, in order."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl

Handler = Callable[["Request"], tuple[int, Any]]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""  # the body as sent (a signature covers these bytes)


@dataclass
class Fault:
    kind: str  # fail delay drop drop_after
    seconds: float = 0.0
    status: int = 503


@dataclass
class LoopbackServer:
    handle: Handler
    requests: list[Request] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def fail(self, times: int = 1, status: int = 503) -> None:
        self.faults.extend(Fault("fail", status=status) for _ in range(times))

    def delay(self, seconds: float, times: int = 1) -> None:
        """Answer late (the work is still done): a client with a shorter timeout gives up."""
        self.faults.extend(Fault("delay", seconds) for _ in range(times))

    def drop(self, times: int = 1) -> None:
        """Close the connection without doing anything or answering."""
        self.faults.extend(Fault("drop") for _ in range(times))

    def drop_after(self, times: int = 1) -> None:
        """Do the work, then close the connection without answering."""
        self.faults.extend(Fault("drop_after") for _ in range(times))

    def _next_fault(self) -> Fault | None:
        with self.lock:
            return self.faults.popleft() if self.faults else None

    def __enter__(self) -> Self:
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # the headers and the body leave in two writes: with Nagle's algorithm the
            # body waits for the client's delayed ACK of the headers (up to 40 ms a
            # request on a kept-alive connection)
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                form = "x-www-form-urlencoded" in (self.headers.get("content-type") or "")
                request = Request(self.command, self.path, {k.lower(): v for k, v in
                                                           self.headers.items()},
                                  dict(parse_qsl(raw.decode())) if form and raw else
                                  json.loads(raw) if raw else None, raw)
                with server.lock:
                    server.requests.append(request)
                fault = server._next_fault()
                if fault is not None and fault.kind == "drop":
                    self.close_connection = True
                    return
                if fault is not None and fault.kind == "fail":
                    status, body = fault.status, {"error": "injected failure"}
                else:
                    if fault is not None and fault.kind == "delay":
                        time.sleep(fault.seconds)
                    status, body = server.handle(request)
                if fault is not None and fault.kind == "drop_after":
                    self.close_connection = True
                    return
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout): nothing to answer
                    pass

            do_GET = do_POST = do_PUT = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@contextmanager
def fulfilment_webhook(monkeypatch: Any, timeout: float, attempts: int) -> Iterator[LoopbackServer]:
    """A fulfilment webhook on loopback that accepts every delivery, with the
    `LOYALTY_FULFILMENT_*` settings pointing at it (fast backoff)."""
    def accept(request: Request) -> tuple[int, Any]:
        return 202, {"accepted": request.body["redemption_id"]}

    with LoopbackServer(accept) as server:
        monkeypatch.setenv("LOYALTY_FULFILMENT_WEBHOOK_URL", server.url + "/fulfil")
        monkeypatch.setenv("LOYALTY_FULFILMENT_TIMEOUT_SECONDS", str(timeout))
        monkeypatch.setenv("LOYALTY_FULFILMENT_MAX_ATTEMPTS", str(attempts))
        monkeypatch.setenv("LOYALTY_FULFILMENT_BACKOFF_SECONDS", "0.01")
        yield server
