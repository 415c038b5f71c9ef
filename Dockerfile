# hubbot: python -m bot run, as a non-root user, with the database on a volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, for layer caching.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install .

RUN useradd --create-home --uid 10001 --user-group hubbot \
    && mkdir -p /app/data \
    && chown -R 10001:10001 /app/data
COPY config.example.toml ./config.example.toml

USER 10001:10001
VOLUME ["/app/data"]

# No config file is needed: every key has a default and DISCORD_TOKEN (and CIVITAI_API_KEY if you
# have one) come from the environment. To change settings, mount a file at /app/config.toml (read
# when present) or point BOT_CONFIG (or --config) at one.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run"]
