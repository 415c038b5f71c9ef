-- The bot's model cards posted by commands (/model, /hash, the search menu): message -> model version,
-- so that 👍/👎 reactions on them count as votes (feed posts are found in deliveries).

CREATE TABLE model_posts (
    message_id       INTEGER PRIMARY KEY,
    guild_id         INTEGER NOT NULL,
    channel_id       INTEGER NOT NULL,
    model_id         INTEGER NOT NULL,
    model_version_id INTEGER NOT NULL,
    created_at       REAL NOT NULL
);
