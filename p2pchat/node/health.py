"""Storage health: notice that commits fail, keep trying, and heal without a restart.

A full disk, an I/O error or a database locked by another program makes a commit fail. The
outbox then undoes the turn (nothing unsaved is acknowledged) and reports here. From then on
the node is "failing": it says so in its status and with a `storage` event, and probes the disk
with a tiny real commit every `probe_interval` seconds. The first commit that succeeds (a probe
or any real one) makes it "ok" again, and `on_recovered` asks the live links for whatever was
dropped meanwhile, so the senders' messages arrive and turn "delivered" within seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from p2pchat.core.error_words import in_words
from p2pchat.event_types import StorageEvent
from p2pchat.events import EventBus
from p2pchat.node.links import Spawn
from p2pchat.storage.store import Store, StoreError

log = logging.getLogger("p2pchat.node")

MAX_ERROR_CHARS = 300  # an error text is shown to the user; SQLite's are short
# While failing, a write waits this long for a lock, not the usual 5 s: the node must stay
# responsive while another program holds the database, and the probe finds the end of it.
FAILING_BUSY_MS = 100


class StorageHealth:
    def __init__(
        self,
        *,
        store: Callable[[], Store],
        events: EventBus,
        spawn: Spawn,
        on_failed: Callable[[], None],
        on_recovered: Callable[[], None],
        probe_interval: float = 0.5,
    ) -> None:
        self._store = store
        self._events = events
        self._spawn = spawn
        self._on_failed = on_failed
        self._on_recovered = on_recovered
        self._probe_interval = probe_interval
        self.error: str | None = None  # None while storage works
        self._prober: asyncio.Task[None] | None = None

    @property
    def failing(self) -> bool:
        """Whether the last commit failed and no commit has worked since."""
        return self.error is not None

    def view(self) -> dict[str, Any]:
        """The storage fields of `status`: "ok" or "failing", and the error."""
        return {"storage": "failing" if self.failing else "ok", "storage_error": self.error}

    def failed(self, exc: Exception) -> None:
        """A commit failed (the outbox has rolled the turn back)."""
        first = not self.failing
        self.error = str(exc)[:MAX_ERROR_CHARS] or in_words(exc)
        # What memory holds may now be ahead of the store: rebuild it, every time.
        self._on_failed()
        if first:
            self._set_busy(FAILING_BUSY_MS)
            log.error("storage is failing (%s); retrying, nothing unsaved is acknowledged",
                      self.error)
            self._events.emit(StorageEvent(type="storage", state="failing", error=self.error))
        if self._prober is None or self._prober.done():
            self._prober = self._spawn(self._probe(), "storage-probe")

    def committed(self) -> None:
        """A commit with writes in it succeeded."""
        if self.failing:
            self._recovered()

    async def _probe(self) -> None:
        while self.failing:
            await asyncio.sleep(self._probe_interval)
            if not self.failing:
                return
            try:
                self._store().probe()
            except StoreError as exc:
                self.error = str(exc)[:MAX_ERROR_CHARS]
                log.debug("storage still failing: %s", exc)
                continue
            self._recovered()

    def _set_busy(self, ms: int | None) -> None:
        try:
            self._store().set_busy_timeout(ms)
        except StoreError as exc:
            log.debug("could not change the busy timeout: %s", exc)

    def _recovered(self) -> None:
        self.error = None
        self._set_busy(None)
        log.warning("storage works again; asking live links for what was not kept")
        self._events.emit(StorageEvent(type="storage", state="ok"))
        self._on_recovered()
