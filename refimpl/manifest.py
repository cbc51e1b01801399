"""Golden-set manifests: reading, schema validation and integrity checking (no engine imports).

A golden set is a folder with manifest.json and the files it lists.  Each
entry of manifest["files"] gives the file's relative ``path``, ``bytes``,
``sha256``, ``format`` (hex, bin, npy, raw), ``dtype``, ``shape``,
``word_bits``, ``axes`` (the coordinate names of the layout, e.g.
["channel", "row", "col"]) and a ``tag`` saying what it is.

The manifest is input like any other (it may be hand-edited or forged), so
``verify`` sorts what it finds in two kinds:

invalid  (exit 2) the manifest is unusable or contradicts the files it lists:
         unreadable or malformed JSON, a missing or mistyped key, a path that
         is absolute, holds ``..`` or names a symlink, folder, FIFO or device,
         a shape whose word count or layout differs from the file's, a
         word_bits/dtype the writer never produces or that the words do not
         fit, a format that is not the extension, formats of one tensor that
         hold different words.
problems (exit 1) files damaged against a valid manifest: missing, truncated,
         grown, altered (sha256), and anything in the folder the manifest does
         not list ("extra": files, symlinks, FIFOs, folders).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .wordfile import WORD_BITS, WordFileError, check_range, hex_header, read_npy, read_words

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
WORD_FORMATS = ("hex", "bin", "npy")
FORMATS = WORD_FORMATS + ("raw",)
_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Verdict:
    """What ``verify`` found: ``invalid`` lines (exit 2), ``problems`` lines (exit 1), the manifest."""

    invalid: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    doc: dict | None = None

    @property
    def status(self) -> int:
        return 2 if self.invalid else 1 if self.problems else 0


def _show(v) -> str:
    """A short rendering of a JSON value for a message (never recursive)."""
    if isinstance(v, (list, dict)):
        return f"a JSON {'list' if isinstance(v, list) else 'object'} of {len(v)} items"
    text = json.dumps(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(v) -> bool:
    return type(v) is int                     # not bool, not 16.0


def read_manifest(folder) -> tuple:
    """(manifest dict or None, problem text or None); problems name the manifest relative to the folder."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not folder.is_dir():
        return None, "not a folder" if folder.exists() else "no such folder"
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None, f"{MANIFEST}: not a regular file"
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None, f"{MANIFEST}: missing (not a golden set)"
    except RecursionError:
        return None, f"{MANIFEST}: unreadable (JSON nested too deeply)"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{MANIFEST}: unreadable ({exc})"
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA_VERSION or not isinstance(doc.get("files"), list):
        return None, (f"{MANIFEST}: not a schema-{SCHEMA_VERSION} golden manifest "
                      f"(needs \"schema\": {SCHEMA_VERSION} and a \"files\" list)")
    return doc, None


def check_path(rel) -> str | None:
    """Why ``rel`` is not a safe relative path inside the set (None when it is)."""
    if not isinstance(rel, str) or not rel:
        return f"must be a non-empty string, got {_show(rel)}"
    if rel.startswith("/") or "\\" in rel or "\0" in rel or re.match(r"[A-Za-z]:", rel):
        return f"{_show(rel)} must be a relative POSIX path inside the set"
    parts = rel.split("/")
    if ".." in parts:
        return f"{_show(rel)} leaves the set ('..')"
    if any(p in ("", ".") for p in parts):
        return f"{_show(rel)} is not a normalised path (empty or '.' component)"
    if rel == MANIFEST:
        return f"{_show(rel)} is the manifest itself"
    return None


