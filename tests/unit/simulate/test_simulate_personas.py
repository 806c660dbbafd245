"""Persona shares and transition tables."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from clickstream.simulate.personas import ACTIONS, PAGE_KINDS, PERSONAS, assign_personas
from clickstream.simulate.traffic import UserPool


def test_persona_mix_over_2000_users_matches_the_shares() -> None:
    pool = UserPool(2000, random.Random(11), 11)
    counts = Counter(p.name for p in pool.personas)
    expected = {"browser": 0.60, "researcher": 0.20, "buyer": 0.15, "quick_buyer": 0.05}
    for name, share in expected.items():
        assert abs(counts[name] / 2000 - share) < 0.03, (name, counts)


def test_shares_sum_to_one_and_assignment_is_seeded() -> None:
    assert sum(p.share for p in PERSONAS) == pytest.approx(1.0)
    a = [p.name for p in assign_personas(random.Random(5), 100)]
    b = [p.name for p in assign_personas(random.Random(5), 100)]
    assert a == b and len(set(a)) > 1


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.name)
def test_every_page_kind_has_moves_and_only_known_actions(persona) -> None:  # type: ignore[no-untyped-def]
    assert set(persona.moves) == set(PAGE_KINDS)
    for kind, moves in persona.moves.items():
        assert set(moves) <= set(ACTIONS), kind
        assert all(w > 0 for w in moves.values())
    assert "purchase" in persona.moves["checkout"] and "exit" in persona.moves["checkout"]
    rng = random.Random(0)
    drawn = Counter(persona.next_action(rng, "checkout") for _ in range(2000))
    share = persona.moves["checkout"]["purchase"] / sum(persona.moves["checkout"].values())
    assert abs(drawn["purchase"] / 2000 - share) < 0.05
