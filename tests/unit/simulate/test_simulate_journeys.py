"""Sessions make sense: carts, orders, referrers, durations, and each persona behaves like itself."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from typing import Any

import pytest

from clickstream.simulate.catalog import CONFIRMATION_URL, SITE_URL, default_catalog
from clickstream.simulate.journeys import SessionBuilder, join_midway
from clickstream.simulate.personas import BROWSER, BUYER, PERSONAS, QUICK_BUYER, RESEARCHER, Persona
from clickstream.simulate.traffic import BOT_USER_AGENTS, Device, User

PRICES = {p.product_id: p.price for p in default_catalog().live}


def sessions_of(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Each session's events, first sends only (duplicates dropped), in timestamp order."""
    by_session: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for event in events:
        by_session[event["session_id"]].setdefault(event["event_id"], event)
    return [sorted(s.values(), key=lambda e: e["timestamp"]) for s in by_session.values()]


def build_sessions(persona: Persona, n: int, *, seed: int = 3, error_rate: float = 0.0) -> list[list[dict[str, Any]]]:
    rng = random.Random(seed)
    builder = SessionBuilder(default_catalog(), rng, error_rate=error_rate, currency="USD")
    user = User("user-1", persona, (Device("Mozilla/5.0 (test)", "desktop", "192.0.2.1"),), is_bot=False)
    return [builder.build(user, 1_800_000_000.0 + i * 3600) for i in range(n)]


def test_carts_and_orders_are_coherent(day_run: list[dict[str, Any]]) -> None:
    purchases = 0
    for session in sessions_of(day_run):
        cart: dict[str, int] = {}
        open_order: str | None = None
        order_total = 0.0
        for event in session:
            kind = event["event_type"]
            if kind in ("add_to_cart", "remove_from_cart", "purchase"):
                assert event["price"] == PRICES[event["product_id"]]
                assert event["price"] * event["quantity"] > 0
            if kind == "add_to_cart":
                cart[event["product_id"]] = cart.get(event["product_id"], 0) + event["quantity"]
            elif kind == "remove_from_cart":
                assert cart.pop(event["product_id"]) == event["quantity"], "removed what was added"
            elif kind == "checkout":
                assert cart, "checkout with an empty cart"
                expected = round(sum(PRICES[p] * q for p, q in cart.items()), 2)
                assert event["price"] == expected
                open_order, order_total = event["order_id"], 0.0
            elif kind == "purchase":
                assert event["order_id"] == open_order, "purchase without a checkout of the same order"
                assert cart.get(event["product_id"]) == event["quantity"]
                order_total += event["price"] * event["quantity"]
                purchases += 1
            elif kind == "page_view" and event["url"] == CONFIRMATION_URL:
                cart = {}  # the order is placed: the cart is empty again
        if open_order and any(e["event_type"] == "purchase" for e in session):
            checkout = next(e for e in session if e["event_type"] == "checkout" and e["order_id"] == open_order)
            assert round(order_total, 2) == checkout["price"]
    assert purchases > 50


def test_page_views_chain_their_referrers_and_durations(day_run: list[dict[str, Any]]) -> None:
    for session in sessions_of(day_run):
        views = [e for e in session if e["event_type"] == "page_view" and e["http_status"] == 200]
        for before, after in itertools.pairwise(views):
            assert after.get("referrer") in (SITE_URL + before["url"], None)  # None: a crawler
        for view in views:
            assert view["duration_ms"] >= 0


def test_scroll_depths_grow_on_a_page(day_run: list[dict[str, Any]]) -> None:
    for session in sessions_of(day_run):
        depth_on_page: dict[str, int] = {}
        for event in session:
            if event["event_type"] == "page_view":
                depth_on_page = {}
            elif event["event_type"] == "scroll":
                depth = event["properties"]["depth_pct"]
                assert depth in (25, 50, 75, 100)
                assert depth > depth_on_page.get(event["url"], 0)
                depth_on_page[event["url"]] = depth


def test_link_clicks_point_at_the_next_page(day_run: list[dict[str, Any]]) -> None:
    checked = 0
    for session in sessions_of(day_run):
        for i, event in enumerate(session[:-1]):
            props = event.get("properties", {})
            if event["event_type"] == "click" and props.get("element") == "a":
                nxt = next((e for e in session[i + 1 :] if e["event_type"] == "page_view"), None)
                if nxt is not None and nxt["http_status"] == 200:
                    assert nxt["url"] == props["target_url"]
                    checked += 1
    assert checked > 500


def test_utm_tags_only_on_the_landing_page(day_run: list[dict[str, Any]]) -> None:
    tagged = 0
    for session in sessions_of(day_run):
        views = [e for e in session if e["event_type"] == "page_view"]
        for i, view in enumerate(views):
            if "utm_source" in view["properties"]:
                assert i == 0 and view["properties"]["utm_medium"] and view["properties"]["utm_campaign"]
                tagged += 1
    assert tagged > 50


