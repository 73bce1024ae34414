"""Runtime settings for the store and the HTTP service, read once from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./loyalty.db"


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
    max_future_skew_seconds: float = Field(
        300.0, ge=0, description="how far ahead of the server clock an instant in a request "
        "that records something (or a quote) may be; raise it to replay future-dated data "
        "on staging (points still never expire ahead of the clock)")
    pool_size: int = Field(
        8, description="database connections kept per worker; also the number of threads "
        "a worker runs handlers in, so no request waits for a connection")
    jobs_enabled: bool = Field(
        True, description="run the background jobs (store/jobs.py) in every API worker; "
        "false when they run apart, under `loyalty jobs run`")
    fulfilment_dispatch_seconds: float = Field(
        15.0, ge=0, description="how often due webhook fulfilments are delivered (0 = never)")
    expiry_job_seconds: float = Field(
        3600.0, ge=0, description="how often points past their date are expired and "
        "timed-out checkout holds released (0 = never)")
    external_points_job_seconds: float = Field(
        30.0, ge=0, description="how often credits and debits owed to external points APIs "
        "are sent and unfinished debits settled (0 = never)")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
