-- Article digests: what each channel gets when, the record of every digest period (an outbox:
-- planned -> sent with the message id, so a period is never sent twice), and what the article
-- cache needs for them (how recently the hub's list was read, the article tags seen).

CREATE TABLE digests (
    id               INTEGER PRIMARY KEY,
    guild_id         INTEGER NOT NULL,
    channel_id       INTEGER NOT NULL,
    created_by       INTEGER NOT NULL,
    schedule         TEXT NOT NULL,                    -- daily | weekly
    day              INTEGER,                          -- weekly: 0 = Monday .. 6 = Sunday
    hour             INTEGER NOT NULL,                 -- 0..23, local time of the time zone
    timezone         TEXT NOT NULL,                    -- IANA name
    tags             TEXT NOT NULL DEFAULT '[]',       -- JSON array of tag names (any of them)
    size             INTEGER NOT NULL,                 -- articles per digest, 3..10
    state            TEXT NOT NULL DEFAULT 'active',   -- active | failing | disabled
    state_changed_at REAL NOT NULL,
    started_at       TEXT NOT NULL,                    -- ISO-8601 UTC; periods ending later are owed
    created_at       REAL NOT NULL,
    failures         INTEGER NOT NULL DEFAULT 0,       -- the channel refused, in a row
    retry_at         REAL,                             -- failing: not before this time
    last_error       TEXT,
    last_error_at    REAL
);
CREATE INDEX digests_guild ON digests (guild_id);

CREATE TABLE digest_runs (                             -- one row per digest period that came due
    id            INTEGER PRIMARY KEY,
    digest_id     INTEGER REFERENCES digests (id) ON DELETE SET NULL,  -- NULL: digest removed
    guild_id      INTEGER NOT NULL,
    channel_id    INTEGER NOT NULL,
    period_start  TEXT NOT NULL,                       -- ISO-8601 UTC: articles published from here ...
    period_end    TEXT NOT NULL,                       -- ... up to here (the scheduled time)
    state         TEXT NOT NULL DEFAULT 'planned',     -- planned | sent | empty | missed | dropped
    nonce         TEXT NOT NULL,                       -- Discord message nonce (<= 25 characters)
    attempts      INTEGER NOT NULL DEFAULT 0,          -- send attempts started (committed before sending)
    attempted_at  REAL,
    deferrals     INTEGER NOT NULL DEFAULT 0,          -- times the hub or Discord said "not now"
    last_error    TEXT,
    message_id    INTEGER,
    articles      TEXT,                                -- JSON array of the article ids sent
    planned_at    REAL NOT NULL,
    settled_at    REAL,
    UNIQUE (digest_id, period_end)
);
CREATE INDEX digest_runs_open ON digest_runs (digest_id) WHERE state = 'planned';

CREATE TABLE article_reads (                           -- the last complete read of the hub's newest articles
    variant     TEXT PRIMARY KEY,                      -- 'pg' (nsfw=false) | 'all' (nsfw=true)
    read_from   TEXT NOT NULL,                         -- ISO-8601 UTC: everything published since was read
    started_at  REAL NOT NULL,                         -- rows fetched since then were in that read
    finished_at REAL NOT NULL
);

CREATE TABLE article_tags (                            -- tags seen on hub articles (for autocomplete)
    name        TEXT PRIMARY KEY COLLATE NOCASE,
    id          INTEGER,
    is_category INTEGER NOT NULL DEFAULT 0,
    seen        INTEGER NOT NULL DEFAULT 0,            -- times seen on a listed article
    seen_at     REAL NOT NULL
);
