-- Who watched: each live (opened by going live, closed by leaving it) and the audience
-- per room, minute and node (viewer time added up, the largest peak kept).
CREATE TABLE room_lives (
    room_id    TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    ended_ms   BIGINT,
    PRIMARY KEY (room_id, started_ms)
);
-- At most one open live per room, whichever node sets the status.
CREATE UNIQUE INDEX room_lives_open ON room_lives (room_id) WHERE ended_ms IS NULL;
CREATE TABLE room_audience (
    room_id   TEXT NOT NULL,
    minute_ms BIGINT NOT NULL,
    node_id   TEXT NOT NULL,
    viewer_ms BIGINT NOT NULL,
    peak      BIGINT NOT NULL,
    PRIMARY KEY (room_id, minute_ms, node_id)
);
INSERT INTO room_lives (room_id, started_ms, ended_ms)
    SELECT id, started_ms, ended_ms FROM rooms WHERE started_ms IS NOT NULL;
