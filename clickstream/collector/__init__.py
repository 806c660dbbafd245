"""The HTTP collector: write-key auth, limits, validation, stream write, bad rows.

`service.CollectorService` holds the logic (shared by the ASGI app and the Lambda); `app`
is the FastAPI front end; `deps.build_service` wires the adapters from settings.
"""
