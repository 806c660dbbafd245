"""One session as a list of raw client events: a persona's walk through the shop. Pure.

Each page view is followed by what a browser would report while the shopper is on it (scroll
depth, the click that leads on, a search, a cart change), with human gaps (seconds to minutes,
log-normal) and the time spent on the page in `duration_ms`. Commerce events carry the product,
its catalog price and a quantity; checkout opens an order whose id the purchase lines reuse.
HTTP errors are injected between events (see `faults`). Timestamps are epoch seconds (floats)
until the generator formats them.
"""

from __future__ import annotations

import math
import random
from typing import Any

from clickstream.simulate.catalog import (
    CART_URL,
    CATEGORIES,
    CHECKOUT_URL,
    CONFIRMATION_URL,
    HOME_URL,
    SEARCH_URL,
    SITE_URL,
    Catalog,
    Category,
    Product,
    search_query,
)
from clickstream.simulate.faults import inject_errors
from clickstream.simulate.ids import uuid4
from clickstream.simulate.traffic import Device, User, session_source

Event = dict[str, Any]

DWELL_FACTOR = {"home": 0.5, "category": 0.7, "product": 1.0, "added": 0.3, "search": 0.6, "cart": 0.8}
DWELL_FACTOR.update({"checkout": 4.0, "confirmation": 0.6})  # filling in the checkout form takes a while
DWELL_SIGMA = 0.9  # log-normal spread of time on a page
MIN_DWELL_S, MAX_DWELL_S = 1.5, 900.0
SCROLLABLE = frozenset({"home", "category", "product", "search"})
SCROLL_DEPTHS = (25, 50, 75, 100)
SCROLL_REACH = (45, 28, 17, 10)  # how many depth milestones a scroll reaches: most stop early
LINK_CLICK_TRACKED = 0.85  # the rest are back-button and typed navigations: no click event
MAX_REDRAWS = 5
ZERO_RESULTS = 0.06  # searches that find nothing
SAME_CATEGORY = 0.6  # a product view from a product page stays in its category ("related items")


def join_midway(events: list[Event], at: float, rng: random.Random) -> list[Event]:
    """The rest of a session that was already under way at `at`.

    It resumes at a random event before which the cart is empty (so nothing after the cut
    refers to an event before it: no remove or purchase of an unseen add), shifted so that event
    is at `at`. The generator uses it to start a run in a steady state, not with an empty site.
    """
    cuts: list[int] = []
    in_cart: set[str] = set()
    for i, event in enumerate(events):
        kind = event["event_type"]
        if not in_cart:
            cuts.append(i)
        if kind == "add_to_cart":
            in_cart.add(event["product_id"])
        elif kind in ("remove_from_cart", "purchase"):
            in_cart.discard(event["product_id"])
    rest = events[rng.choice(cuts) :] if cuts else events
    shift = at - rest[0]["timestamp"]
    for event in rest:
        event["timestamp"] += shift
    return rest


class SessionBuilder:
    """Builds sessions from one seeded Random; `error_rate` is the share of events that are errors."""

    def __init__(self, catalog: Catalog, rng: random.Random, *, error_rate: float, currency: str) -> None:
        self.catalog = catalog
        self.rng = rng
        self.currency = currency
        self.error_rate = error_rate

    def build(self, user: User, start: float) -> list[Event]:
        """The events of one session of `user` starting at `start` (epoch seconds), in time order."""
        rng = self.rng
        device = user.devices[0] if len(user.devices) == 1 or rng.random() < 0.75 else user.devices[1]
        session = _Session(self, user, device, uuid4(rng), start)
        events = session.crawl() if user.is_bot else session.walk()
        if self.error_rate > 0:
            events = inject_errors(events, self.rng, self.catalog, error_rate=self.error_rate)
        return events


