"""Account managers authenticating with JWTs (RFC 7519) from configured issuers: HS256
and RS256 (a PEM public key, or a JWKS chosen by `kid`), with the expiry, not-before,
audience, issuer and algorithm checked against the server clock — `none`, a token
signed with the other algorithm (the RS256 issuer's public key used as an HMAC secret)
and a forged signature are refused, each with a 401 problem naming the reason."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

import store.b2b.managers as managers
from api.app import create_app
from store.settings import JwtIssuer, Settings
from tests.api.b2b_fixtures import BASE, bearer

SECRET = "s3cret-shared-with-the-identity-provider-0123456789"
NOW = datetime(2029, 1, 1, tzinfo=UTC)  # the server clock of these tests


@pytest.fixture(scope="module")
def rsa_keys():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, other, public_pem


@pytest.fixture
def token_client(db, companies, rsa_keys, tmp_path, server_clock):  # server_clock: frozen at NOW
    private, _, public_pem = rsa_keys
    (tmp_path / "idp.pem").write_bytes(public_pem)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1",
                                                              "use": "sig", "alg": "RS256"}]}))
    issuers = [
        JwtIssuer(issuer="https://hs.example", audience="loyalty-portal", algorithm="HS256",
                  secret=SECRET),
        JwtIssuer(issuer="https://rs.example", audience="loyalty-portal", algorithm="RS256",
                  public_key_file=str(tmp_path / "idp.pem")),
        JwtIssuer(issuer="https://jwks.example", audience="loyalty-portal", algorithm="RS256",
                  jwks_file=str(tmp_path / "jwks.json"), program="b2b-portal"),
    ]
    settings = Settings(database_url=db.url, api_key_cache_seconds=0, jobs_enabled=False,
                        b2b_jwt_issuers=issuers)
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as client:
        yield client


def claims(**over):
    base = {"iss": "https://hs.example", "aud": "loyalty-portal", "sub": "viewer",
            "program": "b2b-portal", "exp": int((NOW + timedelta(minutes=5)).timestamp()),
            "iat": int(NOW.timestamp())}
    return {k: v for k, v in {**base, **over}.items() if v is not None}


def hs(**over):
    return jwt.encode(claims(**over), SECRET, algorithm="HS256")


def rs(key, iss="https://rs.example", kid=None, **over):
    return jwt.encode(claims(iss=iss, **over), key, algorithm="RS256",
                      headers={"kid": kid} if kid else None)


def get(client, token, company="ACME"):
    return client.get(f"{BASE}/companies/{company}", headers=bearer(token))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_good_tokens_of_each_kind_resolve_to_the_manager(token_client, rsa_keys):
    private, _, _ = rsa_keys
    for token in (hs(), rs(private), rs(private, iss="https://jwks.example", kid="k1")):
        r = get(token_client, token)
        assert r.status_code == 200, r.text
        assert r.json()["company_id"] == "ACME"


def test_the_role_comes_from_the_manager_record_not_the_token(token_client):
    r = token_client.post(f"{BASE}/companies/ACME/managers",
                          headers=bearer(hs(sub="viewer", role="company_admin")),
                          json={"manager_id": "x", "name": "X", "email": "x@a.example",
                                "role": "viewer"})
    assert (r.status_code, r.json()["code"]) == (403, "forbidden_role")


@pytest.mark.parametrize(("token", "code"), [
    (lambda k: hs(exp=int((NOW - timedelta(minutes=5)).timestamp())), "token_expired"),
    (lambda k: hs(nbf=int((NOW + timedelta(minutes=5)).timestamp())), "token_not_yet_valid"),
    (lambda k: hs(aud="someone-else"), "token_audience"),
    (lambda k: hs(iss="https://evil.example"), "token_issuer"),
    (lambda k: hs(exp=None), "token_claims"),
    (lambda k: hs(sub=None), "token_claims"),
    (lambda k: hs(program=None), "token_claims"),
    (lambda k: hs(exp="tomorrow"), "token_claims"),
    (lambda k: jwt.encode(claims(), "another-secret-of-the-same-length-0123456789",
                          algorithm="HS256"), "token_signature"),
    (lambda k: rs(k[1]), "token_signature"),  # signed by another key
    (lambda k: rs(k[1], iss="https://jwks.example", kid="k1"), "token_signature"),
    (lambda k: rs(k[0], iss="https://jwks.example", kid="nope"), "token_signature"),
    (lambda k: rs(k[0], iss="https://jwks.example", program="retail"), "token_claims"),
    (lambda k: "not.a.token", "token_malformed"),
    (lambda k: "eyJhbGciOiJIUzI1NiJ9", "token_malformed"),
], ids=["expired", "not-yet-valid", "wrong-audience", "wrong-issuer", "no-exp", "no-sub",
        "no-program", "exp-not-a-number", "forged-hs", "forged-rs", "forged-jwks", "unknown-kid",
        "issuer-bound-to-program", "garbage", "header-only"])
def test_bad_tokens_are_401_with_the_reason(token_client, rsa_keys, token, code):
    r = get(token_client, token(rsa_keys))
    assert r.status_code == 401, r.text
    assert r.json()["code"] == code, r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["www-authenticate"] == "Bearer"


def test_alg_none_is_refused(token_client):
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    unsigned = f"{header}.{b64(json.dumps(claims()).encode())}."
    r = get(token_client, unsigned)
    assert (r.status_code, r.json()["code"]) == (401, "token_algorithm")


def test_hs256_signed_with_the_rs256_public_key_is_refused(token_client, rsa_keys):
    """Algorithm confusion: the RS256 issuer's public key (which anyone may know) used as
    an HMAC secret. Signed by hand: PyJWT itself refuses to use a PEM key for HMAC."""
    _, _, public_pem = rsa_keys
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims(iss="https://rs.example")).encode())
    mac = hmac.HMAC(public_pem, hashes.SHA256())
    mac.update(f"{header}.{body}".encode())
    forged = f"{header}.{body}.{b64(mac.finalize())}"
    r = get(token_client, forged)
    assert (r.status_code, r.json()["code"]) == (401, "token_algorithm")


def test_rs256_for_an_hs256_issuer_is_refused(token_client, rsa_keys):
    r = get(token_client, rs(rsa_keys[0], iss="https://hs.example"))
    assert (r.status_code, r.json()["code"]) == (401, "token_algorithm")


def test_a_token_of_an_unknown_or_deactivated_manager_is_refused(token_client, db):
    r = get(token_client, hs(sub="nobody"))
    assert (r.status_code, r.json()["code"]) == (401, "unknown_manager")
    with db.writing() as session:
        managers.deactivate(session, "b2b-portal", "ACME", "viewer")
    assert get(token_client, hs()).status_code == 401


def test_a_token_reaches_only_its_company(token_client):
    r = get(token_client, hs(sub="company-admin"), company="GLOBEX")
    assert (r.status_code, r.json()["code"]) == (404, "unknown_company")
    assert get(token_client, hs(sub="gina"), company="GLOBEX").status_code == 200


def test_leeway_allows_a_little_clock_skew(token_client):
    just_expired = int((NOW - timedelta(seconds=10)).timestamp())
    assert get(token_client, hs(exp=just_expired)).status_code == 200
