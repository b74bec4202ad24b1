#!/usr/bin/env python3
"""make_seeds.py -- write the binary seeds of tests/fuzz/corpus/ (wire, ckpt,
features), from the formats as proto/migr.proto, spec/ckpt_format.h,
common/store.h and media/features.c define them.  The text seeds are written
by hand.

    python3 tests/fuzz/make_seeds.py     (from the top of the tree)
"""
import hashlib
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(name, data):
    path = os.path.join(ROOT, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# ---- protobuf (proto3 wire format) ----

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wtype):
    return varint(field << 3 | wtype)


def f_varint(field, n):
    return key(field, 0) + varint(n)


def f_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return key(field, 2) + varint(len(data)) + data


def f_packed(field, values):
    return f_bytes(field, b"".join(varint(v) for v in values))


def envelope(field, body, version=1):
    return (f_varint(1, version) if version else b"") + f_bytes(field, body)


HELLO, HEARTBEAT, RESULT, BYE, ASSIGN, REFUSAL, REQUEST, REPLY = 10, 11, 12, 13, 20, 21, 30, 31

wire = {
    "request_ping": envelope(REQUEST, f_bytes(1, "ping")),
    "request_dataset_add": envelope(REQUEST, f_bytes(1, "dataset.add") + f_bytes(
        2, '{"name":"demo","manifest":"/data/demo/manifest.csv","annotations":"/data/demo/annotations.jsonl"}')),
    "request_run_submit": envelope(REQUEST, f_bytes(1, "run.submit") + f_bytes(
        2, '{"config":{"name":"sft","kind":"sft","dataset":"demo-200","train":{"steps":10,"lr":1e-3}},"tags":["a"]}')),
    "request_args_array": envelope(REQUEST, f_bytes(1, "run.list") + f_bytes(2, "[1, 2, 3]")),
    "request_args_broken": envelope(REQUEST, f_bytes(1, "run.show") + f_bytes(2, '{"id": 1')),
    "result_ok": envelope(RESULT, f_varint(1, 7) + f_varint(2, 0x1234abcd) + f_varint(3, 1) + f_bytes(
        5, '{"features":"datasets/demo/features/000000.feat","sha256":"00ff","has_audio":true,"duration":2.0}')),
    "result_ok_empty_output": envelope(RESULT, f_varint(1, 8) + f_varint(2, 9) + f_varint(3, 1)),
    "result_ok_not_object": envelope(RESULT, f_varint(1, 8) + f_varint(2, 9) + f_varint(3, 1) + f_bytes(5, '"text"')),
    "result_failed": envelope(RESULT, f_varint(1, 9) + f_varint(2, 10) + f_bytes(4, "decoding clip_000003.mp4: no video stream")),
    "hello": envelope(HELLO, f_bytes(1, "host-a.4242") + f_bytes(2, "host-a") + f_varint(3, 4242) +
                      f_varint(4, 2) + f_packed(5, [17, 18])),
    "heartbeat": envelope(HEARTBEAT, f_varint(1, 1) + f_packed(2, [17]) + f_varint(3, 3)),
    "bye": envelope(BYE, f_bytes(1, "SIGTERM")),
    "assign": envelope(ASSIGN, f_varint(1, 5) + f_varint(2, 99) + f_bytes(3, "featurize") +
                       f_bytes(4, '{"path":"/data/a.mp4","out":"x.feat"}') + f_varint(5, 1)),
    "refusal": envelope(REFUSAL, f_bytes(1, "protocol version 2, but this side speaks version 1")),
    "reply": envelope(REPLY, f_varint(1, 0) + f_bytes(3, '{"pong":true}')),
    "version_2": envelope(REQUEST, f_bytes(1, "ping"), version=2),
    "no_version": envelope(REQUEST, f_bytes(1, "ping"), version=0),
    "no_body": f_varint(1, 1),
    "empty": b"",
    "truncated": envelope(REQUEST, f_bytes(1, "dataset.add") + f_bytes(2, '{"name":"x"}'))[:-5],
    "unknown_field": f_varint(1, 1) + f_bytes(99, "?") + envelope(REQUEST, f_bytes(1, "ping"), version=0),
}
for name, data in wire.items():
    put(f"wire/{name}", data)

