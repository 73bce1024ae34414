"""Runtime settings for the store and the HTTP service, read once from the environment."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./loyalty.db"


class Bucket(BaseModel):
    """A token bucket: `rate` requests a second on average, `burst` at once."""

    rate: float = Field(gt=0)
    burst: float = Field(ge=1)


class JwtIssuer(BaseModel):
    """An issuer whose JWTs (RFC 7519) authenticate the B2B portal's account managers:
    `sub` is the manager id, the `program_claim` names the program. One algorithm per
    issuer: a token signed otherwise is refused (no `none`, no HS/RS confusion)."""

    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(min_length=1, description="the `iss` its tokens carry")
    audience: str = Field(min_length=1, description="the `aud` its tokens must carry")
    algorithm: Literal["HS256", "RS256"] = Field(description="how its tokens are signed")
    secret: SecretStr | None = Field(None, description="HS256: the shared secret (at least "
                                     "32 bytes, RFC 7518 §3.2)")
    public_key_file: str | None = Field(None, description="RS256: a PEM public key file")
    jwks_file: str | None = Field(None, description="RS256: a JWKS file (RFC 7517); the "
                                  "token's `kid` picks the key")
    program: str | None = Field(None, description="the only program its tokens may name "
                                "(and the one they act in when they name none)")
    program_claim: str = Field("program", description="the claim naming the program")
    leeway_seconds: float = Field(30.0, ge=0, le=300, description="clock skew allowed on "
                                  "`exp` and `nbf`")

    @model_validator(mode="after")
    def _one_key(self) -> JwtIssuer:
        rsa = [k for k in (self.public_key_file, self.jwks_file) if k]
        if self.algorithm == "HS256" and (self.secret is None or rsa or
                                          len(self.secret.get_secret_value().encode()) < 32):
            raise ValueError(f"issuer {self.issuer!r}: HS256 needs a `secret` of at least 32 "
                             "bytes, and no RSA key")
        if self.algorithm == "RS256" and (self.secret or len(rsa) != 1):
            raise ValueError(f"issuer {self.issuer!r}: RS256 needs one of `public_key_file` "
                             "or `jwks_file`, and no `secret`")
        return self


Budget = Literal["quote", "write", "read", "admin"]
# Per worker process (api/ratelimit.py). Generous: they stop runaway clients, not traffic.
KEY_LIMITS: dict[Budget, Bucket | None] = {
    "quote": Bucket(rate=1000, burst=2000), "write": Bucket(rate=200, burst=400),
    "read": Bucket(rate=500, burst=1000), "admin": Bucket(rate=10, burst=50)}
MEMBER_LIMITS: dict[Budget, Bucket | None] = {
    "quote": Bucket(rate=50, burst=100), "write": Bucket(rate=20, burst=60),
    "read": Bucket(rate=50, burst=100)}


class Settings(BaseSettings):
    """All knobs of the service. Environment variables carry the `LOYALTY_` prefix."""

    model_config = SettingsConfigDict(env_prefix="LOYALTY_", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL; SQLite file by default, postgresql+psycopg://… in production",
    )
    max_body_bytes: int = Field(1_000_000, description="largest accepted request body")
    max_ruleset_bytes: int = Field(2_000_000, description="largest accepted ruleset upload")
    activation_check_seconds: float = Field(
        1.0,
        description="how often a worker re-reads the activation generation (0 = every "
        "request); an activation reaches every worker within this time",
    )
    api_key_cache_seconds: float = Field(5.0, description="how long a verified key is cached")
    rate_limits_enabled: bool = Field(True, description="refuse requests beyond the rate "
                                      "limits (429 rate_limited)")
    rate_limits: dict[Budget, Bucket | None] = Field(
        default_factory=lambda: dict(KEY_LIMITS), description="per API key and budget "
        "(JSON; budgets not given keep their default, null: unlimited)")
    member_rate_limits: dict[Budget, Bucket | None] = Field(
        default_factory=lambda: dict(MEMBER_LIMITS), description="per member and budget "
        "(JSON, as rate_limits)")
    max_future_skew_seconds: float = Field(
        300.0, ge=0, description="how far ahead of the server clock an instant in a request "
        "that records something (or a quote) may be; raise it to replay future-dated data "
        "on staging (points still never expire ahead of the clock)")
    pool_size: int = Field(
        8, description="database connections kept per worker; also the number of threads "
        "a worker runs handlers in, so no request waits for a connection")
    jobs_enabled: bool = Field(
        True, description="run the background jobs (store/jobs/scheduler.py) in every API worker; "
        "false when they run apart, under `loyalty jobs run`")
    fulfilment_dispatch_seconds: float = Field(
        15.0, ge=0, description="how often due webhook fulfilments are delivered (0 = never)")
    expiry_job_seconds: float = Field(
        3600.0, ge=0, description="how often points past their date are expired and "
        "timed-out checkout holds released (0 = never)")
    external_points_job_seconds: float = Field(
        30.0, ge=0, description="how often credits and debits owed to external points APIs "
        "are sent and unfinished debits settled (0 = never)")
    b2b_orders_job_seconds: float = Field(
        30.0, ge=0, description="how often the `b2b_orders` job runs: companies' orders past "
        "their approval time are cancelled, virtual items sent to the fulfilment API, orders "
        "a dead worker left placing settled (0 = never)")
    b2b_approval_hours: float = Field(
        72.0, gt=0, description="how long a company's order above its approval threshold "
        "waits for an approver, its stock reserved, before it expires")
    fulfilment_callback_secret: str | None = Field(
        None, description="shared secret of signed delivery callbacks (`whsec_<base64>`, "
        "POST /v1/fulfilment/callbacks); unset: callbacks are refused (401)")
    fulfilment_callback_tolerance_seconds: float = Field(
        300.0, gt=0, description="how far a callback's webhook-timestamp may be from the "
        "server clock")
    shadow_queue_size: int = Field(
        10_000, ge=1, description="live requests waiting for their shadow evaluation, per "
        "worker; beyond it they are dropped and counted, never waited for")
    shadow_check_seconds: float = Field(
        2.0, gt=0, description="how often a worker re-reads which programs have a version "
        "in shadow (the worker that starts or stops one knows at once)")
    cashback_payout_seconds: float = Field(
        86400.0, ge=0, description="how often members' unpaid cashback is paid out, the "
        "`cashback.payout` job (0 = never)")
    console_secret: str | None = Field(
        None, description="signs the web console's session cookies; the same value on every "
        "host and worker (unset: a random secret made once and kept in the database)")
    console_session_minutes: int = Field(
        480, ge=1, description="how long a console login lasts before it asks for the key again")

    b2b_jwt_issuers: list[JwtIssuer] = Field(
        default_factory=list, description="issuers of the JWTs account managers of the B2B "
        "portal may authenticate with (JSON list; see docs/b2b.md)")
    b2b_balance_cache_url: str | None = Field(
        None, description="Redis URL (redis://host:6379/0) of the short cache of companies' "
        "balances, shared by every worker (unset: a cache in each worker)")
    b2b_balance_cache_seconds: float = Field(
        10.0, ge=0, le=3600, description="how long a company's balance read from the "
        "external points API is reused on the portal (0: never)")

    @field_validator("rate_limits", "member_rate_limits", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any, info: Any) -> Any:
        """A setting changes the budgets it names; the others keep their default."""
        defaults = KEY_LIMITS if info.field_name == "rate_limits" else MEMBER_LIMITS
        return {**defaults, **value} if isinstance(value, dict) else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
