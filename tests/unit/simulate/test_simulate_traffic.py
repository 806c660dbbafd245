"""Users, devices, user agents, IPs and session sources look like real traffic."""

from __future__ import annotations

import ipaddress
import random
from collections import Counter

from ua_parser import parse

from clickstream.simulate.traffic import BOT_USER_AGENTS, UserPool, session_source, user_agent


def test_user_agents_are_a_realistic_device_and_browser_mix() -> None:
    rng = random.Random(3)
    drawn = [user_agent(rng) for _ in range(3000)]
    kinds = Counter(kind for _, kind in drawn)
    assert kinds["mobile"] > kinds["desktop"] > kinds["tablet"] > 0.04 * 3000
    browsers = Counter(parse(ua).user_agent.family for ua, _ in drawn[:600])  # type: ignore[union-attr]
    assert {"Chrome", "Mobile Safari", "Chrome Mobile", "Firefox", "Edge", "Safari"} <= set(browsers)
    devices = Counter(parse(ua).device.family for ua, kind in drawn[:600] if kind == "tablet")  # type: ignore[union-attr]
    assert "iPad" in devices
    oses = Counter(parse(ua).os.family for ua, _ in drawn[:600])  # type: ignore[union-attr]
    assert {"Windows", "Mac OS X", "iOS", "Android"} <= set(oses)


def test_bot_user_agents_parse_as_spiders() -> None:
    assert all(parse(ua).device.family == "Spider" for ua in BOT_USER_AGENTS)  # type: ignore[union-attr]


def test_users_have_valid_ips_some_ipv6_and_a_few_bots() -> None:
    pool = UserPool(3000, random.Random(8), 8)
    users = [pool.user(i) for i in range(3000)]
    ips = [ipaddress.ip_address(d.ip_address) for u in users for d in u.devices]
    v6 = sum(ip.version == 6 for ip in ips) / len(ips)
    assert 0.08 < v6 < 0.25
    assert all(ip.is_global for ip in ips if ip.version == 4)
    bots = [u for u in users if u.is_bot]
    assert 0.005 * 3000 < len(bots) < 0.04 * 3000
    assert all(u.devices[0].user_agent in BOT_USER_AGENTS for u in bots)
    assert sum(len(u.devices) > 1 for u in users) > 0.2 * 3000  # some shop from two devices
    assert len({u.user_id for u in users}) == 3000


def test_users_are_the_same_for_the_same_seed() -> None:
    a = UserPool(50, random.Random(1), 1)
    b = UserPool(50, random.Random(1), 1)
    assert [a.user(i) for i in (3, 1, 4)] == [b.user(i) for i in (3, 1, 4)]
    assert UserPool(50, random.Random(2), 2).user(3).user_id != a.user(3).user_id


def test_pick_prefers_idle_users_and_weights_active_personas() -> None:
    rng = random.Random(4)
    pool = UserPool(400, rng, 4)
    picked = Counter(pool.pick(rng, 0.0).persona.name for _ in range(4000))
    users = Counter(p.name for p in pool.personas)
    # researchers come back more often than browsers (activity 1.6 vs 1.0)
    assert picked["researcher"] / users["researcher"] > 1.3 * picked["browser"] / users["browser"]


def test_when_everyone_tried_is_busy_a_new_user_arrives_or_rarely_a_second_tab() -> None:
    rng = random.Random(4)
    pool = UserPool(400, rng, 4, second_tab_share=0.02)
    for i in range(400):
        pool.user(i).busy_until = 100.0
    arrived = []
    for _ in range(2000):  # each session keeps its user busy, as the generator does
        user = pool.pick(rng, 50.0)
        if user.busy_until <= 50.0:
            arrived.append(user)
        user.busy_until = 100.0
    assert len(pool.personas) == 400 + len(arrived), "an idle pick is a user who just arrived"
    assert pool.second_tabs == 2000 - len(arrived) and 10 <= pool.second_tabs <= 70  # ~2 % of 2,000
    # newcomers keep the session mix of the personas
    assert {u.persona.name for u in arrived} == {p.name for p in pool.personas}


def test_without_second_tabs_nobody_is_picked_while_busy() -> None:
    rng = random.Random(5)
    pool = UserPool(50, rng, 5, second_tab_share=0.0)
    for i in range(50):
        pool.user(i).busy_until = 100.0
    assert all(pool.pick(rng, 50.0).busy_until <= 50.0 for _ in range(500)) and pool.second_tabs == 0


def test_session_sources_mix_search_social_direct_and_campaigns() -> None:
    rng = random.Random(9)
    drawn = [session_source(rng) for _ in range(5000)]
    direct = sum(ref is None and not utm for ref, utm in drawn) / 5000
    google = sum(ref == "https://www.google.com/" and not utm for ref, utm in drawn) / 5000
    campaigns = [utm for _, utm in drawn if utm]
    assert 0.18 < direct < 0.30 and 0.30 < google < 0.42
    assert 0.12 < len(campaigns) / 5000 < 0.24
    assert {u["utm_medium"] for u in campaigns} == {"email", "cpc", "paid_social"}
    assert all(u["utm_campaign"] and u["utm_source"] for u in campaigns)
