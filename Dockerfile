# The one image of trialflow's own processes (docker-compose.yml runs it these ways):
#   python -m workers                   the journey worker (the default command)
#   python -m api --host 0.0.0.0        the HTTP API
#   python -m api.codec_server ...      the codec server (decodes payloads for authorised staff)
#   python -m records migrate           the trial record's schema migrations, a one-shot job
#   temporal operator search-attribute  the journey's search attributes, a one-shot job
# It holds no secret and no configuration: TRIALFLOW_* variables come at run time (docs/deployment.md).
# The build context is an allowlist (.dockerignore): pyproject.toml, README.md and the packages, nothing else.
#
#   docker build -t trialflow:0.1.0 .
#
# No HEALTHCHECK here: the worker and the migration job have nothing to probe, so the API's own check (GET /healthz)
# lives on the api service in docker-compose.yml.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---------------------------------------------------------------- build: a virtual environment with the project
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/trialflow
WORKDIR /src

# Dependencies first, from pyproject's own list (no dev extras): this layer is rebuilt only when pyproject changes.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && /opt/trialflow/bin/pip install --requirement /tmp/requirements.txt

# Then the project itself, as a regular (not editable) install; pip compiles it to bytecode, so a read-only
# container filesystem costs nothing at import.
COPY . .
RUN /opt/trialflow/bin/pip install --no-deps .

# ---------------------------------------------------------------- runtime: the environment, run by a plain user
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="trialflow" \
      org.opencontainers.image.description="Journey worker, HTTP API and record migrations of the CAR-T trial engine"

# A fixed numeric id, so an orchestrator can check `runAsNonRoot`; /var/lib/trialflow holds the API token file.
RUN groupadd --system --gid 10001 trialflow \
    && useradd --system --uid 10001 --gid trialflow --home-dir /var/lib/trialflow --no-create-home \
        --shell /usr/sbin/nologin trialflow \
    && install --directory --owner trialflow --group trialflow --mode 0750 /var/lib/trialflow /var/lib/trialflow/tokens

COPY --from=build /opt/trialflow /opt/trialflow

ENV PATH=/opt/trialflow/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TRIALFLOW_DATA_DIR=/var/lib/trialflow \
    TRIALFLOW_LOG_FORMAT=json

WORKDIR /var/lib/trialflow
USER 10001:10001
EXPOSE 8000

CMD ["python", "-m", "workers"]
