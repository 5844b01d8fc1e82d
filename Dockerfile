# The admin's browser libraries (Leaflet, Geoman) from the npm registry, pinned by package-lock.json.
FROM node:20-slim AS vendor
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

# One image for every Freewheel process: api (granian, WSGI), ws (daphne, ASGI), worker and beat (Celery),
# migrate. docker-compose.yml picks the process with `command:`. Installs exactly the pinned versions.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --create-home --home-dir /home/freewheel --uid 10001 freewheel
WORKDIR /app

COPY . .
COPY --from=vendor /app/node_modules ./node_modules
RUN pip install -c constraints.txt .

# Static files (admin, Swagger UI) are collected into the image; granian serves them under /static/.
# Settings need their required variables to import; these placeholders are used for this step only.
RUN DATABASE_URL=postgres://build/build REDIS_URL=redis://build:6379/0 \
    SECRET_KEY=collectstatic-only-placeholder-not-a-secret-0000 \
    python manage.py collectstatic --noinput --verbosity 0

USER freewheel
EXPOSE 8000 8001
CMD ["granian", "--interface", "wsgi", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--blocking-threads", "4", \
     "--static-path-route", "/static", "--static-path-mount", "/app/staticfiles", "config.wsgi:application"]
