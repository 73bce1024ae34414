"""A real PgBouncer (Debian's `pgbouncer`) in transaction pooling mode on a loopback port,
in front of the test PostgreSQL server, for the tests that run through it.

`LOYALTY_TEST_PGBOUNCER=true` (with `CI=true` or `LOYALTY_TEST_DATABASE_URL`) sends every
PostgreSQL test through one started lazily per test process (tests/store/db_support.py);
the store must then run with `LOYALTY_PGBOUNCER=true`, as a deployment behind it does.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

BINARY = "pgbouncer"


def binary() -> str | None:
    """The pgbouncer executable (Debian installs it in /usr/sbin), or None."""
    return shutil.which(BINARY) or shutil.which(BINARY, path="/usr/sbin:/usr/local/sbin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgBouncer:
    url: str  # the PostgreSQL URL given, with PgBouncer's host and port
    process: subprocess.Popen[bytes]
    directory: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text() if path.exists() else ""


def start(postgres_url: str, pool_size: int = 20, port: int | None = None) -> PgBouncer:
    """Start PgBouncer in transaction pooling mode in front of the server of `postgres_url`
    (every database name passes through, trust auth) on `port` (None: a free one); wait
    until it accepts connections."""
    exe = binary()
    if exe is None:
        raise RuntimeError("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    parsed = make_url(postgres_url)
    user = parsed.username or "postgres"
    port = port or _free_port()
    directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    directory.chmod(0o755)  # readable by the user it drops to when started as root
    (directory / "users.txt").write_text(f'"{user}" ""\n')
    (directory / "pgbouncer.ini").write_text(f"""\
[databases]
* = host={parsed.host or "127.0.0.1"} port={parsed.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory / "users.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits,options
""")
    args = [exe]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        args += ["-u", _unprivileged_user()]
    log = open(directory / "pgbouncer.log", "wb")  # noqa: SIM115  # the process keeps it
    process = subprocess.Popen([*args, str(directory / "pgbouncer.ini")], stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    bouncer = PgBouncer(parsed.set(host="127.0.0.1", port=port)
                        .render_as_string(hide_password=False), process, directory)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return bouncer
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                text = bouncer.log()
                bouncer.stop()
                raise RuntimeError(f"pgbouncer did not start:\n{text}") from None
            time.sleep(0.05)


def _unprivileged_user() -> str:
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("no unprivileged user to run pgbouncer as")


_SHARED: dict[str, PgBouncer] = {}


def shared(postgres_url: str) -> str:
    """The URL of this process's PgBouncer in front of `postgres_url`'s server (started on
    first use, stopped when the process exits)."""
    key = make_url(postgres_url).set(database="").render_as_string(hide_password=False)
    bouncer = _SHARED.get(key)
    if bouncer is None:
        bouncer = _SHARED[key] = start(postgres_url)
        atexit.register(bouncer.stop)
    return make_url(bouncer.url).set(database=make_url(postgres_url).database) \
        .render_as_string(hide_password=False)
