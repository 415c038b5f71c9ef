-- Link intake (issue 12): one row per submitted link, from the queue to the moderators' decision.
-- state: queued -> running -> review -> approved | rejected; or failed, duplicate, cancelled.
-- A job found 'running' at start was interrupted by a restart: it is queued again from the start.
CREATE TABLE intake_jobs (
    id                INTEGER PRIMARY KEY,
    guild_id          INTEGER NOT NULL,
    channel_id        INTEGER,            -- where /intake was run
    user_id           INTEGER NOT NULL,
    url               TEXT NOT NULL,
    notes             TEXT,
    state             TEXT NOT NULL CHECK (state IN ('queued', 'running', 'review', 'approved', 'rejected',
                                                     'failed', 'duplicate', 'cancelled')),
    step              TEXT,               -- what a running job does now, for /intake status
    attempts          INTEGER NOT NULL DEFAULT 0,  -- runs started (a job cut short too often fails)
    file_name         TEXT,
    size              INTEGER,
    result            TEXT,               -- JSON: hashes, detection, metadata summary, scan verdict, duplicate
    error             TEXT,               -- why it failed, in words
    report_channel_id INTEGER,            -- the bot's own progress message, once the interaction's
    report_message_id INTEGER,            -- token is too old to edit the first reply
    card_channel_id   INTEGER,            -- the moderators' card in intake_channel
    card_message_id   INTEGER,
    decided_by        INTEGER,
    decision_reason   TEXT,
    decided_at        REAL,
    created_at        REAL NOT NULL,
    updated_at        REAL NOT NULL
);
CREATE INDEX intake_jobs_state ON intake_jobs (state, id);
CREATE INDEX intake_jobs_member ON intake_jobs (user_id, state);
