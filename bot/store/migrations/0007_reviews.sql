-- This server's reviews: one per member per model version (submitting again edits it). A review's
-- recommend / not recommend is also that member's vote (votes.source = 'review').

CREATE TABLE reviews (
    id               INTEGER PRIMARY KEY,
    guild_id         INTEGER NOT NULL,
    model_id         INTEGER NOT NULL,
    model_version_id INTEGER NOT NULL,
    user_id          INTEGER NOT NULL,
    recommended      INTEGER NOT NULL CHECK (recommended IN (0, 1)),
    text             TEXT,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL,
    UNIQUE (guild_id, model_version_id, user_id)
);
CREATE INDEX reviews_model ON reviews (guild_id, model_id, updated_at DESC);
