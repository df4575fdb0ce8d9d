"""Documents sent by admins: name and size checks, validation in the sandbox, then an atomic store.

A file is downloaded into a staging folder (data_dir/uploads, never knowledge/), parsed in the
sandbox, and only a document that parses and has text is copied into knowledge/ (temporary name,
then rename). A file whose name already exists waits in staging under a random token until the
admin confirms or refuses the replacement; the token, not the name, travels in the button.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import secrets
import shutil
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.search.loaders import MANIFEST_NAME, SUPPORTED_SUFFIXES, ParseLimits, UnreadableDocumentError
from bot.search.models import Document

STAGING = "uploads"
PENDING_TTL_SECONDS = 3600
TOKEN_BYTES = 12  # 16 URL-safe characters
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16}$")
_MB = 1024 * 1024


class UploadRejectedError(Exception):
    """An upload refused before or during validation; `kind` says why, `reason` explains it."""

    def __init__(self, kind: str, reason: str = "") -> None:
        self.kind = kind  # "path" | "name" | "type" | "size" | "unreadable"
        self.reason = reason
        super().__init__(reason or kind)


@dataclass(frozen=True)
class Staged:
    """A downloaded upload waiting in the staging folder."""

    token: str
    name: str
    path: Path


def check_name(file_name: str | None) -> str:
    """The name to store under in knowledge/; raises UploadRejectedError (path, name or type)."""
    raw = unicodedata.normalize("NFC", file_name or "").strip()
    if "/" in raw or "\\" in raw or "\x00" in raw:
        raise UploadRejectedError("path")
    suffix = Path(raw).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UploadRejectedError("type")
    base = re.sub(r"[^\w.\- ]", "_", raw).strip(" .")
    stem = Path(base).stem
    if not stem or raw.startswith(".") or base.lower() == MANIFEST_NAME:
        raise UploadRejectedError("name")
    return f"{stem[:100]}{suffix}"


def check_size(size: int | None, settings: Settings) -> None:
    """Refuse a file over MAX_UPLOAD_MB (Telegram's declared size, or the size actually downloaded)."""
    if size is not None and size > settings.max_upload_mb * _MB:
        raise too_big(size)


def too_big(size: int | None) -> UploadRejectedError:
    """The refusal of a file that is too large (size in bytes, if known)."""
    return UploadRejectedError("size", f"{(size or 0) / _MB:.1f}" if size else "?")


class DocumentStore:
    """knowledge/ plus the staging folder where uploads wait for validation or confirmation."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.knowledge = settings.knowledge_dir
        self.staging = settings.data_dir / STAGING

    def stage(self, name: str) -> Staged:
        """A fresh staging path for an upload (expired leftovers are removed first)."""
        self.staging.mkdir(parents=True, exist_ok=True)
        self.purge_expired()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        return Staged(token, name, self.staging / f"{token}{Path(name).suffix}")

    def validate(self, staged: Staged) -> Document:
        """Check the real size and parse the file in the sandbox; raises UploadRejectedError."""
        from bot.search.sandbox import parse_file

        check_size(staged.path.stat().st_size, self._settings)
        try:
            return parse_file(staged.path, None, ParseLimits.from_settings(self._settings))
        except UnreadableDocumentError as exc:
            raise UploadRejectedError("unreadable", str(exc)) from exc

    def exists(self, name: str) -> bool:
        """True if knowledge/ already holds a document of this name."""
        return (self.knowledge / name).is_file()

    def same_as_stored(self, staged: Staged) -> bool:
        """True if the staged file is byte for byte the stored document of the same name."""
        return self.exists(staged.name) and filecmp.cmp(staged.path, self.knowledge / staged.name, shallow=False)

    def store(self, staged: Staged) -> None:
        """Copy into knowledge/ under a hidden temporary name, then rename over the final name."""
        self.knowledge.mkdir(parents=True, exist_ok=True)
        partial = self.knowledge / f".{staged.name}.{staged.token}.part"
        try:
            shutil.copyfile(staged.path, partial)
            os.replace(partial, self.knowledge / staged.name)
        finally:
            partial.unlink(missing_ok=True)
            self.discard(staged)

    def hold(self, staged: Staged) -> None:
        """Keep a validated upload until the admin confirms the replacement (token → name)."""
        meta = {"name": staged.name, "created": time.time()}
        self._meta_path(staged.token).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    def take(self, token: str) -> Staged | None:
        """The held upload of a token (and forget it), or None if forged, unknown or expired."""
        if not _TOKEN_RE.fullmatch(token):
            return None
        meta_path = self._meta_path(token)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            meta_path.unlink()
        except (OSError, ValueError):
            return None
        name = str(meta.get("name", ""))
        staged = Staged(token, name, self.staging / f"{token}{Path(name).suffix}")
        if time.time() - float(meta.get("created", 0)) > PENDING_TTL_SECONDS or not staged.path.is_file():
            self.discard(staged)
            return None
        return staged

    def discard(self, staged: Staged) -> None:
        """Delete a staged upload and its pending record."""
        staged.path.unlink(missing_ok=True)
        self._meta_path(staged.token).unlink(missing_ok=True)

    def purge_expired(self) -> None:
        """Remove staged files older than the pending time-to-live."""
        cutoff = time.time() - PENDING_TTL_SECONDS
        for path in self.staging.iterdir() if self.staging.is_dir() else []:
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                continue

    def _meta_path(self, token: str) -> Path:
        """Where a pending replacement's record lives."""
        return self.staging / f"{token}.json"
