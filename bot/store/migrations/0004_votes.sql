-- This server's opinion of model versions: one vote per member per model version per server
-- (recommend +1 / not recommend -1), from reactions on the bot's model posts or from reviews.

CREATE TABLE votes (
    guild_id         INTEGER NOT NULL,
    model_version_id INTEGER NOT NULL,
    user_id          INTEGER NOT NULL,
    model_id         INTEGER,
    value            INTEGER NOT NULL CHECK (value IN (-1, 1)),
    source           TEXT NOT NULL DEFAULT 'reaction',   -- reaction | review
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL,
    PRIMARY KEY (guild_id, model_version_id, user_id)
);
CREATE INDEX votes_model ON votes (guild_id, model_id);
