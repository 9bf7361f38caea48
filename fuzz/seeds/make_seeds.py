#!/usr/bin/env python3
"""Write the seed inputs of every fuzz target from real media made by ffmpeg.

Usage: fuzz/seeds/make_seeds.py OUT_DIR  (writes OUT_DIR/<target>/seed-*; needs ffmpeg)

The RTMP seed is what a publisher sends, from its first handshake byte: C0/C1/C2,
SetChunkSize, connect, createStream, publish, @setDataFrame and the FLV tags of a short
ffmpeg-encoded stream, chunked as RTMP does (type 0 headers, type 3 continuations).
"""
import os
import struct
import subprocess
import sys
import tempfile

CHUNK = 4096


def amf_str(s):
    b = s.encode()
    return b"\x02" + struct.pack(">H", len(b)) + b


def amf_num(n):
    return b"\x00" + struct.pack(">d", n)


def amf_obj(props):
    out = b"\x03"
    for k, v in props.items():
        out += struct.pack(">H", len(k)) + k.encode() + v
    return out + b"\x00\x00\x09"


def chunks(csid, type_id, stream_id, ts, payload, chunk=CHUNK):
    head = bytes([csid]) + struct.pack(">I", ts)[1:] + struct.pack(">I", len(payload))[1:]
    head += bytes([type_id]) + struct.pack("<I", stream_id)
    out = head + payload[:chunk]
    for i in range(chunk, len(payload), chunk):
        out += bytes([0xC0 | csid]) + payload[i:i + chunk]
    return out


def flv_tags(path):
    data = open(path, "rb").read()
    pos = struct.unpack(">I", data[5:9])[0] + 4
    while pos + 11 <= len(data):
        kind = data[pos]
        size = struct.unpack(">I", b"\0" + data[pos + 1:pos + 4])[0]
        ts = struct.unpack(">I", b"\0" + data[pos + 4:pos + 7])[0] | (data[pos + 7] << 24)
        yield kind, ts, data[pos + 11:pos + 11 + size]
        pos += 11 + size + 4


def rtmp_stream(tags, max_media):
    c1 = struct.pack(">II", 0, 0) + bytes((i * 7) & 0xFF for i in range(1528))
    out = b"\x03" + c1 + c1
    out += chunks(2, 1, 0, 0, struct.pack(">I", CHUNK))
    connect = amf_str("connect") + amf_num(1) + amf_obj({
        "app": amf_str("live"), "type": amf_str("nonprivate"),
        "flashVer": amf_str("FMLE/3.0"), "tcUrl": amf_str("rtmp://localhost/live")})
    out += chunks(3, 20, 0, 0, connect)
    out += chunks(3, 20, 0, 0, amf_str("createStream") + amf_num(2) + b"\x05")
    out += chunks(3, 20, 1, 0, amf_str("publish") + amf_num(3) + b"\x05"
                  + amf_str("seed-key") + amf_str("live"))
    meta = amf_str("@setDataFrame") + amf_str("onMetaData") + b"\x08\0\0\0\x02" + \
        struct.pack(">H", 5) + b"width" + amf_num(160) + \
        struct.pack(">H", 6) + b"height" + amf_num(96) + b"\x00\x00\x09"
    out += chunks(4, 18, 1, 0, meta)
    for kind, ts, body in tags[:max_media]:
        if kind in (8, 9):
            out += chunks(6 if kind == 9 else 5, kind, 1, ts, body)
    return out


def sps_nals(avcc):
    n = avcc[5] & 0x1F
    pos = 6
    for _ in range(n):
        size = struct.unpack(">H", avcc[pos:pos + 2])[0]
        yield avcc[pos + 2:pos + 2 + size]
        pos += 2 + size


def main():
    out = sys.argv[1]
    tmp = tempfile.mkdtemp()
    ff = ["ffmpeg", "-loglevel", "error", "-y"]
    src = ["-f", "lavfi", "-i", "testsrc=size=160x96:rate=10"]
    flvs = []
    for name, profile in (("high", "high"), ("base", "baseline")):
        path = os.path.join(tmp, name + ".flv")
        subprocess.run(ff + src + ["-f", "lavfi", "-i", "sine=sample_rate=44100", "-t", "1",
                                   "-c:v", "libx264", "-profile:v", profile, "-g", "10",
                                   "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k", path],
                       check=True)
        flvs.append((name, list(flv_tags(path))))
    mp4 = os.path.join(tmp, "frag.mp4")
    subprocess.run(ff + src + ["-t", "1", "-c:v", "libx264", "-g", "5", "-pix_fmt", "yuv420p",
                               "-movflags", "frag_keyframe+empty_moov+default_base_moof",
                               "-f", "mp4", mp4], check=True)

    def write(target, name, data):
        os.makedirs(os.path.join(out, target), exist_ok=True)
        with open(os.path.join(out, target, "seed-" + name), "wb") as f:
            f.write(data)

    for name, tags in flvs:
        write("rtmp_chunks", name + "-publish", rtmp_stream(tags, 12))
        video = [b for k, _, b in tags if k == 9]
        audio = [b for k, _, b in tags if k == 8]
        write("flv_tags", name + "-video-header", b"\x00" + video[0])
        write("flv_tags", name + "-video-key", b"\x00" + video[1][:512])
        write("flv_tags", name + "-video-inter", b"\x00" + video[2][:512])
        write("flv_tags", name + "-audio-header", b"\x01" + audio[0])
        write("flv_tags", name + "-audio-raw", b"\x01" + audio[1][:256])
        write("flv_tags", name + "-avcc", b"\x02" + video[0][5:])
        write("flv_tags", name + "-asc", b"\x03" + audio[0][2:])
        write("flv_tags", name + "-nalus", b"\x44" + video[1][5:][:512])
        for i, nal in enumerate(sps_nals(video[0][5:])):
            write("sps", f"{name}-{i}", nal)
        meta = [b for k, _, b in tags if k == 18]
        if meta:
            write("amf", name + "-onmetadata", meta[0])
    write("amf", "connect", amf_str("connect") + amf_num(1) + amf_obj({"app": amf_str("live")}))
    data = open(mp4, "rb").read()
    pos, boxes = 0, []
    while pos + 8 <= len(data):
        size = struct.unpack(">I", data[pos:pos + 4])[0]
        boxes.append(data[pos:pos + size])
        pos += size
    init = b"".join(b for b in boxes if b[4:8] in (b"ftyp", b"moov"))
    write("mp4_boxes", "init", init)
    frags = [i for i, b in enumerate(boxes) if b[4:8] == b"moof"]
    first = boxes[frags[0]] + boxes[frags[0] + 1][:64]
    write("mp4_boxes", "fragment", first)
    body = b"\x01\0\0\0" + struct.pack(">IQII", 1000, 12345, 0, 7) + \
        b"urn:livecart:event:2026\0" + b"1\0" + b'{"type":"product"}'
    write("mp4_boxes", "emsg-fragment", struct.pack(">I", len(body) + 8) + b"emsg" + body + first)


if __name__ == "__main__":
    main()
