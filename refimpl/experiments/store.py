"""Resumable results and atomic outputs.

A Store is one JSON-lines file in the cache folder
(``<cache>/experiments/<experiment>.jsonl``): each line is {"key": ..., "value": ...}
for one finished operating point, appended (one O_APPEND write) as soon as it
is measured, so several processes may share a file (shards of one
experiment over different layers).  A rerun reads the file and measures only the points not in it, so
an interrupted experiment continues where it stopped.  A key is the JSON of
everything the value depends on (experiment, set key, model key, layer, codec,
options); a line cut short by a kill is ignored.

Outputs (CSV, JSON, PNG) are written once at the end, each through
fileio.atomic_write, so a half-written file never looks complete.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

from ..errors import RefimplError
from ..fileio import atomic_write


class Store:
    def __init__(self, path):
        self.path = Path(path)
        self.items = {}
        self.measured = 0                             # points measured (put) by this process
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RefimplError(f"{self.path.parent}: cannot create cache folder ({exc.strerror})") from None
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    item = json.loads(line)
                    self.items[item["key"]] = item["value"]
                except (ValueError, KeyError, TypeError):
                    continue                          # a line cut short by an interrupted run

    @staticmethod
    def key(**fields) -> str:
        return json.dumps(fields, sort_keys=True)

    def get(self, key: str):
        return self.items.get(key)

    def put(self, key: str, value):
        self.items[key] = value
        self.measured += 1
        line = (json.dumps(dict(key=key, value=value)) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, line)            # one O_APPEND write: processes sharing the file never interleave
        finally:
            os.close(fd)

    def point(self, key: str, measure):
        """The stored value of ``key``, or measure() stored under it."""
        if key not in self.items:
            self.put(key, measure())
        return self.items[key]


def _clean(o):
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def write_json(path, obj: dict):
    atomic_write(path, (json.dumps(_clean(obj), indent=1) + "\n").encode())


def write_csv(path, header: list, rows: list):
    """rows: dicts with the header's keys; floats as given (format them before)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if r.get(h) is None else r.get(h) for h in header])
    atomic_write(path, buf.getvalue().encode())


def out_dir(path) -> Path:
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise RefimplError(f"{p}: --out must be a folder (it is a file)")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RefimplError(f"{p}: cannot create output folder ({exc.strerror})") from None
    return p
