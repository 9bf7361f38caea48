# The cache of a livecart CDN edge (Varnish 7, Debian's `varnish`), behind the edge's
# nginx (nginx.conf in this directory), in front of livecart's LL-DASH and HLS origin.
#
# Why Varnish holds the cache and not nginx: a growing segment must reach every viewer of
# the edge chunk by chunk, over one origin fetch. Varnish streams an object that is still
# being fetched to every client that asks for it (`do_stream`, request coalescing), so
# the tenth viewer of a segment gets its chunks when the first does. nginx's cache lock
# collapses the fetch too, but gives the object to the waiting requests only once it is
# complete, checking every 500 ms: measured here, every viewer of an edge but the first
# got a 1 s segment's first byte 1.3 s late (docs/media.md, "CDN edge").
#
# - Init and media segments: one fetch per edge, then cached for good (their bytes never
#   change; a growing one is marked max-age=1 by the origin, but ends the same).
# - Manifests and playlists: as briefly as the origin says (max-age=1), no grace, so a
#   player never gets a stale one while a fresh one is on its way.
# - Errors ("not available yet", 404 from the origin's limiter) are not cached. A fetch
#   the origin aborts (a stalled segment) is never cached either.
#
# Placeholders, replaced when installing (and by tests/tests/cdn_edge.rs):
#   @ORIGIN_HOST@ @ORIGIN_PORT@   the livecart HTTP address
#
# Run: varnishd -a 127.0.0.1:6081 -f /path/to/edge.vcl -s malloc,1g
#      (-n DIR for a working directory of its own; -j none when started as root in a test)

vcl 4.1;

backend origin {
    .host = "@ORIGIN_HOST@";
    .port = "@ORIGIN_PORT@";
    .first_byte_timeout = 10s;
    .between_bytes_timeout = 5s;
}

sub vcl_recv {
    if (req.url !~ "^/media/") {
        return (pass);
    }
    # One cache object per URL for every viewer: nothing of the viewer's is in the key.
    unset req.http.Cookie;
    unset req.http.Authorization;
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    return (hash);
}

sub vcl_backend_response {
    set beresp.do_stream = true;
    if (beresp.status != 200) {
        set beresp.uncacheable = true;
        set beresp.ttl = 0s;
        return (deliver);
    }
    if (bereq.url ~ "^/media/[^/]+/[^/]+/[^/]+/[^/]+\.(m4s|mp4)$") {
        set beresp.ttl = 10m;
        set beresp.grace = 0s;
        return (deliver);
    }
    if (bereq.url ~ "\.(mpd|m3u8)$") {
        set beresp.grace = 0s;
    }
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
