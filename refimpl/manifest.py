"""Golden-set manifests: reading and integrity checking (no engine imports).

A golden set is a folder with manifest.json and the files it lists.  Each
entry of manifest["files"] gives the file's relative ``path``, ``bytes``,
``sha256``, ``format`` (hex, bin, npy, raw), ``dtype``, ``shape``,
``word_bits``, ``axes`` (the coordinate names of the layout, e.g.
["channel", "row", "col"]) and a ``tag`` saying what it is.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(folder) -> tuple:
    """(manifest dict or None, problem text or None)."""
    path = Path(folder) / MANIFEST
    if not Path(folder).is_dir():
        return None, f"{folder}: not a folder"
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None, f"{path}: missing"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path}: unreadable ({exc})"
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA_VERSION or not isinstance(doc.get("files"), list):
        return None, f"{path}: not a schema-{SCHEMA_VERSION} golden manifest"
    return doc, None


def verify(folder) -> list:
    """Problems of a golden set against its manifest: missing, truncated or
    grown, altered, extra files.  An empty list means intact."""
    folder = Path(folder)
    doc, problem = read_manifest(folder)
    if problem:
        return [problem]
    problems = []
    listed = set()
    for entry in doc["files"]:
        try:
            rel, size, digest = entry["path"], int(entry["bytes"]), entry["sha256"]
        except (KeyError, TypeError, ValueError):
            problems.append(f"{MANIFEST}: malformed file entry {entry!r}")
            continue
        listed.add(rel)
        path = folder / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
            continue
        data = path.read_bytes()
        if len(data) != size:
            problems.append(f"{rel}: {len(data)} bytes, manifest says {size} ({'truncated' if len(data) < size else 'grown'})")
        elif sha256(data) != digest:
            problems.append(f"{rel}: altered (sha256 differs from the manifest)")
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel != MANIFEST and rel not in listed:
            problems.append(f"{rel}: extra file, not in the manifest")
    return problems
