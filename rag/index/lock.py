"""One writer at a time for the embedded index, and a version stamp that tells readers to reopen.

Chroma's PersistentClient is not process-safe (Chroma's own system-constraints doc): every write
takes a file lock in the index folder (released by the OS when a writer is killed), and bumps a
stamp in the records that readers in other processes compare per question.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import IndexNotReadyError

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.index.records import ArticleRecords

LOCK_NAME = ".write.lock"


class WriteLock:
    """The single-writer lock of one index folder, and its version stamp."""

    def __init__(self, settings: Settings, folder: Path, records: Callable[[], ArticleRecords], make_dir) -> None:
        self.settings = settings
        self.dir = folder
        self._records = records
        self._make_dir = make_dir
        # version before -> version after, for each write this process made holding the file lock
        # (embedded store only: without the lock another replica may write in between).
        self._own: dict[str, str] = {}

    def version(self) -> str:
        return self._records().get_meta("version") or ""

    def changed_elsewhere(self, seen: str, now: str) -> bool:
        """False when the versions from `seen` to `now` were all bumped by this process's own
        writes, each made while it held the lock over the version before it."""
        while seen != now and seen in self._own:
            seen = self._own[seen]
        return seen != now

    @contextmanager
    def hold(self, on_wait: Callable[[str], None] | None = None, timeout: float = -1):
        """Hold the single-writer lock; tell `on_wait` if another process has it.

        Only the embedded store needs it: Chroma's PersistentClient is not process-safe. A Chroma
        server is one process that owns its files and serialises writes itself, and the records
        live in a database that handles concurrent writers, so server mode takes no file lock.
        """
        from filelock import FileLock, Timeout

        if self.settings.store == "server":
            try:
                yield
            finally:
                self.bump_version()
            return
        self._make_dir()
        lock = FileLock(str(self.dir / LOCK_NAME))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if on_wait:
                on_wait("Another process is writing the index; waiting for it to finish…")
            try:
                lock.acquire(timeout=timeout)
            except Timeout:
                raise IndexNotReadyError(
                    "The index is locked by another writer; try again when it has finished."
                ) from None
        try:
            before = self.version()
        except BaseException:
            lock.release()
            raise
        try:
            yield
        finally:
            after = self.bump_version()
            self._own[before] = after
            lock.release()

    def writer_active(self) -> bool:
        """True when another process holds the single-writer lock right now."""
        from filelock import FileLock, Timeout

        if self.settings.store == "server" or not (self.dir / LOCK_NAME).exists():
            return False
        lock = FileLock(str(self.dir / LOCK_NAME))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return True
        lock.release()
        return False

    def bump_version(self) -> str:
        version = f"{time.time():.6f}-{uuid.uuid4().hex[:8]}"
        self._records().set_meta("version", version)
        return version
