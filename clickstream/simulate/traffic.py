"""Who the visitors are: users (Faker-seeded ids and IPs), their devices and user agents, and
where each session comes from (search engines, social, campaigns with UTM tags, direct). Pure.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from clickstream.simulate.personas import Persona, assign_personas

# --- User agents ------------------------------------------------------------------------
# (weight, device, template, (lowest, highest) major version). Shares roughly follow 2025-26
# web statistics: more than half of shop traffic is mobile, Chrome leads, Safari owns iOS.
_CHROME = "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0"
_SAFARI = "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.{m}"
USER_AGENTS: tuple[tuple[float, str, str, tuple[int, int]], ...] = (
    (22, "desktop", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) " + _CHROME + " Safari/537.36", (136, 143)),
    (6, "desktop", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) " + _CHROME + " Safari/537.36", (136, 143)),
    (6, "desktop", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) " + _CHROME + " Safari/537.36 Edg/{v}.0.{b}.{p}", (136, 143)),
    (3, "desktop", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", (139, 146)),
    (1, "desktop", "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", (139, 146)),
    (4, "desktop", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) " + _SAFARI + " Safari/605.1.15", (17, 18)),
    (24, "mobile", "Mozilla/5.0 (iPhone; CPU iPhone OS {v}_{m} like Mac OS X) " + _SAFARI + " Mobile/15E148 Safari/604.1", (17, 18)),
    (2, "mobile", "Mozilla/5.0 (iPhone; CPU iPhone OS {v}_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/{c}.0.0.0 Mobile/15E148 Safari/604.1", (17, 18)),
    (22, "mobile", "Mozilla/5.0 (Linux; Android 10; K) " + _CHROME + " Mobile Safari/537.36", (136, 143)),
    (2, "mobile", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/{v}.0 Chrome/130.0.0.0 Mobile Safari/537.36", (26, 28)),
    (6, "tablet", "Mozilla/5.0 (iPad; CPU OS {v}_{m} like Mac OS X) " + _SAFARI + " Mobile/15E148 Safari/604.1", (17, 18)),
    (2, "tablet", "Mozilla/5.0 (Linux; Android 14; SM-X710) " + _CHROME + " Safari/537.36", (136, 143)),
)  # fmt: skip
_UA_CUM = list(accumulate(w for w, *_ in USER_AGENTS))
BOT_USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
)
BOT_SHARE = 0.02  # of users: crawlers that only fetch pages
IPV6_SHARE = 0.15
SECOND_DEVICE_SHARE = 0.3  # users who also shop from another device (and network)
DEFAULT_SECOND_TAB_SHARE = 0.02  # of the sessions that find every user tried busy: a second tab
PICK_TRIES = 8  # users tried for an idle one before a second tab or a new user


def user_agent(rng: random.Random) -> tuple[str, str]:
    """A realistic browser user agent and its device kind ("desktop", "mobile", "tablet")."""
    _, device, template, (low, high) = USER_AGENTS[bisect_right(_UA_CUM, rng.random() * _UA_CUM[-1])]
    v = rng.randint(low, high)
    ua = template.format(
        v=v, m=rng.randint(0, 6), b=rng.randint(3000, 3900), p=rng.randint(10, 99), c=rng.randint(136, 143)
    )
    return ua, device


# --- Referrers and campaigns -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Source:
    name: str
    weight: float
    referrers: tuple[str | None, ...]  # None: no Referer header (direct, email apps)
    utm: dict[str, str] | None = None  # campaign tags on the landing URL (utm_campaign drawn per session)


CAMPAIGNS = ("black_friday", "winter_sale", "new_arrivals", "retargeting", "brand")
SOURCES: tuple[Source, ...] = (
    Source("direct", 24, (None,)),
    Source("google", 36, ("https://www.google.com/",)),
    Source("bing", 6, ("https://www.bing.com/",)),
    Source("duckduckgo", 2, ("https://duckduckgo.com/",)),
    Source(
        "social",
        12,
        ("https://www.facebook.com/", "https://l.instagram.com/", "https://t.co/", "https://www.reddit.com/"),
    ),
    Source("blog", 2, ("https://www.techradar.com/", "https://www.wirecutter.com/")),
    Source("email", 8, (None,), {"utm_source": "newsletter", "utm_medium": "email"}),
    Source("paid_search", 7, ("https://www.google.com/",), {"utm_source": "google", "utm_medium": "cpc"}),
    Source("paid_social", 3, ("https://www.facebook.com/",), {"utm_source": "facebook", "utm_medium": "paid_social"}),
)
_SOURCE_CUM = list(accumulate(s.weight for s in SOURCES))


def session_source(rng: random.Random) -> tuple[str | None, dict[str, str]]:
    """Where a session comes from: the external referrer (None = direct) and UTM tags (maybe empty)."""
    source = SOURCES[bisect_right(_SOURCE_CUM, rng.random() * _SOURCE_CUM[-1])]
    referrer = rng.choice(source.referrers)
    if source.utm is None:
        return referrer, {}
    return referrer, {**source.utm, "utm_campaign": rng.choice(CAMPAIGNS)}


# --- Users ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Device:
    user_agent: str
    kind: str  # desktop, mobile, tablet, bot
    ip_address: str


@dataclass(slots=True)
class User:
    user_id: str
    persona: Persona
    devices: tuple[Device, ...]
    is_bot: bool
    busy_until: float = 0.0  # epoch seconds: end of the user's latest session (+ inactivity gap)


@dataclass
class UserPool:
    """`size` users with assigned personas; details (Faker ids, IPs, devices) are made on first visit.

    Users are materialised in the order they are first picked, from one seeded Faker and one
    seeded Random, so the same seed gives the same users.

    People, not tabs: a session goes to an idle user (one whose last session ended more than the
    inactivity gap ago). When every user tried is in a session, a share `second_tab_share` of
    such sessions is a second tab of a busy user (on another session id); the others bring a new
    user to the pool. So `size` is the population at the start, and the pool grows to what the
    traffic rate needs: the rate never forces one person into parallel sessions.
    """

    size: int
    rng: random.Random
    seed: int
    second_tab_share: float = DEFAULT_SECOND_TAB_SHARE
    second_tabs: int = field(init=False, default=0)  # sessions opened as a second tab
    personas: list[Persona] = field(init=False)
    _users: dict[int, User] = field(init=False, default_factory=dict)
    _by_persona: dict[str, list[int]] = field(init=False, default_factory=dict)
    _persona_cum: list[float] = field(init=False, default_factory=list)
    _faker: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.personas = assign_personas(self.rng, self.size)
        if not 0 <= self.second_tab_share < 1:
            raise ValueError(f"second_tab_share={self.second_tab_share}: expected 0 <= share < 1")
        for index, persona in enumerate(self.personas):
            self._by_persona.setdefault(persona.name, []).append(index)
        self._weigh()

    def user(self, index: int) -> User:
        """User number `index`, created on first use."""
        found = self._users.get(index)
        if found is None:
            found = self._users[index] = self._make(self.personas[index])
        return found

    def pick(self, rng: random.Random, at: float, *, tries: int = PICK_TRIES) -> User:
        """A user for a session starting at `at`: personas weighted by activity, an idle user if
        one is found in `tries`; else a second tab (`second_tab_share`) or a new user."""
        groups = list(self._by_persona.values())
        for _ in range(tries):
            members = groups[bisect_right(self._persona_cum, rng.random() * self._persona_cum[-1])]
            user = self.user(rng.choice(members))
            if user.busy_until <= at:
                return user
        if rng.random() < self.second_tab_share:
            self.second_tabs += 1
            return user  # a second tab of someone already browsing, on another session id
        return self._arrive(user.persona)

    def _arrive(self, persona: Persona) -> User:
        """A new user of `persona` (the persona the session was drawn for) joins the pool."""
        index = len(self.personas)
        self.personas.append(persona)
        self._by_persona[persona.name].append(index)
        self._weigh()
        return self.user(index)

    def _weigh(self) -> None:
        # A session's persona is drawn by (users of the persona) x (its activity).
        by_name = {p.name: p for p in self.personas}
        self._persona_cum = list(accumulate(len(ix) * by_name[n].activity for n, ix in self._by_persona.items()))

    @property
    def created(self) -> int:
        """How many distinct users have visited so far."""
        return len(self._users)

    def persona_of(self) -> dict[str, str]:
        """{user_id: persona name} of every user who has visited."""
        return {user.user_id: user.persona.name for user in self._users.values()}

    def _make(self, persona: Persona) -> User:
        fake = self._fake()
        rng = self.rng
        if persona.name == "browser" and rng.random() < BOT_SHARE / persona.share:
            device = Device(rng.choice(BOT_USER_AGENTS), "bot", fake.ipv4_public())
            return User(f"anon-{fake.uuid4()}", persona, (device,), is_bot=True)
        devices = [self._device(fake)]
        if rng.random() < SECOND_DEVICE_SHARE:
            devices.append(self._device(fake))
        # Signed-in shoppers carry an account id; anonymous visitors a cookie id.
        prefix = "user" if rng.random() < 0.4 else "anon"
        return User(f"{prefix}-{fake.uuid4()}", persona, tuple(devices), is_bot=False)

    def _device(self, fake: Any) -> Device:
        ua, kind = user_agent(self.rng)
        ip = fake.ipv6(network=False) if self.rng.random() < IPV6_SHARE else fake.ipv4_public()
        return Device(ua, kind, ip)

    def _fake(self) -> Any:
        if self._faker is None:
            from faker import Faker  # lazy: ~0.2 s to import

            self._faker = Faker("en_US")
            self._faker.seed_instance(self.seed)
        return self._faker
