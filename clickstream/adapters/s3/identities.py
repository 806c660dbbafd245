"""The identities store: Segment identify/group/alias calls, as NDJSON.gz under `raw/identities/`.

They are not clickstream events (nothing to count), but they link anonymous ids to users and
users to groups, so they are kept, one object per request, exactly like bad rows. A resent
request writes its records again; readers dedupe by `message_id`.
"""

from __future__ import annotations

from datetime import datetime

from clickstream.adapters.s3.bad_rows import RequestRowsStore, request_object_key
from clickstream.adapters.s3.lake_bucket import LakeBucket
from clickstream.constants import RAW_IDENTITIES_PREFIX

__all__ = ["RAW_IDENTITIES_PREFIX", "IdentitiesStore", "identities_key"]


def identities_key(received_at: datetime, source: str, token: str) -> str:
    return request_object_key(RAW_IDENTITIES_PREFIX, received_at, source, token)


class IdentitiesStore(RequestRowsStore):
    def __init__(self, bucket: LakeBucket) -> None:
        super().__init__(bucket, prefix=RAW_IDENTITIES_PREFIX, what="identities")