# ---- checkpoints and store objects ----

# model_config in header order: vocab max_seq channels layers heads mlp_ratio
# n_frames frame_pixels audio_tokens audio_window n_mel


def num_params(v, t, c, l, h, r, f, fpix, na, w, mel):
    ain = w * mel
    rc = r * c
    return (v * c + t * c + 4 * c + c * fpix + c + c * ain + c +
            l * (c + c + 3 * c * c + 3 * c + c * c + c + c + c + rc * c + rc + c * rc + c) + c + c)


def ckpt(cfg, step=3, seed=1, fill=0.5):
    n = num_params(*cfg)
    head = b"MIGRCKPT" + struct.pack("<I", 1) + struct.pack("<11i", *cfg)
    head += hashlib.sha256(b"vocab").digest() + struct.pack("<qQQ", step, n, seed)
    assert len(head) == 112
    body = b"".join(struct.pack("<f", fill * (i % 7 - 3)) for i in range(3 * n))
    data = head + body
    return data + hashlib.sha256(data).digest()


tiny = (3, 4, 2, 1, 1, 1, 1, 1, 1, 1, 1)
good = ckpt(tiny)
put("ckpt/valid", b"\x00" + good)
put("ckpt/valid_fix_sums", b"\x03" + good)
put("ckpt/all_ones", b"\x01" + ckpt((1, 2, 1, 1, 1, 1, 0, 1, 0, 1, 1), step=0, seed=0))
put("ckpt/bad_sum", b"\x00" + good[:-1] + bytes([good[-1] ^ 1]))
put("ckpt/truncated", b"\x01" + good[:200])
put("ckpt/header_only", b"\x00" + good[:112])
put("ckpt/version_2", b"\x01" + good[:8] + struct.pack("<I", 2) + good[12:])
wrong_count = bytearray(good)
wrong_count[96:104] = struct.pack("<Q", num_params(*tiny) + 1)
put("ckpt/wrong_count", b"\x01" + bytes(wrong_count))
put("ckpt/not_a_ckpt", b"\x00hello")


def store_object(payload):
    return b"MIGROBJ1" + struct.pack("<Q", len(payload)) + hashlib.sha256(payload).digest() + payload


put("ckpt/store_object", b"\x00" + store_object(b'{"words":["a","b"]}\n'))
put("ckpt/store_object_fix", b"\x02" + b'{"run":1,"shard":0}')
put("ckpt/store_object_padded", b"\x00" + store_object(b"payload") + b"x")

# ---- features ----


def features(nf, h, w, has_audio, na, nm, duration=2.0):
    head = b"MIGRFEAT" + struct.pack("<I", 1) + struct.pack("<6I", nf, h, w, has_audio, na, nm)
    head += struct.pack("<d", duration)
    vals = [((i * 37) % 256) / 255.0 for i in range(nf * h * w)]
    vals += [-13.8 + i * 0.5 for i in range(na * nm)]
    return head + b"".join(struct.pack("<f", v) for v in vals)


put("features/video_audio", features(2, 2, 3, 1, 3, 2))
put("features/silent", features(1, 4, 4, 0, 0, 4, duration=1.5))
put("features/empty", features(0, 0, 0, 0, 0, 0, duration=0.0))
put("features/truncated", features(2, 2, 2, 1, 2, 2)[:-3])
put("features/padded", features(1, 1, 1, 0, 0, 0) + b"\0")
put("features/bad_magic", b"MIGRFEAX" + features(1, 1, 1, 0, 0, 0)[8:])
put("features/version_9", features(1, 1, 1, 0, 0, 0)[:8] + struct.pack("<I", 9) + features(1, 1, 1, 0, 0, 0)[12:])
put("features/huge_dims", b"MIGRFEAT" + struct.pack("<I", 1) + struct.pack("<6I", 4096, 65536, 65536, 1, 65536, 4096) + struct.pack("<d", 1.0))
put("features/short", b"MIGRFEAT\x01\x00")
