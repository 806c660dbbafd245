"""The serving API: stats, time series, export, read-only SQL, GraphQL, Prometheus, live stream.

`clickstream.api.app.create_app(settings)` builds the FastAPI app (the dashboard's `/` and
`/static` come from `clickstream.api.dashboard`); `lambdas/api/handler.py` runs the same app
behind API Gateway. Pure rules (parameters, the batch/speed serving rule, metric catalog) live
in `params` and `serving`; reads in `reader`, `lake` and `recent`.
"""
