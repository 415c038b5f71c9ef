-- New-release feeds: subscriptions, the position of each distinct hub query, and the delivery
-- outbox (planned -> sent with the message id), which is also the record of every feed post.

CREATE TABLE subscriptions (
    id               INTEGER PRIMARY KEY,
    guild_id         INTEGER NOT NULL,
    channel_id       INTEGER NOT NULL,
    created_by       INTEGER NOT NULL,
    types            TEXT NOT NULL DEFAULT '[]',       -- JSON arrays of the filter values
    base_models      TEXT NOT NULL DEFAULT '[]',
    tags             TEXT NOT NULL DEFAULT '[]',
    creators         TEXT NOT NULL DEFAULT '[]',
    query            TEXT,
    max_rating       TEXT,                             -- NULL: the server's policy for the channel
    age_restricted   INTEGER NOT NULL DEFAULT 0,       -- the channel, when the feed was added
    hub_query        TEXT NOT NULL,                    -- canonical key of the hub query it polls
    state            TEXT NOT NULL DEFAULT 'active',   -- active | paused | failing | disabled
    state_changed_at REAL NOT NULL,
    started_at       TEXT NOT NULL,                    -- ISO-8601 UTC; versions published later are new
    created_at       REAL NOT NULL,
    failures         INTEGER NOT NULL DEFAULT 0,
    retry_at         REAL,                             -- failing: not before this time
    last_error       TEXT,
    last_error_at    REAL,
    last_post_at     REAL
);
CREATE INDEX subscriptions_guild ON subscriptions (guild_id);
CREATE INDEX subscriptions_query ON subscriptions (hub_query);

CREATE TABLE feed_queries (                            -- one row per distinct hub query
    key             TEXT PRIMARY KEY,
    high_water      TEXT,                              -- newest latest-version date seen (ISO-8601)
    resume_cursor   TEXT,                              -- a read that hit the page budget continues here
    resume_floor    TEXT,                              -- ... down to this date
    last_polled_at  REAL,
    last_success_at REAL,
    failures        INTEGER NOT NULL DEFAULT 0,
    retry_at        REAL,
    last_error      TEXT
);

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    subscription_id  INTEGER REFERENCES subscriptions (id) ON DELETE SET NULL,  -- NULL: feed removed
    guild_id         INTEGER NOT NULL,
    channel_id       INTEGER NOT NULL,
    model_id         INTEGER NOT NULL,
    model_version_id INTEGER NOT NULL,
    published_at     TEXT,
    kind             TEXT NOT NULL,                    -- new_model | new_version
    batch            INTEGER,                          -- set when posted within a summary: its marker
    state            TEXT NOT NULL DEFAULT 'planned',  -- planned | sent | dropped
    nonce            TEXT NOT NULL,                    -- Discord message nonce (<= 25 characters; unique
                                                       -- by construction: salt, subscription, version)
    attempts         INTEGER NOT NULL DEFAULT 0,       -- send attempts started (committed before sending)
    attempted_at     REAL,                             -- when the last attempt started
    message_id       INTEGER,
    reacted          INTEGER NOT NULL DEFAULT 0,       -- vote reactions: 0 to do, 1 added, 2 gave up
    planned_at       REAL NOT NULL,
    sent_at          REAL,
    UNIQUE (model_version_id, subscription_id)         -- also the index of lookups by version
);
CREATE INDEX deliveries_pending ON deliveries (subscription_id) WHERE state = 'planned';
CREATE INDEX deliveries_message ON deliveries (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX deliveries_unreacted ON deliveries (subscription_id) WHERE reacted = 0 AND state = 'sent';

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
