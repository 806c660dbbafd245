"""Deterministic identifiers drawn from a seeded Random (uuid.uuid4 reads the OS entropy pool)."""

from __future__ import annotations

import random


def uuid4(rng: random.Random) -> str:
    """A version-4 UUID string drawn from `rng`."""
    n = rng.getrandbits(128)
    n = (n & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    n = (n & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
