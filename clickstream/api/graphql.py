"""POST /graphql (strawberry): pageViews, metrics, funnel and topPages over the same service as REST.

Resolvers are async and run the blocking reads in the thread pool. A bad argument comes back
as a GraphQL error whose message is the REST API's 400 message.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.fastapi import GraphQLRouter
from strawberry.types import Info

from clickstream.api.service import ApiService

From = Annotated[str | None, strawberry.argument(name="from", description="RFC 3339, a day or epoch seconds")]
To = Annotated[str | None, strawberry.argument(description="exclusive; default now")]


@strawberry.type
class DayCount:
    date: str
    page_views: int


@strawberry.type
class PageViews:
    page: str
    page_views: int
    from_: str = strawberry.field(name="from")
    to: str
    by_day: list[DayCount]


@strawberry.type
class Point:
    start: str
    value: float | None
    layer: str = strawberry.field(description="batch (closed window) or speed")


@strawberry.type
class Series:
    metric: str
    dimension: str
    granularity: str
    from_: str = strawberry.field(name="from")
    to: str
    points: list[Point]


@strawberry.type
class FunnelStep:
    step: str
    count: int
    rate_from_previous: float | None


@strawberry.type
class FunnelDay:
    date: str
    layer: str
    basis: str = strawberry.field(description="sessions (batch) or events (speed)")
    steps: list[FunnelStep]


@strawberry.type
class TopPage:
    page: str
    page_views: int


def _service(info: Info[Any, Any]) -> ApiService:
    service: ApiService = info.context["service"]
    return service


@strawberry.type
class Query:
    @strawberry.field(description="page views of one page (the URL path), in total and by day")
    async def page_views(
        self, info: Info[Any, Any], page_url: Annotated[str, strawberry.argument(name="pageURL")],
        from_: From = None, to: To = None,
    ) -> PageViews:  # fmt: skip
        got = await run_in_threadpool(_service(info).page_views, page_url, from_=from_, to=to)
        return PageViews(
            page=got["page"], page_views=got["page_views"], from_=got["from"], to=got["to"],
            by_day=[DayCount(**day) for day in got["by_day"]],
        )  # fmt: skip

    @strawberry.field(description="a time series, batch values for closed windows and speed values after")
    async def metrics(
        self, info: Info[Any, Any], metric: str, dimension: str | None = None, from_: From = None, to: To = None,
        granularity: str = "hour",
    ) -> Series:  # fmt: skip
        got = await run_in_threadpool(
            _service(info).series, metric, dimension=dimension, from_=from_, to=to, granularity=granularity
        )
        return Series(
            metric=got["metric"], dimension=got["dimension"], granularity=got["granularity"], from_=got["from"],
            to=got["to"], points=[Point(**p) for p in got["points"]],
        )  # fmt: skip

    @strawberry.field(description="page_view → add_to_cart → checkout → purchase, per day")
    async def funnel(self, info: Info[Any, Any], from_: From = None, to: To = None) -> list[FunnelDay]:
        days = await run_in_threadpool(_service(info).funnel, from_=from_, to=to)
        return [
            FunnelDay(date=d["date"], layer=d["layer"], basis=d["basis"], steps=[FunnelStep(**s) for s in d["steps"]])
            for d in days
        ]

    @strawberry.field(description="the most viewed pages of the range")
    async def top_pages(
        self, info: Info[Any, Any], from_: From = None, to: To = None, limit: int = 10
    ) -> list[TopPage]:
        pages = await run_in_threadpool(_service(info).top_pages, from_=from_, to=to, limit=limit)
        return [TopPage(**p) for p in pages]


schema = strawberry.Schema(query=Query)


def graphql_router(service: ApiService, **kwargs: Any) -> GraphQLRouter[Any, Any]:
    async def context() -> dict[str, Any]:
        return {"service": service}

    return GraphQLRouter(schema, context_getter=context, graphql_ide=None, allow_queries_via_get=False, **kwargs)
