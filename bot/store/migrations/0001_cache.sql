-- The hub cache: models with their versions, files, hashes and images; a full-text index for
-- autocomplete; cached list queries; tags, creators and articles.
-- Raw JSON is kept beside the extracted columns so the hub's objects round-trip unchanged.

CREATE TABLE models (
    id              INTEGER PRIMARY KEY,             -- the hub's model id
    name            TEXT NOT NULL DEFAULT '',
    type            TEXT,
    creator         TEXT,
    nsfw_level      INTEGER NOT NULL DEFAULT 0,      -- rating mask (bot.rating), effective aggregate
    tags            TEXT NOT NULL DEFAULT '[]',      -- JSON array of tag names
    base_models     TEXT NOT NULL DEFAULT '[]',      -- JSON array, over all versions
    download_count  INTEGER,                         -- NULL when the creator hides it
    thumbs_up       INTEGER,
    thumbs_down     INTEGER,
    popularity      INTEGER NOT NULL DEFAULT 0,      -- ranking for autocomplete
    fts_rowid       INTEGER,                         -- this model's row in models_fts
    last_version_at TEXT,                            -- ISO-8601 UTC of the latest version
    raw             TEXT NOT NULL,                   -- the model's JSON without modelVersions
    fetched_at      REAL NOT NULL                    -- unix time of the hub answer
);
CREATE INDEX models_popularity ON models (popularity DESC);
CREATE INDEX models_last_version ON models (last_version_at DESC);

CREATE TABLE model_versions (
    id            INTEGER PRIMARY KEY,               -- the hub's version id
    model_id      INTEGER,                           -- no FK: a version may be cached without its model
    position      INTEGER NOT NULL DEFAULT 0,        -- order within the model (hub order, newest first)
    name          TEXT,
    base_model    TEXT,
    published_at  TEXT,                              -- ISO-8601 UTC (createdAt in the 2023 era)
    nsfw_level    INTEGER NOT NULL DEFAULT 0,
    trained_words TEXT NOT NULL DEFAULT '[]',
    raw           TEXT NOT NULL,                     -- the version's JSON, files and images included
    fetched_at    REAL NOT NULL
);
CREATE INDEX model_versions_model ON model_versions (model_id, position);

CREATE TABLE model_files (
    version_id  INTEGER NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,                    -- order within the version
    hub_file_id INTEGER,
    name        TEXT,
    type        TEXT,
    size_kb     REAL,
    format      TEXT,
    fp          TEXT,
    size        TEXT,
    is_primary  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (version_id, position)
) WITHOUT ROWID;

CREATE TABLE file_hashes (
    hash          TEXT NOT NULL,                     -- upper-case hex, as the hub sends it
    kind          TEXT NOT NULL,                     -- SHA256, AutoV1, AutoV2, AutoV3, CRC32, BLAKE3
    version_id    INTEGER NOT NULL,
    file_position INTEGER NOT NULL,
    PRIMARY KEY (hash, kind, version_id, file_position),
    FOREIGN KEY (version_id, file_position) REFERENCES model_files (version_id, position) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX file_hashes_file ON file_hashes (version_id, file_position);

CREATE TABLE model_images (
    version_id   INTEGER NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    hub_image_id INTEGER,
    url          TEXT,
    nsfw_level   INTEGER NOT NULL DEFAULT 0,         -- rating mask of this one image
    width        INTEGER,
    height       INTEGER,
    blurhash     TEXT,
    type         TEXT,
    PRIMARY KEY (version_id, position)
) WITHOUT ROWID;

-- rowid = popularity << 31 | model id: FTS5 walks a match in rowid order, so
-- "ORDER BY rowid DESC LIMIT 25" yields the most popular matches without sorting every match.
CREATE VIRTUAL TABLE models_fts USING fts5 (
    name, tags, creator, trained_words, model_id UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2 3'
);

CREATE TABLE query_cache (                           -- the result lists of hub list queries
    key        TEXT PRIMARY KEY,                     -- canonical query + cursor
    model_ids  TEXT NOT NULL,                        -- JSON array, in the hub's order
    next_cursor TEXT,
    fetched_at REAL NOT NULL
);

CREATE TABLE tags (
    name        TEXT PRIMARY KEY COLLATE NOCASE,
    model_count INTEGER,
    fetched_at  REAL NOT NULL
);

CREATE TABLE creators (
    username    TEXT PRIMARY KEY COLLATE NOCASE,
    model_count INTEGER,
    image       TEXT,
    fetched_at  REAL NOT NULL
);

CREATE TABLE articles (
    id                INTEGER PRIMARY KEY,
    title             TEXT,
    username          TEXT,
    published_at      TEXT,
    nsfw_level        INTEGER NOT NULL DEFAULT 0,
    engagement        INTEGER NOT NULL DEFAULT 0,
    raw               TEXT NOT NULL,                 -- list item JSON
    detail_raw        TEXT,                          -- detail JSON (with content), when fetched
    fetched_at        REAL NOT NULL,
    detail_fetched_at REAL
);
CREATE INDEX articles_published ON articles (published_at DESC);
