-- Composed preview pictures (collages of allowed images, BlurHash placeholders), keyed by the image
-- set and the layout, so a card shown twice is composed once.

CREATE TABLE previews (
    key          TEXT PRIMARY KEY,                   -- sha256 of the layout version and image URLs
    data         BLOB NOT NULL,                      -- the encoded picture (JPEG or WebP, <= 1 MB)
    content_type TEXT NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    tiles        INTEGER NOT NULL DEFAULT 1,         -- how many images the collage holds
    placeholder  INTEGER NOT NULL DEFAULT 0,         -- 1: rendered from BlurHash, no image fetched
    created_at   REAL NOT NULL,
    used_at      REAL NOT NULL
);
CREATE INDEX previews_used ON previews (used_at);
