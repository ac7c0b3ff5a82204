# syntax=docker/dockerfile:1
#
# The Voxie platform image: `docker build -t voxie-platform .` from the repository root.
#
# One image for every deployable, the role chosen by the first argument:
#   docker run voxie-platform backend | voxie | spawner | migrate
# One and not one per deployable because the four are one Python package resolved from one
# lock file: one image is one build, one vulnerability scan and the very same bits in every
# role, and a separate image per role would differ only in its command (deploy/docker/).
#
# Layers, from the least to the most often changed: the Python base (pinned by version; pin it
# by digest too with --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:...), the
# dependencies from uv.lock (rebuilt only when the lock changes), plugin model files, and the
# project itself; the dashboard is built in a Node.js stage of its own. No secret is read at
# build time: every credential is an environment variable given at run time (.env.example).

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
# The Node.js that builds the dashboard (pinned by version; by digest too, like the Python base).
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# --- dashboard: the web app's static files in /dashboard/dist ----------------------------------
FROM ${NODE_IMAGE} AS dashboard

WORKDIR /dashboard

# Dependencies exactly as the committed lock pins them (npm ci never re-resolves); this layer
# changes only when the lock does.
COPY dashboard/package.json dashboard/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund --loglevel=error

# The sources by name (never node_modules or a local dist/), then the type check and the build:
# the production build, which makes no source maps (dashboard/vite.config.ts: they would publish
# the full sources), so none reach the image (tests/deploy/docker checks it).
COPY dashboard/index.html dashboard/vite.config.ts dashboard/eslint.config.js \
     dashboard/tsconfig.json dashboard/tsconfig.app.json dashboard/tsconfig.node.json ./
COPY dashboard/src ./src
RUN npm run build

# --- build: a virtual environment in /app/.venv ------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

# The same uv as scripts/bootstrap, from PyPI.
ARG UV_VERSION=0.13.8
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

# Compile bytecode now (the runtime filesystem is read-only); copy files out of uv's cache
# rather than hard-link them; never download a Python, use the base image's.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Dependencies only: exactly what uv.lock pins (--frozen never re-resolves), without the
# development group and without the local-db extra (the embedded Postgres is for dev/test).
# This layer changes only when pyproject.toml or uv.lock does.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project --python /usr/local/bin/python

# The project on top, installed as a wheel (not editable): the runtime stage needs only the
# environment. The wheel carries the migrations (pyproject's force-include) and the prompts.
COPY README.md ./
COPY shared ./shared
COPY backend ./backend
COPY voxie ./voxie
COPY spawner ./spawner
COPY voxiectl ./voxiectl
COPY deploy/supabase/migrations ./deploy/supabase/migrations
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --python /usr/local/bin/python

# Model files of the installed LiveKit plugins, fetched now and never at container start.
# Today's plugins need none (noise cancellation ships its models inside its wheel; no turn
# detector is installed); a plugin added later that has files gets them here.
ENV HF_HOME=/app/models/huggingface \
    XDG_CACHE_HOME=/app/models
RUN mkdir -p /app/models \
    && /app/.venv/bin/python -m livekit.agents download-files

# --- runtime ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="voxie-platform" \
      org.opencontainers.image.description="Voxie platform: backend API, Voxie and spawner LiveKit workers, migrations"

# A dedicated unprivileged user; the numeric id lets Kubernetes check runAsNonRoot.
RUN groupadd --system --gid 10001 voxie \
    && useradd --system --uid 10001 --gid voxie --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin voxie

COPY --from=build /app/.venv /app/.venv
COPY --from=build /app/models /app/models
COPY deploy/docker/entrypoint.sh deploy/docker/healthcheck.py /app/bin/

# The dashboard's built files, served by the backend at `/` from DASHBOARD_DIST_DIR (below):
# the backend is installed as a wheel, so its default (dashboard/dist beside the source tree)
# does not exist here.
COPY --from=dashboard /dashboard/dist /app/dashboard

# The spool (session records kept while the store is down) is the one directory the workers
# write; mount a volume here so it outlives the container (Compose and Helm do).
RUN mkdir -p /var/lib/voxie/spool && chown -R voxie:voxie /var/lib/voxie

# Settings a container needs whatever the deployment; everything else comes from the
# environment at run time (.env.example). BACKEND_HOST: reachable from outside the container.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HOME=/app/models/huggingface \
    XDG_CACHE_HOME=/app/models \
    HF_HUB_OFFLINE=1 \
    BACKEND_HOST=0.0.0.0 \
    BACKEND_PORT=8000 \
    WORKER_HTTP_PORT=8081 \
    SPOOL_DIR=/var/lib/voxie/spool \
    DASHBOARD_DIST_DIR=/app/dashboard \
    LOG_FORMAT=json

WORKDIR /app
USER 10001:10001
VOLUME ["/var/lib/voxie/spool"]
EXPOSE 8000 8081

# Whichever role runs: the backend's /healthz on BACKEND_PORT or a worker's health server on
# WORKER_HTTP_PORT (deploy/docker/healthcheck.py). Workers get a long start period: they
# prewarm their executors before the health server answers.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/app/bin/healthcheck.py"]

ENTRYPOINT ["/app/bin/entrypoint.sh"]
CMD ["backend"]
