"""A worker's side of the shard leases: renew, take, steal, release. The lease table is injected.

One `round()` every few seconds: renew what we hold (a failed renewal means another worker took
it), make sure every leasable shard has a lease, reclaim our own leases from before a restart
(same worker id), then take or steal what `plan_leases` says. Between rounds, every batch's
range is written to its lease (`record_batch`), which renews it too and fences a worker that
lost the lease: its write fails, so it never invokes a batch it does not hold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from clickstream.emulated.event_source_mapping.leases import Lease, plan_leases

log = logging.getLogger(__name__)


class LeaseStore(Protocol):
    def load(self) -> dict[str, Lease]: ...
    def ensure(self, shard: str) -> None: ...
    def take(self, lease: Lease, *, me: str, now: float) -> Lease | None: ...
    def renew(self, lease: Lease, *, me: str, now: float) -> Lease | None: ...
    def record_batch(self, lease: Lease, first: int, last: int, *, me: str, now: float) -> Lease | None: ...
    def release(self, lease: Lease, *, me: str) -> bool: ...
    def finish(self, lease: Lease, *, me: str) -> bool: ...


@dataclass
class RoundResult:
    taken: list[Lease] = field(default_factory=list)
    stolen: set[str] = field(default_factory=set)
    lost: list[str] = field(default_factory=list)
    unowned: int = 0  # leasable shards held by others or still free


class LeaseKeeper:
    def __init__(self, store: LeaseStore | Any, *, me: str, wall: Callable[[], float]) -> None:
        self.store, self.me, self._wall = store, me, wall
        self.held: dict[str, Lease] = {}
        self._foreign: dict[str, int] | None = None

    def round(self, leasable: Iterable[str]) -> RoundResult:
        """Renew, then take or steal toward this worker's share of `leasable` shards."""
        out = RoundResult()
        for sid, lease in list(self.held.items()):
            renewed = self.store.renew(lease, me=self.me, now=self._wall())
            if renewed is None:
                out.lost.append(sid)
                del self.held[sid]
            else:
                self.held[sid] = renewed
        shards = list(leasable)
        leases = self.store.load()
        missing = [sid for sid in shards if sid not in leases]
        for sid in missing:
            self.store.ensure(sid)
        if missing:
            leases = self.store.load()
        candidates = [leases[sid] for sid in shards if sid in leases and sid not in self.held]
        now = self._wall()
        # Our own leases from before a restart (same worker id): ours at once, no need to wait.
        reclaim = [le for le in candidates if le.owner == self.me]
        others = [leases[sid] for sid in shards if sid in leases and leases[sid] not in reclaim]
        plan = plan_leases(others, me=self.me, now=now)
        for lease in [*reclaim, *plan.take, *([plan.steal] if plan.steal else [])]:
            if lease.shard in self.held:
                continue
            got = self.store.take(lease, me=self.me, now=now)
            if got is not None:
                self.held[got.shard] = got
                out.taken.append(got)
                if lease.owner not in (None, self.me) and not lease.free(now):
                    out.stolen.add(got.shard)
        out.unowned = sum(1 for sid in shards if sid not in self.held)
        return out

    def record_batch(self, shard: str, first: int, last: int) -> bool:
        """Write the batch's range to the lease (and renew it); False: the lease is gone."""
        lease = self.held.get(shard)
        got = None if lease is None else self.store.record_batch(lease, first, last, me=self.me, now=self._wall())
        if got is None:
            self.held.pop(shard, None)
            return False
        self.held[shard] = got
        return True

    def finish(self, shard: str) -> None:
        lease = self.held.pop(shard, None)
        if lease is not None:
            self.store.finish(lease, me=self.me)

    def release_all(self) -> None:
        """Give every lease up (graceful stop) so another worker takes them at once."""
        for sid, lease in list(self.held.items()):
            if not self.store.release(lease, me=self.me):
                log.info("lease of %s was already taken over", sid)
            del self.held[sid]

    def others_alive(self, finished: Collection[str] = ()) -> bool:
        """Whether every lease held by another worker has been renewed since we first asked.

        Called while idle (the `until_idle` exit): a live owner renews its leases every few
        seconds; a dead owner's leases stop moving and expire, and the next round takes them.
        Call `busy()` when work resumes.
        """
        leases = {
            sid: le
            for sid, le in self.store.load().items()
            if le.owner not in (None, self.me) and not le.finished and sid not in finished
        }
        if self._foreign is None:
            self._foreign = {sid: le.counter for sid, le in leases.items()}
        return all(le.counter != self._foreign.get(sid) for sid, le in leases.items())

    def busy(self) -> None:
        self._foreign = None
