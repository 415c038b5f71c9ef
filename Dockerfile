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

RUN useradd --create-home --uid 10001 hubbot \
    && mkdir -p /app/data \
    && chown -R hubbot:hubbot /app/data
COPY config.example.toml ./config.example.toml
COPY config.example.toml ./config.toml

USER hubbot
VOLUME ["/app/data"]

# /app/config.toml holds the defaults; mount your own over it (or set BOT_CONFIG), and pass
# DISCORD_TOKEN (and CIVITAI_API_KEY if you have one) in the environment.
ENV BOT_CONFIG=/app/config.toml
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run"]