class _Session:
    """The mutable state of one session while it is being built."""

    def __init__(self, builder: SessionBuilder, user: User, device: Device, session_id: str, start: float) -> None:
        self.b = builder
        self.rng = builder.rng
        self.persona = user.persona
        self.base = {"user_id": user.user_id, "session_id": session_id}
        self.device = device
        self.t = start
        self.events: list[Event] = []
        self.kind = ""
        self.url = ""
        self.category: Category = CATEGORIES[0]
        self.product: Product | None = None
        self.view: Event | None = None
        self.view_t = start
        self.pages = 0
        self.cart: dict[str, list[Any]] = {}  # product_id -> [product, quantity], in insertion order
        self.seen: list[Product] = []
        self.order_id: str | None = None
        self.referrer, self.utm = session_source(self.rng)
        self.sends_referrer = True  # crawlers send none

    # --- the walk --------------------------------------------------------------------------
    def walk(self) -> list[Event]:
        rng, persona = self.rng, self.persona
        landing = persona.landing_kind(rng)
        if landing == "product":
            self._view_product(self.b.catalog.popular(rng))
        elif landing == "category":
            self._view_category(rng.choice(CATEGORIES))
        else:
            self._page_view("home", HOME_URL, "Home")
        if rng.random() < persona.bounce:
            self.t += self._dwell(self.kind)
            self._close_view()
            return self.events
        while True:
            dwell = self._dwell(self.kind)
            if self.kind in SCROLLABLE and rng.random() < persona.scroll:
                self._scrolls(dwell)
            self.t += dwell
            action = self._choose() if self.pages < persona.max_pages else "exit"
            if action == "exit":
                self._close_view()
                return self.events
            getattr(self, "_do_" + action)()

    def crawl(self) -> list[Event]:
        """A bot: page after page, no scrolls, clicks or carts, no referrer."""
        rng, catalog = self.rng, self.b.catalog
        self.sends_referrer = False
        for _ in range(rng.randint(8, 60)):
            if rng.random() < 0.3:
                category = rng.choice(CATEGORIES)
                self._page_view("category", category.url, category.title)
            else:
                product = rng.choice(catalog.live)
                self._page_view("product", product.url, product.name, product=product)
            self.t += rng.uniform(0.5, 4.0)
        self._close_view()
        return self.events

    def _choose(self) -> str:
        for _ in range(MAX_REDRAWS):
            action = self.persona.next_action(self.rng, self.kind)
            if action in ("cart", "remove", "checkout") and not self.cart:
                continue
            return action
        return "exit"

    # --- actions -----------------------------------------------------------------------------
    def _do_home(self) -> None:
        self._link("logo", "Home", HOME_URL)
        self._page_view("home", HOME_URL, "Home")

    def _do_category(self) -> None:
        rng = self.rng
        same = self.kind in ("product", "added", "category") and rng.random() < 0.5
        category = self.category if same else rng.choice(CATEGORIES)
        self._link("nav-category", category.title, category.url)
        self._view_category(category)

    def _do_product(self) -> None:
        rng, catalog = self.rng, self.b.catalog
        if self.seen and rng.random() < self.persona.compare:
            product = rng.choice(self.seen)  # back to a product seen before: comparing
        elif self.kind in ("category", "search") or (
            self.kind in ("product", "added") and rng.random() < SAME_CATEGORY
        ):
            product = catalog.in_category(rng, self.category)
        else:
            product = catalog.popular(rng)
        self._link("product-card", product.name, product.url)
        self._view_product(product)

    def _do_search(self) -> None:
        rng = self.rng
        category = self.category if self.kind != "home" and rng.random() < 0.6 else rng.choice(CATEGORIES)
        query = search_query(rng, category)
        results = 0 if rng.random() < ZERO_RESULTS else int(rng.paretovariate(1.2) * 8)
        props = {"query": query, "results": results}
        self._emit("search", properties=props)
        self.t += rng.uniform(0.3, 1.2)
        self.category = category
        self._page_view("search", SEARCH_URL, f"Search: {query}", properties=dict(props))

    def _do_add_to_cart(self) -> None:
        rng = self.rng
        product = self.product
        assert product is not None  # add_to_cart is only offered on product pages
        quantity = 1 if rng.random() < 0.82 else rng.randint(2, max(2, product.category.max_quantity))
        self._button("add-to-cart", "Add to cart")
        self.t += rng.uniform(0.1, 0.4)
        self._commerce("add_to_cart", product, quantity)
        line = self.cart.setdefault(product.product_id, [product, 0])
        line[1] += quantity
        self.kind = "added"

    def _do_cart(self) -> None:
        self._link("cart-icon", "Cart", CART_URL)
        self._page_view("cart", CART_URL, "Your cart")

    def _do_remove(self) -> None:
        rng = self.rng
        product, quantity = self.cart.pop(rng.choice(list(self.cart)))
        self._button("remove-item", "Remove")
        self.t += rng.uniform(0.1, 0.5)
        self._commerce("remove_from_cart", product, quantity)

    def _do_checkout(self) -> None:
        rng = self.rng
        self._button("checkout", "Proceed to checkout")
        self.t += self._load_time()
        self._page_view("checkout", CHECKOUT_URL, "Checkout")
        self.t += rng.uniform(0.2, 0.8)
        self.order_id = f"ord-{rng.getrandbits(64):016x}"
        total = round(sum(p.price * q for p, q in self.cart.values()), 2)
        units = sum(q for _, q in self.cart.values())
        props = {"items": len(self.cart), "units": units}
        self._emit("checkout", order_id=self.order_id, price=total, properties=props)

    def _do_purchase(self) -> None:
        rng = self.rng
        self._button("place-order", "Place order")
        self.t += rng.uniform(0.8, 3.0)  # payment authorisation
        for product, quantity in self.cart.values():
            self._commerce("purchase", product, quantity, order_id=self.order_id)
            self.t += 0.001
        self.cart.clear()
        self.t += self._load_time()
        self._page_view("confirmation", CONFIRMATION_URL, "Thank you", order_id=self.order_id)

    # --- event helpers -------------------------------------------------------------------------
    def _view_category(self, category: Category) -> None:
        self.category = category
        self._page_view("category", category.url, category.title)

    def _view_product(self, product: Product) -> None:
        self.product = product
        self.category = product.category
        self.seen.append(product)
        self._page_view("product", product.url, product.name, product=product)

    def _page_view(
        self,
        kind: str,
        url: str,
        title: str,
        *,
        product: Product | None = None,
        order_id: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> None:
        self._close_view()
        referrer = None
        if self.sends_referrer:  # the page we came from; the external referrer on landing
            referrer = SITE_URL + self.url if self.url else self.referrer
        props = {"page_type": kind, "title": title}
        if properties:
            props.update(properties)
        if not self.url and self.utm:
            props.update(self.utm)
        self.kind, self.url = kind, url
        self.pages += 1
        self.view_t = self.t
        self.view = self._emit(
            "page_view",
            referrer=referrer,
            http_status=200,
            product_id=product.product_id if product else None,
            order_id=order_id,
            duration_ms=0,  # set when the shopper leaves the page
            properties=props,
        )

    def _close_view(self) -> None:
        if self.view is not None:
            self.view["duration_ms"] = int((self.t - self.view_t) * 1000)

    def _link(self, element_id: str, text: str, target: str) -> None:
        """The click on a link that leads to the next page (not every navigation is a click)."""
        if self.rng.random() < LINK_CLICK_TRACKED:
            props = {"element": "a", "element_id": element_id, "text": text, "target_url": target}
            self._emit("click", properties=props)
        self.t += self._load_time()

    def _button(self, element_id: str, text: str) -> None:
        self._emit("click", properties={"element": "button", "element_id": element_id, "text": text})

    def _commerce(self, event_type: str, product: Product, quantity: int, *, order_id: str | None = None) -> None:
        self._emit(event_type, product_id=product.product_id, order_id=order_id, price=product.price, quantity=quantity)

    def _scrolls(self, dwell: float) -> None:
        n = self.rng.choices((1, 2, 3, 4), weights=SCROLL_REACH)[0]
        start = self.t
        for i, depth in enumerate(SCROLL_DEPTHS[:n]):
            self.t = start + dwell * (i + 1) / (n + 1)
            self._emit("scroll", properties={"depth_pct": depth})
        self.t = start

    def _emit(
        self,
        event_type: str,
        *,
        referrer: str | None = None,
        http_status: int | None = None,
        product_id: str | None = None,
        order_id: str | None = None,
        price: float | None = None,
        quantity: int | None = None,
        duration_ms: int | None = None,
        properties: dict[str, Any] | None = None,
    ) -> Event:
        """Append one event in the contract's field order; absent optional fields are left out."""
        event: Event = {"event_id": uuid4(self.rng), "event_type": event_type, **self.base}
        event["timestamp"] = self.t
        event["url"] = self.url
        if referrer is not None:
            event["referrer"] = referrer
        event["user_agent"] = self.device.user_agent
        event["ip_address"] = self.device.ip_address
        if http_status is not None:
            event["http_status"] = http_status
        if product_id is not None:
            event["product_id"] = product_id
        if order_id is not None:
            event["order_id"] = order_id
        if price is not None:
            event["currency"] = self.b.currency
            event["price"] = price
        if quantity is not None:
            event["quantity"] = quantity
        if duration_ms is not None:
            event["duration_ms"] = duration_ms
        if properties:
            event["properties"] = properties
        self.events.append(event)
        return event

    def _dwell(self, kind: str) -> float:
        median = self.persona.dwell_s * DWELL_FACTOR[kind]
        seconds = median * math.exp(self.rng.gauss(0.0, DWELL_SIGMA))
        return min(max(seconds, MIN_DWELL_S), MAX_DWELL_S)

    def _load_time(self) -> float:
        return min(0.15 + self.rng.lognormvariate(-0.8, 0.6), 6.0)  # median ~0.6 s page load
