"""Access checks of the open streams, one pass every `CHECK_SECONDS` for the whole process.

SPEC §8: a token that expires or is revoked while streaming closes with 4001, and lost access
(ownership released, READ ended or revoked) with 4003, both within 5 s. Nothing pushes those
changes to the streams (an expiry is just time passing; DOT deletes a revoked token), so they
are polled: every `CHECK_SECONDS` one pass checks every authorised socket of the process, in one
database round trip for all tokens and one per distinct (user, object) question after that —
a manager watching 22 devices from one page costs a handful of queries per pass, not 22 ×
several. The same pass re-joins each stream's groups well before channels-redis forgets them
(`group_expiry`).
"""

import asyncio
import logging
import time
from typing import Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

# A pass every 2 s, so access lost is noticed within ~2 s plus a pass (SPEC: within 5 s).
CHECK_SECONDS = 2.0


def rejoin_seconds() -> float:
    """How often a stream re-joins its groups: a tenth of the layer's `group_expiry` (at least a
    minute, at most an hour), so a member is refreshed long before it would be forgotten."""
    return min(max(settings.CHANNEL_GROUP_EXPIRY / 10, 60.0), 3600.0)


class Watched(Protocol):
    """What a stream consumer offers the watcher."""

    def watch_check(self, memo: object) -> object:
        """Sync (runs in the database thread): this stream's verdict."""

    async def watch_verdict(self, verdict: object) -> None:
        """Async: act on the verdict (close, pick up new timeframes)."""

    async def groups_rejoin(self) -> None: ...


# Optional on a member: `watch_prefetch(memo)`, sync, called for every member before the checks
# of a pass, to note what it will ask so that one query answers many members (the timeframe
# streams: `streaming.access.timeframes_streamable_prefetch`).


class Watcher:
    """The open streams of one event loop (one daphne process), checked together."""

    def __init__(self) -> None:
        self.members: set[Watched] = set()
        self._task: asyncio.Task | None = None
        self._last_rejoin = time.monotonic()

    def add(self, member: Watched) -> None:
        self.members.add(member)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, member: Watched) -> None:
        self.members.discard(member)

    async def _run(self) -> None:
        from streaming.consumers import db  # the consumers' database thread

        while self.members:
            await asyncio.sleep(CHECK_SECONDS)
            members = list(self.members)
            if not members:
                break
            try:
                verdicts = await db(_check_all)(members)
            except Exception:
                logger.exception("stream access check failed; retrying in %s s", CHECK_SECONDS)
                continue
            for member, verdict in zip(members, verdicts, strict=True):
                if member in self.members:
                    try:
                        await member.watch_verdict(verdict)
                    except Exception:
                        logger.exception("stream access verdict failed")
            if time.monotonic() - self._last_rejoin >= rejoin_seconds():
                self._last_rejoin = time.monotonic()
                await asyncio.gather(
                    *(m.groups_rejoin() for m in list(self.members)), return_exceptions=True
                )


def _check_all(members: list[Watched]) -> list[object]:
    from streaming.access import Memo, tokens_live

    memo = Memo()
    live = tokens_live({m.token_id for m in members}, memo.now)  # type: ignore[attr-defined]
    memo.answers[("tokens-live",)] = live
    for member in members:
        prefetch = getattr(member, "watch_prefetch", None)
        if prefetch is not None:
            prefetch(memo)
    return [member.watch_check(memo) for member in members]


_watchers: dict[asyncio.AbstractEventLoop, Watcher] = {}


def watcher() -> Watcher:
    """The watcher of the running event loop (tests run one loop each)."""
    loop = asyncio.get_running_loop()
    for stale in [other for other in _watchers if other.is_closed()]:
        del _watchers[stale]
    if loop not in _watchers:
        _watchers[loop] = Watcher()
    return _watchers[loop]
