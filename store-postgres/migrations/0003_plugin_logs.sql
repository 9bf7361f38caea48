-- Plugin logs the merchant can read (the plugin's own lines and the host's about its calls,
-- such as the random seeds a draw used), trimmed to the newest lines per plugin and room.
CREATE TABLE plugin_logs (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room    TEXT NOT NULL,
    name    TEXT NOT NULL,
    hash    TEXT NOT NULL,
    at_ms   BIGINT NOT NULL,
    level   TEXT NOT NULL,
    source  TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX plugin_logs_by_room ON plugin_logs (room, name, seq);
