"""extract_events: the request-body shapes older clickstream tools send."""

from __future__ import annotations

import pytest

from clickstream.events.normalise import EnvelopeError, canonical_event_type, extract_events

EVENT = {"event_type": "click", "user_id": "u1"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ([EVENT, EVENT], [EVENT, EVENT]),
        ([], []),
        ({"records": [EVENT]}, [EVENT]),
        ({"events": [EVENT, 1]}, [EVENT, 1]),
        ({"batch": []}, []),
        (EVENT, [EVENT]),
        ({}, [{}]),
    ],
)
def test_accepted_envelopes(body: object, expected: list[object]) -> None:
    assert extract_events(body) == expected


@pytest.mark.parametrize(
    "body",
    [None, "events", 42, 1.5, True, {"records": {"event_type": "click"}}, {"events": None}, {"batch": "x"}],
)
def test_other_bodies_raise_envelope_error_naming_the_accepted_shapes(body: object) -> None:
    with pytest.raises(EnvelopeError) as info:
        extract_events(body)

    assert isinstance(info.value, ValueError)
    for shape in ("JSON array", '{"records": [...]}', '{"events": [...]}', '{"batch": [...]}', "single event object"):
        assert shape in str(info.value)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("page_view", "page_view"),
        ("PAGE_VIEW", "page_view"),
        ("page-view", "page_view"),
        ("pageview", "page_view"),
        ("Page View", "page_view"),
        ("Add To Cart", "add_to_cart"),
        ("remove.from.cart", "remove_from_cart"),
        ("CHECKOUT", "checkout"),
        ("signup", None),
        ("", None),
    ],
)
def test_canonical_event_type(name: str, expected: str | None) -> None:
    assert canonical_event_type(name) == expected