def conversion(sessions: list[list[dict[str, Any]]]) -> float:
    return sum(any(e["event_type"] == "purchase" for e in s) for s in sessions) / len(sessions)


def bounce_rate(sessions: list[list[dict[str, Any]]]) -> float:
    return sum(len(s) == 1 and s[0]["event_type"] == "page_view" for s in sessions) / len(sessions)


def test_personas_behave_like_themselves() -> None:
    runs = {p.name: build_sessions(p, 1500) for p in PERSONAS}
    conv = {name: conversion(s) for name, s in runs.items()}
    assert conv["quick_buyer"] > 0.4 > conv["buyer"] > conv["researcher"] > conv["browser"]
    assert conv["browser"] < 0.01  # browsers rarely buy
    assert bounce_rate(runs["browser"]) > 2 * bounce_rate(runs["buyer"])
    searches = {name: sum(e["event_type"] == "search" for s in r for e in s) / len(r) for name, r in runs.items()}
    assert searches["researcher"] == max(searches.values())  # researchers search and compare a lot
    viewed = [
        e["product_id"] for s in runs["researcher"] for e in s if e["event_type"] == "page_view" and "product_id" in e
    ]
    assert len(viewed) > len(set(viewed)) * 1.2  # ... and come back to products they have seen
    quick = [len(s) for s in runs["quick_buyer"]]
    assert sorted(quick)[len(quick) // 2] <= 12  # quick buyers go straight to the purchase


def test_some_carts_are_abandoned_and_some_items_removed() -> None:
    sessions = build_sessions(BUYER, 1500) + build_sessions(RESEARCHER, 1500)
    with_cart = [s for s in sessions if any(e["event_type"] == "add_to_cart" for e in s)]
    abandoned = [s for s in with_cart if not any(e["event_type"] == "purchase" for e in s)]
    assert 0.4 < len(abandoned) / len(with_cart) < 0.9
    assert any(e["event_type"] == "remove_from_cart" for s in sessions for e in s)
    checkouts = [s for s in sessions if any(e["event_type"] == "checkout" for e in s)]
    assert any(not any(e["event_type"] == "purchase" for e in s) for s in checkouts)  # abandoned checkouts


@pytest.mark.parametrize("persona", [BROWSER, QUICK_BUYER])
def test_session_events_are_in_time_order_with_injected_errors(persona: Persona) -> None:
    for session in build_sessions(persona, 300, error_rate=0.2):
        stamps = [e["timestamp"] for e in session]
        assert stamps == sorted(stamps)


def test_a_500_on_checkout_precedes_the_checkout_it_interrupts() -> None:
    sessions = build_sessions(QUICK_BUYER, 400, error_rate=0.3)
    interrupted = 0
    for session in sessions:
        for i, event in enumerate(session[:-1]):
            if event.get("http_status") == 500 and event["url"] == "/checkout":
                following = session[i + 1]
                assert following["url"] == "/checkout" or following["event_type"] in ("checkout", "purchase")
                interrupted += 1
    assert interrupted > 10


def test_bots_only_fetch_pages() -> None:
    rng = random.Random(1)
    builder = SessionBuilder(default_catalog(), rng, error_rate=0.0, currency="USD")
    bot = User("anon-bot", BROWSER, (Device(BOT_USER_AGENTS[0], "bot", "66.249.66.1"),), is_bot=True)
    for i in range(50):
        session = builder.build(bot, 1_800_000_000.0 + i * 3600)
        assert {e["event_type"] for e in session} == {"page_view"}
        assert all("referrer" not in e for e in session)
        assert len(session) >= 8


def test_joining_a_session_midway_keeps_a_coherent_suffix() -> None:
    rng = random.Random(12)
    cut_points = set()
    for session in build_sessions(BUYER, 400, seed=4, error_rate=0.05):
        ids = [e["event_id"] for e in session]
        rest = join_midway(session, 2_000_000_000.0, rng)
        assert rest and rest[0]["timestamp"] == 2_000_000_000.0
        assert [e["event_id"] for e in rest] == ids[len(ids) - len(rest) :]  # a suffix, in order
        cut_points.add(rest[0]["event_type"])
        added = {e["product_id"] for e in rest if e["event_type"] == "add_to_cart"}
        orders = {e["order_id"] for e in rest if e["event_type"] == "checkout"}
        for event in rest:
            if event["event_type"] in ("remove_from_cart", "purchase"):
                assert event["product_id"] in added
            if event["event_type"] == "purchase":
                assert event["order_id"] in orders
    assert {"page_view", "scroll", "click"} <= cut_points  # joined at any kind of moment
