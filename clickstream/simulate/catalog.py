"""The simulated shop: categories, products with realistic prices, page URLs and search terms. Pure.

The catalog is built from a fixed seed, independent of the traffic seed: every run visits the
same shop, so product ids and URLs are stable across simulations (like a real site).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

SITE_URL = "https://shop.example.com"  # internal referrers are full URLs, as browsers send them
CATALOG_SEED = 20261122
DEFAULT_CATALOG_SIZE = 600
DEAD_PRODUCT_SHARE = 0.04  # discontinued products still linked from old pages and search engines
ZIPF_EXPONENT = 0.9  # a few bestsellers get most of the views

HOME_URL = "/"
SEARCH_URL = "/search"
CART_URL = "/cart"
CHECKOUT_URL = "/checkout"
CONFIRMATION_URL = "/checkout/confirmation"

BRANDS = ("Acme", "Northwind", "Lumen", "Vertex", "Orbit", "Aster", "Kestrel", "Halcyon", "Fable", "Tundra")
MODIFIERS = ("best", "cheap", "new", "black", "white", "sale", "premium", "2-pack", "small", "large")


@dataclass(frozen=True, slots=True)
class Category:
    slug: str
    title: str
    median_price: float  # USD; prices are log-normal around it
    min_price: float
    max_price: float
    max_quantity: int  # the most units of one product a shopper adds at once
    nouns: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"/c/{self.slug}"


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    name: str
    category: Category
    price: float
    url: str


def _category(slug: str, title: str, prices: tuple[float, float, float], max_quantity: int, nouns: str) -> Category:
    median, low, high = prices
    return Category(slug, title, median, low, high, max_quantity, tuple(n.strip() for n in nouns.split(",")))


# (median, min, max) prices in USD, the most units added at once, what people search for.
CATEGORIES: tuple[Category, ...] = (
    _category(
        "electronics",
        "Electronics",
        (120.0, 9.0, 1999.0),
        2,
        "wireless earbuds, 4k monitor, mechanical keyboard, usb-c hub, smartwatch, bluetooth speaker, gaming mouse, "
        "laptop stand, webcam, power bank",
    ),
    _category(
        "books",
        "Books",
        (16.0, 4.0, 80.0),
        3,
        "cookbook, science fiction novel, travel guide, biography, python programming, children's book, "
        "graphic novel, history book",
    ),
    _category(
        "home-kitchen",
        "Home & Kitchen",
        (45.0, 6.0, 600.0),
        3,
        "coffee grinder, chef knife, air fryer, bed sheets, desk lamp, cast iron pan, blender, storage boxes",
    ),
    _category(
        "clothing",
        "Clothing",
        (38.0, 8.0, 320.0),
        3,
        "running shoes, rain jacket, wool sweater, jeans, t-shirt, hoodie, sneakers, socks",
    ),
    _category(
        "sports-outdoors",
        "Sports & Outdoors",
        (55.0, 8.0, 900.0),
        2,
        "yoga mat, tent, hiking backpack, water bottle, dumbbells, bike helmet, camping stove",
    ),
    _category("toys-games", "Toys & Games", (28.0, 6.0, 250.0), 3, "board game, lego set, puzzle, rc car, plush toy"),
    _category("beauty", "Beauty", (19.0, 4.0, 150.0), 4, "sunscreen, face serum, shampoo, lipstick, moisturizer"),
    _category("grocery", "Grocery", (9.0, 1.5, 60.0), 6, "coffee beans, green tea, olive oil, dark chocolate, pasta"),
)
CATEGORY_BY_SLUG = {c.slug: c for c in CATEGORIES}
PRICE_SIGMA = 0.75  # spread of log(price) within a category


class Catalog:
    """Live and dead products, with popularity-weighted picks (cumulative weights: O(log n) per pick)."""

    def __init__(self, live: list[Product], dead: list[Product]) -> None:
        self.live = live
        self.dead = dead
        self._cum = list(accumulate(_zipf_weights(len(live))))
        self._by_category: dict[str, tuple[list[Product], list[float]]] = {}
        for category in CATEGORIES:
            products = [p for p in live if p.category is category]
            self._by_category[category.slug] = (products, list(accumulate(_zipf_weights(len(products)))))

    def popular(self, rng: random.Random) -> Product:
        """A product, bestsellers more likely."""
        return self.live[bisect_right(self._cum, rng.random() * self._cum[-1])]

    def in_category(self, rng: random.Random, category: Category) -> Product:
        """A product of `category`, its bestsellers more likely."""
        products, cum = self._by_category[category.slug]
        return products[bisect_right(cum, rng.random() * cum[-1])]

    def dead_product(self, rng: random.Random) -> Product:
        """A discontinued product: its page answers 404."""
        return rng.choice(self.dead)


def search_query(rng: random.Random, category: Category) -> str:
    """What a shopper types: a product noun, sometimes with a modifier or a brand."""
    noun = rng.choice(category.nouns)
    roll = rng.random()
    if roll < 0.25:
        return f"{rng.choice(MODIFIERS)} {noun}"
    if roll < 0.35:
        return f"{rng.choice(BRANDS).lower()} {noun}"
    return noun


def charm_price(raw: float) -> float:
    """Round like a shop does: 7.99, 24.99, 129.99, 1249.99."""
    if raw < 20:
        return math.floor(raw) + 0.99
    step = 5 if raw < 200 else 10 if raw < 1000 else 50
    return max(step, round(raw / step) * step) - 0.01


@lru_cache(maxsize=4)
def default_catalog(size: int = DEFAULT_CATALOG_SIZE, seed: int = CATALOG_SEED) -> Catalog:
    """The shop's catalog; the same for every traffic seed (built once per process)."""
    rng = random.Random(seed)
    products: list[Product] = []
    for i in range(size):
        category = CATEGORIES[i % len(CATEGORIES)]
        noun = rng.choice(category.nouns)
        name = f"{rng.choice(BRANDS)} {noun.title()}"
        raw = rng.lognormvariate(math.log(category.median_price), PRICE_SIGMA)
        price = charm_price(min(max(raw, category.min_price), category.max_price))
        product_id = f"P{10000 + i:05d}"
        slug = name.lower().replace("'", "").replace(" ", "-")
        products.append(Product(product_id, name, category, price, f"/p/{product_id.lower()}/{slug}"))
    rng.shuffle(products)  # popularity rank independent of category order
    n_dead = max(1, round(size * DEAD_PRODUCT_SHARE))
    return Catalog(live=products[n_dead:], dead=products[:n_dead])


def _zipf_weights(n: int) -> list[float]:
    return [1.0 / (rank**ZIPF_EXPONENT) for rank in range(1, n + 1)]
