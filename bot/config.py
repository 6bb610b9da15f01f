"""The application's one configuration object: ``Settings``.

It extends ``ingest.config.IngestSettings`` (the knowledge base, the model, the limits) with what
only the application needs: the LLM, the database, Slack, logging and the knowledge loop.  Values
come from environment variables or a ``.env`` file; every field is documented in the README with
its default.  Nothing else in the code base reads ``os.environ``.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from ingest.config import PROJECT_ROOT, IngestSettings

__all__ = ["PROJECT_ROOT", "Settings", "get_settings"]


class Settings(IngestSettings):
    """Application settings (environment variables, case-insensitive, or ``.env``)."""

    # --- answer engine -------------------------------------------------------------------------
    # Empty: extractive answers only.  Otherwise an ``init_chat_model`` string such as
    # "openai:gpt-4o-mini" or "ollama:qwen2.5:7b".
    llm_model: str | None = Field(default=None, alias="LLM_MODEL")
    llm_base_url: str | None = Field(default=None, alias="LLM_BASE_URL")
    llm_api_key: str | None = Field(default=None, alias="LLM_API_KEY")
    llm_timeout_s: float = Field(default=20.0, alias="LLM_TIMEOUT_S")

    # --- records -------------------------------------------------------------------------------
    database_url: str | None = Field(default=None, alias="DATABASE_URL")

    # --- Slack ---------------------------------------------------------------------------------
    slack_bot_token: str | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")
    desk_channel_id: str | None = Field(default=None, alias="DESK_CHANNEL_ID")
    desk_staff_usergroup_id: str | None = Field(default=None, alias="DESK_STAFF_USERGROUP_ID")
    desk_staff_user_ids: str = Field(default="", alias="DESK_STAFF_USER_IDS")
    port: int = Field(default=3000, alias="PORT")
    workers: int = Field(default=1, alias="PPP_WORKERS")

    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    # "text" (one line per event) or "json" (one object per line, for log shippers).
    log_format: str = Field(default="text", alias="LOG_FORMAT")

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'ppp-desk.db'}"

    @property
    def staff_user_ids(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.desk_staff_user_ids.split(",") if u.strip())



@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; tests build their own ``Settings(...)`` instead of patching env."""
    return Settings()
