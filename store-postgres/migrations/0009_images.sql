-- Product images merchants upload, by content id (`img_` + SHA-256 prefix).
CREATE TABLE images (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes        BYTEA NOT NULL,
    created_ms   BIGINT NOT NULL
);
CREATE INDEX images_by_merchant ON images (merchant_id);
