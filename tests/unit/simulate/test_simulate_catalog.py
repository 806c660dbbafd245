"""The shop's catalog: stable ids, realistic prices, dead pages, popularity."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from clickstream.simulate.catalog import CATEGORIES, charm_price, default_catalog, search_query


def test_catalog_is_stable_and_ids_unique() -> None:
    catalog = default_catalog()
    ids = [p.product_id for p in catalog.live + catalog.dead]
    assert len(ids) == len(set(ids)) == 600
    default_catalog.cache_clear()
    assert [p.product_id for p in default_catalog().live] == [p.product_id for p in catalog.live]


def test_prices_are_within_category_bounds_and_look_like_shop_prices() -> None:
    for product in default_catalog().live:
        category = product.category
        assert category.min_price - 1 <= product.price <= category.max_price + 50
        assert f"{product.price:.2f}".endswith(".99")
    medians = {}
    for category in CATEGORIES:
        prices = sorted(p.price for p in default_catalog().live if p.category is category)
        medians[category.slug] = prices[len(prices) // 2]
    assert medians["electronics"] > 3 * medians["grocery"]


@pytest.mark.parametrize(("raw", "price"), [(7.2, 7.99), (24.2, 24.99), (131.0, 129.99), (1234.0, 1249.99)])
def test_charm_price(raw: float, price: float) -> None:
    assert charm_price(raw) == pytest.approx(price)


def test_dead_products_are_not_live_and_bestsellers_dominate() -> None:
    catalog = default_catalog()
    assert catalog.dead and not {p.product_id for p in catalog.dead} & {p.product_id for p in catalog.live}
    rng = random.Random(1)
    views = Counter(catalog.popular(rng).product_id for _ in range(20_000))
    top10 = sum(n for _, n in views.most_common(10))
    assert top10 > 0.1 * 20_000  # 10 of 576 products get > 10 % of views
    electronics = CATEGORIES[0]
    assert all(catalog.in_category(rng, electronics).category is electronics for _ in range(100))


def test_search_queries_name_products_of_the_category() -> None:
    rng = random.Random(2)
    for category in CATEGORIES:
        for _ in range(20):
            query = search_query(rng, category)
            assert any(noun in query for noun in category.nouns)