def check_entry(e) -> list:
    """Schema violations of one file entry, as (field, text) pairs."""
    if not isinstance(e, dict):
        return [("entry", f"must be a JSON object, got {_show(e)}")]
    bad = []
    for key in ("path", "bytes", "sha256", "format", "dtype", "shape", "word_bits", "axes"):
        if key not in e:
            bad.append((key, "missing"))
    if "path" in e and (why := check_path(e["path"])):
        bad.append(("path", why))
    if "bytes" in e and not (_is_int(e["bytes"]) and e["bytes"] >= 0):
        bad.append(("bytes", f"must be a non-negative integer, got {_show(e['bytes'])}"))
    if "sha256" in e and not (isinstance(e["sha256"], str) and _SHA256.fullmatch(e["sha256"])):
        bad.append(("sha256", f"must be 64 lowercase hex digits, got {_show(e['sha256'])}"))
    fmt = e.get("format")
    if "format" in e:
        if fmt not in FORMATS:
            bad.append(("format", f"{_show(fmt)} unknown (one of {', '.join(FORMATS)})"))
        elif isinstance(e.get("path"), str):
            ext = e["path"].rsplit(".", 1)[1] if "." in e["path"].rsplit("/", 1)[-1] else ""
            if fmt in WORD_FORMATS and ext != fmt:
                bad.append(("format", f"{_show(fmt)} but the path ends in {_show('.' + ext if ext else '')}"))
            if fmt == "raw" and ext in ("hex", "npy"):          # .bin of raw bytes is both
                bad.append(("format", f"\"raw\" but the path ends in \".{ext}\" (a word-file extension)"))
    shape = e.get("shape")
    if "shape" in e and not (isinstance(shape, list) and all(_is_int(d) and d >= 0 for d in shape)):
        bad.append(("shape", f"must be a list of non-negative integers, got {_show(shape)}"))
    dtype, bits = e.get("dtype"), e.get("word_bits")
    if "dtype" in e and dtype not in WORD_BITS:
        bad.append(("dtype", f"{_show(dtype)} is not a dtype the writer produces ({', '.join(WORD_BITS)})"))
    if "word_bits" in e:
        if not _is_int(bits):
            bad.append(("word_bits", f"must be an integer, got {_show(bits)}"))
        elif dtype in WORD_BITS and bits not in WORD_BITS[dtype]:
            r = WORD_BITS[dtype]
            bad.append(("word_bits", f"{bits} is not a width the writer produces for {dtype} "
                                     f"({r.start if len(r) == 1 else f'{r.start}..{r.stop - 1}'})"))
    if fmt == "raw" and (dtype, bits) != ("uint8", 8) and not bad:
        bad.append(("dtype", "a raw file is uint8 bytes with word_bits 8"))
    axes = e.get("axes")
    if "axes" in e and not (isinstance(axes, list) and all(isinstance(a, str) for a in axes)
                            and (not isinstance(shape, list) or len(axes) == len(shape))):
        bad.append(("axes", f"must be a list of names, one per shape dimension, got {_show(axes)}"))
    if "tag" in e and not isinstance(e["tag"], str):
        bad.append(("tag", f"must be a string, got {_show(e['tag'])}"))
    return bad


def _expected_bits(doc: dict) -> dict:
    """{tensor stem: (word_bits, source)} the layer and tile records imply (bias_bits, acc_bits)."""
    want = {}
    for li, layer in enumerate(doc.get("layers") if isinstance(doc.get("layers"), list) else []):
        if not isinstance(layer, dict):
            continue
        files = layer.get("files") if isinstance(layer.get("files"), dict) else {}
        if isinstance(files.get("bias"), str) and _is_int(layer.get("bias_bits")):
            want[files["bias"]] = (layer["bias_bits"], f"layers[{li}] bias_bits")
        for ti, tile in enumerate(layer.get("tiles") if isinstance(layer.get("tiles"), list) else []):
            if not (isinstance(tile, dict) and isinstance(tile.get("params"), dict)
                    and isinstance(tile.get("files"), dict)):
                continue
            for name, key in (("psums", "acc_bits"), ("bias", "bias_bits")):
                stem, bits = tile["files"].get(name), tile["params"].get(key)
                if isinstance(stem, str) and _is_int(bits):
                    want[stem] = (bits, f"layers[{li}].tiles[{ti}] params {key}")
    return want


