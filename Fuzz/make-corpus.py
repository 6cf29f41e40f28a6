#!/usr/bin/env python3
"""Writes the committed seed corpus: small valid and near-valid IDX and safetensors files.

Run from anywhere: python3 Fuzz/make-corpus.py. Deterministic (gzip mtime 0), so
re-running it leaves git clean. Each seed is a few hundred bytes at most, so libFuzzer's
default -max_len stays small and the runs stay fast.
"""
import gzip, json, os, struct

here = os.path.dirname(os.path.abspath(__file__))


def write(kind, name, data):
    directory = os.path.join(here, "corpus", kind)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def idx(code, shape, payload):
    return bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape) + payload


# IDX: every element type valid, gzip valid, then one defect each.
labels = idx(0x08, [10], bytes(range(10)))
images = idx(0x08, [2, 4, 4], bytes((i * 37) % 256 for i in range(32)))
write("idx", "labels-u8", labels)
write("idx", "images-u8", images)
write("idx", "images-u8.gz", gz(images))
write("idx", "i8", idx(0x09, [3], b"\xff\x7f\x80"))
write("idx", "i16", idx(0x0B, [2], b"\x01\x02\xff\xfe"))
write("idx", "i32", idx(0x0C, [1, 2], b"\x00\x01\x00\x00\xff\xff\xff\xfd"))
write("idx", "f32", idx(0x0D, [2], struct.pack(">ff", 1.5, -10)))
write("idx", "f64", idx(0x0E, [1], struct.pack(">d", 3.14159)))
write("idx", "zero-dim", idx(0x08, [0, 28, 28], b""))
write("idx", "two-members.gz", gz(images[:9]) + gz(images[9:]))
write("idx", "near-bad-magic", b"\x01" + labels[1:])
write("idx", "near-bad-type", idx(0x07, [1], b"\x00"))
write("idx", "near-short-payload", idx(0x08, [2, 4, 4], bytes(31)))
write("idx", "near-trailing", labels + b"\x00")
write("idx", "near-header-cut", labels[:6])
write("idx", "near-gz-cut", gz(images)[:-5])
write("idx", "near-gz-junk", gz(labels) + b"junk")
write("idx", "near-huge-dims", idx(0x0E, [0xFFFFFFFF] * 3, b""))


