"""Shopper personas: who visits, how often, and how they move through the shop. Pure data.

A session is a walk over page kinds; on each page the persona picks its next action from the
weights below (an action not possible right now, e.g. `remove` with an empty cart, is drawn
again). The weights were tuned so the funnel looks like a real shop's: about 4 % of sessions
buy, three carts in four are abandoned, a third of sessions bounce (mostly browsers), and
quick buyers convert.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate

# Page kinds a session can be on. `added` is a product page right after an add-to-cart.
PAGE_KINDS: tuple[str, ...] = ("home", "category", "product", "added", "search", "cart", "checkout", "confirmation")
# Actions: navigate to a page kind, or act on the current page.
ACTIONS: tuple[str, ...] = (
    "home",
    "category",
    "product",
    "search",
    "add_to_cart",
    "cart",
    "remove",
    "checkout",
    "purchase",
    "exit",
)


@dataclass(frozen=True, eq=False)  # identity equality: personas are singletons
class Persona:
    name: str
    share: float  # of users
    activity: float  # relative sessions per user (researchers come back, quick buyers don't)
    landing: Mapping[str, float]  # page kind the session starts on
    moves: Mapping[str, Mapping[str, float]]  # page kind -> action -> weight
    dwell_s: float  # median seconds on a content page
    bounce: float  # probability of leaving right after the landing page, without any interaction
    scroll: float  # probability of scrolling a content page
    compare: float  # probability a product view revisits an already seen product
    max_pages: int  # the session ends after this many page views
    _tables: dict[str, tuple[tuple[str, ...], list[float]]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for kind, weights in [("landing", self.landing), *self.moves.items()]:
            self._tables[kind] = (tuple(weights), list(accumulate(weights.values())))

    def next_action(self, rng: random.Random, kind: str) -> str:
        """The action taken on a page of `kind` (weights of this persona)."""
        actions, cum = self._tables[kind]
        return actions[bisect_right(cum, rng.random() * cum[-1])]  # rng.choices, minus its overhead

    def landing_kind(self, rng: random.Random) -> str:
        """The page kind a session of this persona lands on."""
        return self.next_action(rng, "landing")


BROWSER = Persona(
    name="browser",
    share=0.60,
    activity=1.0,
    landing={"home": 35, "category": 25, "product": 40},
    moves={
        "home": {"category": 50, "product": 20, "search": 10, "exit": 20},
        "category": {"product": 55, "category": 12, "search": 8, "home": 5, "exit": 20},
        "product": {"product": 28, "category": 18, "search": 6, "add_to_cart": 5, "cart": 1, "exit": 42},
        "added": {"cart": 20, "product": 30, "category": 15, "exit": 35},
        "search": {"product": 55, "search": 15, "category": 5, "exit": 25},
        "cart": {"checkout": 15, "remove": 15, "product": 25, "exit": 45},
        "checkout": {"purchase": 45, "exit": 55},
        "confirmation": {"home": 20, "exit": 80},
    },
    dwell_s=18.0,
    bounce=0.45,
    scroll=0.4,
    compare=0.05,
    max_pages=25,
)
RESEARCHER = Persona(
    name="researcher",
    share=0.20,
    activity=1.6,
    landing={"home": 40, "category": 30, "product": 30},
    moves={
        "home": {"search": 45, "category": 35, "product": 10, "exit": 10},
        "category": {"product": 60, "search": 15, "category": 10, "exit": 15},
        "product": {"product": 38, "search": 22, "category": 10, "add_to_cart": 12, "cart": 4, "exit": 14},
        "added": {"product": 40, "search": 20, "cart": 25, "exit": 15},
        "search": {"product": 60, "search": 25, "exit": 15},
        "cart": {"checkout": 45, "remove": 25, "product": 20, "exit": 10},
        "checkout": {"purchase": 70, "exit": 30},
        "confirmation": {"home": 10, "exit": 90},
    },
    dwell_s=40.0,
    bounce=0.15,
    scroll=0.7,
    compare=0.30,
    max_pages=40,
)
BUYER = Persona(
    name="buyer",
    share=0.15,
    activity=1.2,
    landing={"home": 30, "category": 30, "product": 40},
    moves={
        "home": {"category": 40, "search": 35, "product": 15, "exit": 10},
        "category": {"product": 70, "search": 10, "category": 8, "exit": 12},
        "product": {"add_to_cart": 28, "product": 24, "search": 10, "cart": 6, "category": 8, "exit": 24},
        "added": {"cart": 45, "product": 25, "search": 10, "category": 10, "exit": 10},
        "search": {"product": 75, "search": 12, "exit": 13},
        "cart": {"checkout": 48, "remove": 15, "product": 17, "exit": 20},
        "checkout": {"purchase": 72, "exit": 28},
        "confirmation": {"home": 15, "exit": 85},
    },
    dwell_s=22.0,
    bounce=0.12,
    scroll=0.35,
    compare=0.10,
    max_pages=25,
)
QUICK_BUYER = Persona(
    name="quick_buyer",
    share=0.05,
    activity=0.7,
    landing={"product": 80, "home": 10, "category": 10},
    moves={
        "home": {"product": 60, "search": 30, "exit": 10},
        "category": {"product": 85, "exit": 15},
        "product": {"add_to_cart": 85, "product": 5, "exit": 10},
        "added": {"cart": 92, "exit": 8},
        "search": {"product": 90, "exit": 10},
        "cart": {"checkout": 92, "remove": 2, "exit": 6},
        "checkout": {"purchase": 93, "exit": 7},
        "confirmation": {"exit": 100},
    },
    dwell_s=8.0,
    bounce=0.05,
    scroll=0.15,
    compare=0.0,
    max_pages=10,
)
PERSONAS: tuple[Persona, ...] = (BROWSER, RESEARCHER, BUYER, QUICK_BUYER)
PERSONA_BY_NAME: dict[str, Persona] = {p.name: p for p in PERSONAS}


def assign_personas(rng: random.Random, n: int, personas: Sequence[Persona] = PERSONAS) -> list[Persona]:
    """The persona of each of `n` users, drawn with the personas' shares."""
    return rng.choices(personas, weights=[p.share for p in personas], k=n)
