-- Members' links to their hub accounts (issue 10, part 6): the member's personal hub API key, sealed
-- with Fernet under the operator's security.secret_key (never stored in clear), and the hub account it
-- belongs to. One link per Discord member, whatever the server: the key is theirs, not a server's.
CREATE TABLE hub_links (
    user_id      INTEGER PRIMARY KEY,
    hub_user_id  INTEGER,
    hub_username TEXT NOT NULL,
    sealed_key   BLOB NOT NULL,
    linked_at    REAL NOT NULL,
    checked_at   REAL NOT NULL
);

-- Whether linked members' reviews may be posted to the hub from this server (default off).
ALTER TABLE guild_settings ADD COLUMN hub_reviews INTEGER NOT NULL DEFAULT 0;

-- A review also posted on the hub: the hub's review id and when.
ALTER TABLE reviews ADD COLUMN hub_review_id INTEGER;
ALTER TABLE reviews ADD COLUMN hub_posted_at REAL;
