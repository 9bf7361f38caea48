#!/usr/bin/python3
"""A tiny RTSP server for the RTSP pull-ingest tests.

Usage: /usr/bin/python3 rtsp_server.py PORT MOUNT [USERNAME PASSWORD]

Serves a live 320x180@30 H.264 (baseline, zerolatency, keyframe every 30 frames) test
pattern plus 48 kHz mono AAC on rtsp://127.0.0.1:PORT/MOUNT, shared between clients. With a
username and password, clients must authenticate (HTTP basic). Prints "READY" on stdout once
it listens, and runs until killed (or until stdin closes, so it never outlives the test).

Needs Debian's python3-gi and gir1.2-gst-rtsp-server-1.0: run it with /usr/bin/python3.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = (
    "( videotestsrc is-live=true pattern=ball "
    "! video/x-raw,width=320,height=180,framerate=30/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 "
    "! video/x-h264,profile=baseline "
    "! rtph264pay name=pay0 pt=96 config-interval=1 "
    "audiotestsrc is-live=true "
    "! audio/x-raw,rate=48000,channels=1 "
    "! avenc_aac ! aacparse "
    "! rtpmp4gpay name=pay1 pt=97 )"
)


def main() -> int:
    if len(sys.argv) not in (3, 5):
        print(__doc__, file=sys.stderr)
        return 2
    port, mount = sys.argv[1], sys.argv[2]
    if not mount.startswith("/"):
        mount = "/" + mount

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)

    if len(sys.argv) == 5:
        user, password = sys.argv[3], sys.argv[4]
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        factory.add_role_from_structure(
            Gst.Structure.new_from_string(
                "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )
        )

    server.get_mount_points().add_factory(mount, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", file=sys.stderr)
        return 1

    loop = GLib.MainLoop()

    def on_stdin(_source, condition):
        # The test holds our stdin; when it goes away (EOF or hang-up), so do we.
        data = sys.stdin.buffer.raw.read(4096) if condition & GLib.IO_IN else b""
        if not data:
            loop.quit()
            return False
        return True

    GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR, on_stdin)

    print("READY", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
