-- livecart on PostgreSQL, version 1: the same tables as the SQLite store's migrations 1-4,
-- in PostgreSQL's types. Integers are BIGINT (Rust i64), flags BOOLEAN, blobs BYTEA;
-- `seq` columns keep creation order.

CREATE TABLE plugin_versions (
    hash        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    name        TEXT NOT NULL,
    label       TEXT NOT NULL,
    manifest    TEXT NOT NULL,
    size        BIGINT NOT NULL,
    wasm        BYTEA NOT NULL,
    uploaded_ms BIGINT NOT NULL
);
CREATE INDEX plugin_versions_by_name ON plugin_versions (owner, name, uploaded_ms);

CREATE TABLE room_plugins (
    room            TEXT NOT NULL,
    name            TEXT NOT NULL,
    hash            TEXT NOT NULL REFERENCES plugin_versions (hash),
    config          TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL,
    disabled_reason TEXT,
    updated_ms      BIGINT NOT NULL,
    PRIMARY KEY (room, name)
);

CREATE TABLE room_plugin_history (
    seq    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room   TEXT NOT NULL,
    name   TEXT NOT NULL,
    hash   TEXT NOT NULL,
    config TEXT NOT NULL,
    at_ms  BIGINT NOT NULL
);
CREATE INDEX room_plugin_history_by_room ON room_plugin_history (room, name, seq);

CREATE TABLE plugin_faults (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room    TEXT NOT NULL,
    name    TEXT NOT NULL,
    hash    TEXT NOT NULL,
    kind    TEXT NOT NULL,
    message TEXT NOT NULL,
    at_ms   BIGINT NOT NULL
);
CREATE INDEX plugin_faults_by_room ON plugin_faults (room, name, seq);

CREATE TABLE plugin_kv (
    name  TEXT NOT NULL,
    room  TEXT NOT NULL,
    key   TEXT NOT NULL,
    value BYTEA NOT NULL,
    PRIMARY KEY (name, room, key)
);

CREATE TABLE merchants (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    disabled_ms BIGINT
);

CREATE TABLE merchant_tokens (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    revoked_ms  BIGINT
);
CREATE INDEX merchant_tokens_by_merchant ON merchant_tokens (merchant_id, seq);

CREATE TABLE rooms (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL,
    title       TEXT NOT NULL,
    stream_key  TEXT NOT NULL UNIQUE,
    status      TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    started_ms  BIGINT,
    ended_ms    BIGINT
);
CREATE INDEX rooms_by_merchant ON rooms (merchant_id, seq);

CREATE TABLE products (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    id          TEXT NOT NULL,
    title       TEXT NOT NULL,
    price_cents BIGINT NOT NULL,
    currency    TEXT NOT NULL,
    image_url   TEXT NOT NULL,
    buy_url     TEXT NOT NULL,
    stock       BIGINT NOT NULL,
    description TEXT NOT NULL,
    faq         TEXT NOT NULL,
    specs       TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    deleted     BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (merchant_id, id)
);

CREATE TABLE coupons (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    merchant_id    TEXT NOT NULL,
    room_id        TEXT,
    title          TEXT NOT NULL,
    discount_cents BIGINT NOT NULL,
    quota          BIGINT NOT NULL,
    claimed        BIGINT NOT NULL DEFAULT 0,
    per_user_limit BIGINT NOT NULL,
    valid_from_ms  BIGINT NOT NULL,
    valid_until_ms BIGINT NOT NULL,
    unlocked       BOOLEAN NOT NULL,
    created_ms     BIGINT NOT NULL,
    deleted        BOOLEAN NOT NULL DEFAULT FALSE,
    CHECK (claimed <= quota)
);
CREATE INDEX coupons_by_merchant ON coupons (merchant_id, seq);
CREATE INDEX coupons_by_room ON coupons (room_id, seq);

CREATE TABLE claims (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    claim_id   TEXT NOT NULL UNIQUE,
    coupon_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    idem_key   TEXT NOT NULL UNIQUE,
    claimed_ms BIGINT NOT NULL,
    push_id    TEXT,
    variant    TEXT
);
CREATE INDEX claims_by_coupon_user ON claims (coupon_id, user_id);
CREATE INDEX claims_by_push ON claims (push_id);

CREATE TABLE flash_sales (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    merchant_id    TEXT NOT NULL,
    room_id        TEXT NOT NULL,
    product_id     TEXT NOT NULL,
    price_cents    BIGINT NOT NULL,
    stock          BIGINT NOT NULL,
    sold           BIGINT NOT NULL DEFAULT 0,
    per_user_limit BIGINT NOT NULL,
    starts_ms      BIGINT NOT NULL,
    ends_ms        BIGINT NOT NULL,
    created_ms     BIGINT NOT NULL,
    CHECK (sold <= stock)
);
CREATE INDEX flash_sales_by_room ON flash_sales (room_id, starts_ms);

CREATE TABLE orders (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id     TEXT NOT NULL UNIQUE,
    sale_id      TEXT,
    room_id      TEXT NOT NULL,
    product_id   TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    quantity     BIGINT NOT NULL,
    amount_cents BIGINT NOT NULL,
    idem_key     TEXT NOT NULL UNIQUE,
    created_ms   BIGINT NOT NULL,
    push_id      TEXT,
    variant      TEXT
);
CREATE INDEX orders_by_sale_user ON orders (sale_id, user_id);
CREATE INDEX orders_by_room ON orders (room_id, created_ms);

CREATE TABLE pushes (
    push_id        TEXT PRIMARY KEY,
    room_id        TEXT NOT NULL,
    product_id     TEXT NOT NULL,
    variant        TEXT,
    server_send_ms BIGINT NOT NULL,
    media_ms       BIGINT,
    source         TEXT NOT NULL
);
CREATE INDEX pushes_by_room ON pushes (room_id, server_send_ms);

CREATE TABLE acks (
    push_id            TEXT NOT NULL,
    user_id            TEXT NOT NULL,
    room_id            TEXT NOT NULL,
    variant            TEXT,
    received_ms        BIGINT,
    displayed_ms       BIGINT,
    displayed_media_ms BIGINT,
    PRIMARY KEY (push_id, user_id)
);

CREATE TABLE clicks (
    push_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    product_id TEXT NOT NULL,
    variant    TEXT,
    at_ms      BIGINT NOT NULL,
    PRIMARY KEY (push_id, user_id)
);
