"""JWTs (RFC 7519) that authenticate account managers, from the issuers the operator
configures (`LOYALTY_B2B_JWT_ISSUERS`, store/settings.py `JwtIssuer`).

A token is accepted only when all of this holds, else it is refused with a reason:
- its header names the algorithm its issuer signs with (HS256 or RS256, one per issuer):
  `none`, any other algorithm, and a token signed with the *other* of the two (an RS256
  issuer's public key used as an HS256 secret: algorithm confusion) are refused before
  any signature is checked;
- its `iss` is a configured issuer, and the signature checks with that issuer's key;
- `aud` holds the issuer's audience; `exp` is present and not past, `nbf` (when present)
  reached — both against the server clock, with the issuer's leeway;
- `sub` (the manager id) and the program claim are strings; an issuer bound to a
  program accepts no other.

The claims then name a manager (`store.b2b.managers.principal`), who must be active, of
an active company."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

import store.clock as clock
from store.settings import JwtIssuer

ALGORITHMS = ("HS256", "RS256")


class TokenRefused(Exception):
    """A token that does not authenticate anyone; `code` is the reason, for machines."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class TokenClaims:
    issuer: str
    program: str
    manager_id: str


class TokenVerifier:
    """Checks tokens against the configured issuers; keys are read once, when built."""

    def __init__(self, issuers: list[JwtIssuer]) -> None:
        self.issuers = {i.issuer: i for i in issuers}
        self._keys: dict[str, Any] = {i.issuer: _key_of(i) for i in issuers}

    def verify(self, token: str) -> TokenClaims:
        if not self.issuers:
            raise TokenRefused("token_issuer", "no token issuer is configured; authenticate "
                               "with a personal key")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise TokenRefused("token_malformed", f"the token cannot be read: {exc}") from exc
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise TokenRefused("token_algorithm", f"tokens signed with {algorithm!r} are not "
                               f"accepted (only {' or '.join(ALGORITHMS)})")
        named = unverified.get("iss")
        issuer = self.issuers.get(named) if isinstance(named, str) else None
        if issuer is None:
            raise TokenRefused("token_issuer", f"the token's issuer {named!r} "
                               "is not configured")
        if algorithm != issuer.algorithm:
            raise TokenRefused("token_algorithm", f"issuer {issuer.issuer!r} signs with "
                               f"{issuer.algorithm}; this token says {algorithm}")
        claims = self._checked(token, issuer, header)
        self._in_time(claims, issuer)
        return self._identity(claims, issuer)

    def _checked(self, token: str, issuer: JwtIssuer, header: dict[str, Any]) -> dict[str, Any]:
        key = self._keys[issuer.issuer]
        if isinstance(key, jwt.PyJWKSet):
            kid = header.get("kid")
            found = [k for k in key.keys if k.key_id == kid] if kid else list(key.keys)
            if len(found) != 1:
                raise TokenRefused("token_signature", f"issuer {issuer.issuer!r} has no "
                                   f"single key for kid {kid!r}")
            key = found[0].key
        try:
            # exp and nbf are checked against the server clock below, not the host's
            return jwt.decode(token, key, algorithms=[issuer.algorithm],
                              audience=issuer.audience, issuer=issuer.issuer,
                              options={"require": ["exp", "iss", "aud", "sub"],
                                       "verify_exp": False, "verify_nbf": False,
                                       "verify_iat": False})
        except jwt.InvalidAudienceError as exc:
            raise TokenRefused("token_audience", f"the token is not for this audience "
                               f"({exc}); expected {issuer.audience!r}") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenRefused("token_issuer", f"the token's issuer is wrong: {exc}") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRefused("token_claims", str(exc)) from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenRefused("token_signature", "the token's signature does not check "
                               f"with issuer {issuer.issuer!r}'s key") from exc
        except jwt.PyJWTError as exc:
            raise TokenRefused("token_malformed", f"the token is refused: {exc}") from exc

    @staticmethod
    def _in_time(claims: dict[str, Any], issuer: JwtIssuer) -> None:
        now = clock.now().timestamp()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        for name, value in (("exp", exp), ("nbf", nbf)):
            if value is not None and (isinstance(value, bool) or
                                      not isinstance(value, int | float)):
                raise TokenRefused("token_claims", f"`{name}` must be a number of seconds")
        assert exp is not None  # required above
        if now > exp + issuer.leeway_seconds:
            raise TokenRefused("token_expired", "the token has expired")
        if nbf is not None and now + issuer.leeway_seconds < nbf:
            raise TokenRefused("token_not_yet_valid", "the token is not valid yet (nbf)")

    @staticmethod
    def _identity(claims: dict[str, Any], issuer: JwtIssuer) -> TokenClaims:
        subject, program = claims.get("sub"), claims.get(issuer.program_claim, issuer.program)
        if not isinstance(subject, str) or not subject:
            raise TokenRefused("token_claims", "`sub` must name the manager")
        if not isinstance(program, str) or not program:
            raise TokenRefused("token_claims", f"`{issuer.program_claim}` must name the "
                               "program")
        if issuer.program is not None and program != issuer.program:
            raise TokenRefused("token_claims", f"issuer {issuer.issuer!r} serves program "
                               f"{issuer.program!r} only")
        return TokenClaims(issuer.issuer, program, subject)


class IssuerKeyInvalid(ValueError):
    """An issuer's configured key cannot be read (the service refuses to start)."""


def _key_of(issuer: JwtIssuer) -> Any:
    """The issuer's verification key: its secret, a PEM public key, or a JWKS."""
    if issuer.secret is not None:
        return issuer.secret.get_secret_value()
    path = Path(issuer.public_key_file or issuer.jwks_file or "")
    try:
        if issuer.public_key_file:
            return load_pem_public_key(path.read_bytes())
        return jwt.PyJWKSet.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, jwt.PyJWTError) as exc:
        raise IssuerKeyInvalid(f"LOYALTY_B2B_JWT_ISSUERS: issuer {issuer.issuer!r}: cannot "
                               f"read the key in {str(path)!r}: {exc}") from exc
