# The welfare service: one image for the web server, the scheduler and the one-shot jobs.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# pg_dump and pg_restore matching the PostgreSQL 17 server (backups, restore checks).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
    && curl -fsSL https://www.postgresql.org/media/keys/ACCC4CF8.asc \
       | gpg --dearmor -o /usr/share/keyrings/postgresql.gpg \
    && echo "deb [signed-by=/usr/share/keyrings/postgresql.gpg] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
       > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-17 \
    && apt-get purge -y gnupg && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin welfare
WORKDIR /app

COPY pyproject.toml README.md manage.py ./
COPY backend backend
COPY welfare welfare
COPY schedules schedules
COPY bench bench
RUN pip install .

# Static files are collected at build time (no database is needed for that).
ENV STATIC_ROOT=/app/static
RUN DATABASE_URL=postgresql://build@localhost/build python manage.py collectstatic --noinput -v0

USER welfare
EXPOSE 8000
CMD ["gunicorn", "backend.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
