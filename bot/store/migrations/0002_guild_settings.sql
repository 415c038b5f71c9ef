-- Per-server policies (/settings). One row per guild that changed anything; defaults otherwise.

CREATE TABLE guild_settings (
    guild_id          INTEGER PRIMARY KEY,
    max_rating        TEXT NOT NULL DEFAULT 'PG13',   -- for channels that are not age-restricted
    manager_role_id   INTEGER,
    moderator_role_id INTEGER,
    intake_channel_id INTEGER,
    intake_role_id    INTEGER,
    log_channel_id    INTEGER,
    reaction_votes    INTEGER NOT NULL DEFAULT 1,
    updated_at        REAL,
    updated_by        INTEGER
);
