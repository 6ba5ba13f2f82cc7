"""Reading the AMI captures in tests/fixtures/ami (bytes exactly as Asterisk sent them)."""
import re

BLANK = re.compile(rb"\r?\n\r?\n")


def split_messages(data):
    """Banner line and raw messages (each ending with its blank line)."""
    nl = data.index(b"\n")
    banner, rest = data[: nl + 1], data[nl + 1 :]
    msgs, pos = [], 0
    for m in BLANK.finditer(rest):
        chunk = rest[pos : m.end()]
        pos = m.end()
        if chunk.strip():
            msgs.append(chunk)
    return banner, msgs


def fields(raw):
    """Ordered (key, value) pairs of one raw message."""
    out = []
    for line in raw.split(b"\n"):
        line = line.rstrip(b"\r")
        if not line:
            continue
        k, _, v = line.partition(b":")
        if v.startswith(b" "):
            v = v[1:]
        out.append((k.decode("latin-1"), v.decode("utf-8", "replace")))
    return out


def get(pairs, key):
    for k, v in pairs:
        if k.lower() == key.lower():
            return v
    return None


def load(path):
    with open(path, "rb") as f:
        return split_messages(f.read())


def replayable(msgs):
    """The capture's spontaneous events: responses and list items answering the
    capture client's own actions (ActionID lab-...) are left out, and so is
    FullyBooted, which the scripted server sends itself after a login."""
    out = []
    for raw in msgs:
        p = fields(raw)
        if get(p, "Event") is None or get(p, "ActionID") is not None:
            continue
        if get(p, "Event") == "FullyBooted":
            continue
        out.append(raw)
    return out
