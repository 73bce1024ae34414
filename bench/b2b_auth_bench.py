"""B2B manager authentication: what verifying a credential costs, in instructions counted
by callgrind (deterministic on a loaded machine), as ratios measured in one run.

    python bench/b2b_auth_bench.py [--n 200]

Each case runs in its own process under `valgrind --tool=callgrind` — the same setup (the
RSA key is made once, by this process, and read from a file), then n credentials — and
one process does the setup alone; the difference, divided by n, is the cost of one. The
baseline is a personal key's per-request work before its cache lookup (SHA-256 of the
key); against it, the service's TokenVerifier on an HS256 and an RS256 JWT (header,
issuer, signature, aud, exp/nbf, claims). Both then need the same manager lookup.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from store.b2b.tokens import TokenVerifier
from store.registry.keys import hash_key
from store.settings import JwtIssuer

SECRET = "bench-secret-0123456789-0123456789"
EXPIRES = int(datetime(2999, 1, 1, tzinfo=UTC).timestamp())
CASES = ("key", "hs256", "rs256")


def run_case(case: str, n: int, folder: str) -> None:
    """The measured process: set up, then verify `n` credentials of `case`."""
    private = serialization.load_pem_private_key(
        (Path(folder) / "idp.key").read_bytes(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    verifier = TokenVerifier([
        JwtIssuer(issuer="hs", audience="portal", algorithm="HS256", secret=SecretStr(SECRET)),
        JwtIssuer(issuer="rs", audience="portal", algorithm="RS256",
                  public_key_file=str(Path(folder) / "idp.pem"))])
    claims = {"aud": "portal", "sub": "alice", "program": "b2b-portal", "exp": EXPIRES}
    tokens = {"hs256": jwt.encode({**claims, "iss": "hs"}, SECRET, algorithm="HS256"),
              "rs256": jwt.encode({**claims, "iss": "rs"}, private, algorithm="RS256")}
    key = "lmk_" + "x" * 43
    for _ in range(n):
        if case == "key":
            hash_key(key)
        else:
            verifier.verify(tokens[case])


def instructions(case: str, n: int, folder: str) -> int:
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/callgrind.{case}.{n}",
         sys.executable, __file__, "--case", case, "--n", str(n), "--keys", folder],
        capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    assert found, done.stderr[-2000:]
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--keys", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        run_case(args.case, args.n, args.keys)
        return
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "idp.key").write_bytes(private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        (Path(folder) / "idp.pem").write_bytes(private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        setup = instructions("key", 0, folder)  # the same setup for every case
        per = {case: (instructions(case, args.n, folder) - setup) / args.n for case in CASES}
    base = per["key"]
    print(f"instructions per credential (callgrind, n={args.n})")
    for case, label in (("key", "personal key (SHA-256)"), ("hs256", "HS256 token"),
                        ("rs256", "RS256 token")):
        print(f"  {label:24} {per[case]:12,.0f}  {per[case] / base:8.1f}x")


if __name__ == "__main__":
    main()