_KINDS = [(stat.S_ISREG, "file"), (stat.S_ISLNK, "symlink"), (stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"),
          (stat.S_ISCHR, "device"), (stat.S_ISBLK, "device"), (stat.S_ISSOCK, "socket")]


def kind(mode) -> str:
    """'file' (regular), 'symlink', 'folder', 'FIFO', 'device' or 'socket' of an lstat mode."""
    return next((name for test, name in _KINDS if test(mode)), "special file")


def locate(folder: Path, rel: str) -> tuple:
    """(path, None) when ``rel`` names a regular file reached through real folders of the set;
    (None, ("missing", text)) or (None, ("invalid", text)) otherwise.  Never follows a symlink."""
    cur = folder
    parts = rel.split("/")
    for i, part in enumerate(parts):
        cur = cur / part
        try:
            mode = os.lstat(cur).st_mode
        except FileNotFoundError:
            return None, ("missing", f"{rel}: missing")
        except OSError as exc:
            return None, ("missing", f"{rel}: unreadable ({exc.strerror})")
        last = i == len(parts) - 1
        if last and stat.S_ISREG(mode):
            return cur, None
        if not last and stat.S_ISDIR(mode):
            continue
        where = "" if last else f" (its component '{'/'.join(parts[:i + 1])}' is)"
        return None, ("invalid", f"{MANIFEST}: entry {_show(rel)}: 'path' names a {kind(mode)}{where}, "
                                 f"not a regular file")
    raise AssertionError("unreachable")


def _check_words(e: dict, data: bytes) -> np.ndarray:
    """The tensor's words (int64, flat) after checking them against the entry's dtype, shape and
    word_bits; raises WordFileError saying how they disagree."""
    rel, shape, dtype, bits = e["path"], tuple(e["shape"]), e["dtype"], e["word_bits"]
    if e["format"] == "npy":
        a = read_npy(data, shape, rel)
        if a.dtype != np.dtype(dtype):
            raise WordFileError(f"{rel}: npy holds {a.dtype}, manifest 'dtype' says {dtype}")
        v = a.reshape(-1).astype(np.int64)
        if 8 * a.dtype.itemsize != bits:                        # else the container is the width
            check_range(v, bits, not dtype.startswith("u"), rel)
        return v
    if e["format"] == "hex":
        if math.prod(shape) > len(data):            # before allocating the words of a forged shape
            raise WordFileError(f"{rel}: manifest 'shape' {list(shape)} is {math.prod(shape)} words, "
                                f"more than the file's {len(data)} bytes can hold")
        head = hex_header(data)
        want = "x".join(map(str, shape)) or "0"
        if head["shape"] is not None and head["shape"] != want:
            raise WordFileError(f"{rel}: manifest 'shape' {list(shape)}, the file's header says shape={head['shape']}")
        if head["word_bits"] is not None and head["word_bits"] != bits:
            raise WordFileError(f"{rel}: manifest 'word_bits' {bits}, "
                                f"the file's header says word_bits={head['word_bits']}")
    return read_words(data, e["format"], shape, dtype, bits, rel, exact=True)[0]


def _check_tensor(group: list, folder: Path, verdict: Verdict, implied: dict):
    """Integrity of the entries of one tensor (its formats), then their agreement with each other."""
    words = {}
    for e in group:
        path, why = locate(folder, e["path"])
        if why:
            (verdict.invalid if why[0] == "invalid" else verdict.problems).append(why[1])
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            verdict.problems.append(f"{e['path']}: unreadable ({exc.strerror})")
            continue
        if len(data) != e["bytes"]:
            verdict.problems.append(f"{e['path']}: {len(data)} bytes, manifest says {e['bytes']} "
                                    f"({'truncated' if len(data) < e['bytes'] else 'grown'})")
        elif sha256(data) != e["sha256"]:
            verdict.problems.append(f"{e['path']}: altered (sha256 differs from the manifest)")
        elif e["format"] == "raw":
            if e["shape"] != [len(data)]:
                verdict.invalid.append(f"{MANIFEST}: entry {_show(e['path'])}: 'shape' {e['shape']} but the file "
                                       f"holds {len(data)} bytes")
        else:
            try:
                words[e["format"]] = _check_words(e, data)
            except WordFileError as exc:
                why = re.sub(r"^(\d+): ", r"line \1: ", str(exc).removeprefix(e["path"] + ":").lstrip(" "))
                verdict.invalid.append(f"{MANIFEST}: entry {_show(e['path'])}: manifest and data disagree: {why}")
    stem = group[0]["path"].rsplit(".", 1)[0]
    if stem in implied:
        bits, source = implied[stem]
        for e in group:
            if e["format"] != "raw" and e["word_bits"] != bits:
                verdict.invalid.append(f"{MANIFEST}: entry {_show(e['path'])}: 'word_bits' {e['word_bits']} but "
                                       f"{source} is {bits}")
    for key in ("shape", "dtype", "word_bits"):
        if len({json.dumps(e[key]) for e in group}) > 1:
            verdict.invalid.append(f"{MANIFEST}: tensor {_show(stem)}: '{key}' differs between its formats ("
                                   + ", ".join(f"{e['format']}: {e[key]}" for e in group) + ")")
    fmts = list(words)
    for other in fmts[1:]:
        a, b = words[fmts[0]], words[other]
        if a.shape != b.shape or not np.array_equal(a, b):
            diff = np.flatnonzero(a != b) if a.shape == b.shape else [0]
            i = int(diff[0])
            verdict.invalid.append(f"{MANIFEST}: tensor {_show(stem)}: the {fmts[0]} and {other} files hold different "
                                   f"words ({len(diff)} differ, first at flat index {i}: {int(a[i])} vs {int(b[i])})")


def _extras(folder: Path, listed: set) -> list:
    """Everything in the folder the manifest does not list: files, symlinks, FIFOs, devices, folders."""
    dirs = {"/".join(p.split("/")[:i]) for p in listed for i in range(1, p.count("/") + 1)}
    found = []
    for top, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(top).relative_to(folder).as_posix()
        for name in sorted(dirnames):
            rel = name if base == "." else f"{base}/{name}"
            if os.path.islink(Path(top) / name):
                if rel not in dirs:
                    found.append(f"{rel}: extra symlink, not in the manifest")
                dirnames.remove(name)
            elif rel not in dirs:
                found.append(f"{rel}: extra folder, not in the manifest")
                dirnames.remove(name)
        for name in sorted(filenames):
            rel = name if base == "." else f"{base}/{name}"
            if rel in listed or rel == MANIFEST:
                continue
            found.append(f"{rel}: extra {kind(os.lstat(Path(top) / name).st_mode)}, not in the manifest")
    return sorted(found)


def verify(folder) -> Verdict:
    """Validate a golden set's manifest and check every file against it (see the module text)."""
    folder = Path(folder)
    doc, problem = read_manifest(folder)
    if problem:
        return Verdict(invalid=[problem])
    verdict = Verdict(doc=doc)
    groups, seen = {}, set()
    for i, e in enumerate(doc["files"]):
        named = isinstance(e, dict) and isinstance(e.get("path"), str)
        label = f"{MANIFEST}: files[{i}]" + (f" {_show(e['path'])}" if named else "")
        bad = check_entry(e)
        for key, text in bad:
            verdict.invalid.append(f"{label}: '{key}' {text}")
        if bad:
            continue
        if e["path"] in seen:
            verdict.invalid.append(f"{label}: 'path' listed twice")
            continue
        seen.add(e["path"])
        groups.setdefault(e["path"].rsplit(".", 1)[0] if e["format"] != "raw" else e["path"], []).append(e)
    implied = _expected_bits(doc)
    for group in groups.values():
        _check_tensor(group, folder, verdict, implied)
    listed = {e["path"] for e in doc["files"] if isinstance(e, dict) and isinstance(e.get("path"), str)}
    verdict.problems.extend(_extras(folder, listed))
    return verdict
