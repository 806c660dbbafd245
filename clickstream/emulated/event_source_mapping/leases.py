"""Which shard leases a consumer takes or steals, so that N workers split the shards. Pure.

The algorithm is the Kinesis Client Library's, reduced to what a table of leases shows: every
worker that holds an unexpired lease is alive; with S leasable shards and W live workers
(counting ourselves) each should hold about `target = ceil(S / W)`. A worker below target
first takes free leases (never owned, released, or expired: its owner stopped renewing), its
own expired ones first; only when none is free does it steal ONE lease per round from the most
loaded worker, if that worker holds more than target (or exactly target while we hold at least
two fewer). Stealing one at a time lets the others see the change before anyone moves again,
so the split converges instead of oscillating.

Every change is a conditional write on the lease's `counter` (see `event_source_mapping.lease_table`),
so two workers acting on the same plan cannot both win a lease. Time is passed in (`now`, epoch
seconds): expiry compares with the `expires_at` the owner wrote, so the workers' clocks must
agree to well within the lease duration (they do on one machine or with NTP).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Lease:
    shard: str
    owner: str | None
    counter: int  # bumped by every write: the optimistic-concurrency token
    expires_at: float  # epoch seconds; meaningless without an owner
    # The batch the holder was invoking when it last wrote the lease (sequence numbers). The
    # next holder replays exactly this range first, so a batch that was applied but not
    # checkpointed is retried with the same boundaries (what the handler's watermarks expect).
    batch_first: int | None = None
    batch_last: int | None = None
    finished: bool = False  # a closed shard processed to its end

    def free(self, now: float) -> bool:
        """No live owner: never owned, released, or not renewed in time."""
        return self.owner is None or self.expires_at <= now


@dataclass(frozen=True)
class LeasePlan:
    take: tuple[Lease, ...] = ()
    steal: Lease | None = None
    target: int = 0
    workers: int = 1


def plan_leases(leases: Sequence[Lease], *, me: str, now: float) -> LeasePlan:
    """What `me` should take or steal this round among the leases of the leasable shards."""
    open_leases = [lease for lease in leases if not lease.finished]
    if not open_leases:
        return LeasePlan()
    held = Counter(lease.owner for lease in open_leases if not lease.free(now))
    mine = held.pop(me, 0)
    workers = len(held) + 1
    target = math.ceil(len(open_leases) / workers)
    need = target - mine
    if need <= 0:
        return LeasePlan(target=target, workers=workers)
    free = sorted(
        (lease for lease in open_leases if lease.free(now)), key=lambda lease: (lease.owner != me, lease.shard)
    )
    take = tuple(free[:need])
    if take or not held:
        return LeasePlan(take=take, target=target, workers=workers)
    owner, count = max(held.items(), key=lambda kv: (kv[1], kv[0] or ""))
    if count > target or (count == target and mine < target - 1):
        victim = max((lease for lease in open_leases if lease.owner == owner), key=lambda lease: lease.shard)
        return LeasePlan(steal=victim, target=target, workers=workers)
    return LeasePlan(target=target, workers=workers)
