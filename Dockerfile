# The application image used by docker-compose.localstack.yml (collector, query API, consumer, archiver,
# provisioning, simulator).
# AWS Lambda does not use it: infra/cdk bundles lambdas/ + clickstream/ without Docker.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Under the lock: the exact versions CI tested, transitive ones included.
COPY requirements.txt requirements.lock ./
RUN pip install --no-cache-dir -r requirements.txt -c requirements.lock
COPY pyproject.toml README.md ./
COPY clickstream ./clickstream
COPY lambdas ./lambdas
COPY stream_consumers ./stream_consumers
COPY sql ./sql
# Editable, so the package stays in /app and finds the SQL next to it (clickstream.sqlfiles.sql_dir() = /app/sql).
RUN pip install --no-cache-dir --no-deps -e .
ENTRYPOINT ["clickstream"]