# safetensors: the writer's layout (sorted names, widest dtype first, padded to 8).
def safetensors(entries, metadata=None, pad=True, separators=(",", ":")):
    """entries: list of (name, dtype, shape, bytes); offsets laid out in the given order."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=separators).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def with_header(header, data=b""):
    text = header.encode()
    return struct.pack("<Q", len(text)) + text + data


w = struct.pack("<6f", -2.5, -1.5, -0.5, 0.5, 1.5, 2.5)
b = struct.pack("<3f", 3.14159, -0.0, float("inf"))
write("safetensors", "model", safetensors(
    [("0.weight", "F32", [2, 3], w), ("0.bias", "F32", [3], b)], {"format": "swift-nn checkpoint 1", "epochs": "1"}))
write("safetensors", "every-dtype", safetensors([
    ("rng.data", "U64", [4], struct.pack("<4Q", 1, 2, 3, 2**64 - 1)),
    ("d", "F64", [], struct.pack("<d", 0.5)),
    ("step", "I64", [], struct.pack("<q", -9)),
    ("i", "I32", [2], struct.pack("<2i", 7, -7)),
    ("u", "U32", [1], struct.pack("<I", 5)),
    ("h", "F16", [2], b"\x00\x3c\x00\xc0"),
    ("bf", "BF16", [1], b"\x80\x3f"),
    ("s", "I16", [1], b"\xff\xff"),
    ("us", "U16", [1], b"\x01\x00"),
    ("p", "U8", [3], b"\x01\x02\xff"),
    ("c", "I8", [1], b"\x80"),
    ("flag", "BOOL", [2], b"\x00\x01"),
    ("empty", "F32", [0, 3], b""),
]))
write("safetensors", "python-style", safetensors(
    [("t", "F32", [3, 2], struct.pack("<6f", *range(6)))], {"by": "python"}, separators=(", ", ": ")))
write("safetensors", "empty", with_header("{}"))
write("safetensors", "escapes", safetensors(
    [("na\u00efve \"q\" \\ \u2713", "F32", [1], b"\x00\x00\x80\x3f")], {"note": "tab\t nl\n \u00e9 \ud83d\ude00"}))
model = open(os.path.join(here, "corpus", "safetensors", "model"), "rb").read()
write("safetensors", "near-truncated", model[:-3])
write("safetensors", "near-header-past-end", struct.pack("<Q", 1 << 32) + model[8:])
write("safetensors", "near-bad-json", with_header('{"a": {"dtype": "F32"'))
write("safetensors", "near-unknown-dtype", with_header('{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', b"\x00"))
write("safetensors", "near-overlap", with_header(
    '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', bytes(12)))
write("safetensors", "near-past-end", with_header('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', bytes(4)))
write("safetensors", "near-gap", with_header(
    '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', bytes(12)))
write("safetensors", "near-duplicate", with_header(
    '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\x00"))
write("safetensors", "near-big-shape", with_header(
    '{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,4]}}', bytes(4)))
write("safetensors", "near-deep", with_header('{"__metadata__":' + "[" * 70 + "]" * 70 + "}"))

# A training checkpoint of Dense(3 -> 2) + Adam + ReduceOnPlateau, as Checkpoint.save writes
# it: what FuzzSafeTensors resumes from once an input parses.
f = lambda *v: struct.pack("<%df" % len(v), *v)
write("safetensors", "training", safetensors([
    ("rng.data", "U64", [4], struct.pack("<4Q", 11, 22, 33, 44)),
    ("0.bias", "F32", [2], f(0.1, -0.1)),
    ("0.weight", "F32", [2, 3], f(1, 2, 3, 4, 5, 6)),
    ("optimizer.0.exp_avg", "F32", [2, 3], f(0, 0, 0, 0, 0, 0)),
    ("optimizer.0.exp_avg_sq", "F32", [2, 3], f(1, 1, 1, 1, 1, 1)),
    ("optimizer.1.exp_avg", "F32", [2], f(0, 0)),
    ("optimizer.1.exp_avg_sq", "F32", [2], f(1, 1)),
], {
    "format": "swift-nn checkpoint 1", "model": "Sequential(Dense) [8 parameters]",
    "epochs_completed": "2", "optimizer_steps": "10", "learning_rate": "0.001",
    "schedule.epoch": "2.0", "schedule.learning_rate": "0.001", "schedule.best": "0.5",
    "schedule.bad_epochs": "0.0", "schedule.cooldown_left": "0.0",
    "standardization_mean": "0.286", "standardization_std": "0.353",
    "history": "[]",
}))

# Regression seeds: the training checkpoint with a metadata value that used to trap in
# Checkpoint.resume, Schedules' load or Standardization (see BadInputTests).
training = open(os.path.join(here, "corpus", "safetensors", "training"), "rb").read()
for name, old, new in [
    ("regress-schedule-epoch-inf", b'"schedule.epoch":"2.0"', b'"schedule.epoch":"inf"'),
    ("regress-steps-1e300", b'"optimizer_steps":"10"', b'"optimizer_steps":"1e300"'),
    ("regress-epochs-nan", b'"epochs_completed":"2"', b'"epochs_completed":"nan"'),
    ("regress-std-inf", b'"standardization_std":"0.353"', b'"standardization_std":"inf"'),
]:
    n = struct.unpack("<Q", training[:8])[0]
    header = training[8:8 + n].rstrip(b" ")
    assert header.count(old) == 1, name
    header = header.replace(old, new)
    header += b" " * ((8 - len(header) % 8) % 8)
    write("safetensors", name, struct.pack("<Q", len(header)) + header + training[8 + n:])
