"""RTL dumps against a golden set: a scoreboard that reads files only.

compare(GOLDEN, RTL): the golden set is verified first (a damaged expectation
must never make a test pass); then every file the RTL dumped under a golden
file's relative path (any of .hex, .bin, .npy) is read and compared word by
word.  Exit status: 0 every compared word matches, 1 some differ (or are
X/Z), 2 unusable input (golden set corrupted, a dump with no golden
counterpart, wrong length, text that is not hex, nothing to compare).
Hex dumps may hold ``//`` comments, ``@address`` lines, ``_`` separators and
x/z digits ($writememh of undefined words).
"""
from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .fileio import atomic_write
from .manifest import MANIFEST, read_manifest, verify

EXTS = ("hex", "bin", "npy")
CONTAINER = {"uint8": "<u1", "int8": "<i1", "int16": "<i2", "int32": "<i4", "int64": "<i8",
             "uint16": "<u2", "uint32": "<u4"}
_WORD = re.compile(r"^[0-9a-fA-FxXzZ]+$")


class Unusable(Exception):
    """Input the comparison cannot use (exit 2)."""


@dataclass
class FileResult:
    rel: str
    words: int
    mismatches: int = 0
    xz: int = 0
    first: list = field(default_factory=list)      # report lines


def parse_hex(text: str, entry: dict, where: str):
    """(int64 values, bool mask of X/Z words) from $readmemh/$writememh text."""
    n = int(np.prod(entry["shape"], dtype=np.int64))
    bits = int(entry["word_bits"])
    signed = not str(entry["dtype"]).startswith("u")          # two's complement unless an unsigned dtype
    values = np.zeros(n, dtype=np.int64)
    xz = np.zeros(n, dtype=bool)
    seen = np.zeros(n, dtype=bool)
    pos = 0
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.split("//", 1)[0]
        for tok in line.split():
            if tok.startswith("@"):
                try:
                    pos = int(tok[1:], 16)
                except ValueError:
                    raise Unusable(f"{where}:{lineno}: bad address '{tok}'") from None
                continue
            word = tok.replace("_", "")
            if not word or not _WORD.match(word):
                raise Unusable(f"{where}:{lineno}: not a hex word: '{tok}'")
            if pos >= n:
                raise Unusable(f"{where}: more than the {n} words expected (line {lineno})")
            if re.search(r"[xXzZ]", word):
                xz[pos] = True
            else:
                v = int(word, 16)
                if v >> bits:
                    raise Unusable(f"{where}:{lineno}: word '{tok}' is wider than {bits} bits")
                values[pos] = v - (1 << bits) if signed and v >> (bits - 1) else v
            seen[pos] = True
            pos += 1
    if not seen.all():
        raise Unusable(f"{where}: {int(seen.sum())} words, expected {n}")
    return values, xz


def read_words(path: Path, ext: str, entry: dict, where: str):
    """(int64 values (flat), X/Z mask) of a dumped or golden file."""
    n = int(np.prod(entry["shape"], dtype=np.int64))
    try:
        if ext == "hex":
            return parse_hex(path.read_text(errors="strict"), entry, where)
        if ext == "bin":
            data = path.read_bytes()
            dt = np.dtype(CONTAINER[entry["dtype"]])
            if len(data) != n * dt.itemsize:
                raise Unusable(f"{where}: {len(data)} bytes, expected {n * dt.itemsize} ({n} words of {dt.itemsize} bytes)")
            return np.frombuffer(data, dt).astype(np.int64), np.zeros(n, bool)
        a = np.load(path, allow_pickle=False)
        if a.size != n or a.dtype.kind not in "iu":
            raise Unusable(f"{where}: npy holds {a.dtype} {a.shape}, expected {entry['dtype']} {tuple(entry['shape'])}")
        return a.reshape(-1).astype(np.int64), np.zeros(n, bool)
    except UnicodeDecodeError:
        raise Unusable(f"{where}: not text (a hex dump must be ASCII)") from None
    except (OSError, ValueError) as exc:
        raise Unusable(f"{where}: unreadable ({exc})") from None


def _context(rel: str) -> str:
    parts = rel.split("/")
    if parts[0] == "layers" and len(parts) >= 3:
        return f"layer={parts[1]}"
    if parts[0] == "tiles" and len(parts) >= 4:
        return f"layer={parts[1]} tile={int(parts[2][1:])}"
    if parts[0] == "jpeg" and len(parts) >= 3:
        return f"jpeg={parts[1]}"
    return ""


def _fmt(v: int, bits: int) -> str:
    return f"0x{v & ((1 << bits) - 1):0{-(-bits // 4)}x} ({v})"


def compare_file(rtl_path: Path, rel: str, golden_dir: Path, entries: dict, max_report: int) -> FileResult:
    stem, ext = rel.rsplit(".", 1)
    golden = entries[stem]
    ref = golden.get("npy") or golden.get("bin") or golden.get("hex")
    gext = ref["path"].rsplit(".", 1)[1]
    want, _ = read_words(golden_dir / ref["path"], gext, ref, ref["path"])
    entry = golden.get(ext) or ref
    got, xz = read_words(rtl_path, ext, entry, str(rtl_path))
    res = FileResult(rel, want.size)
    bad = np.flatnonzero((got != want) | xz)
    res.mismatches, res.xz = int(bad.size), int(xz.sum())
    bits, axes, shape = int(ref["word_bits"]), ref["axes"], tuple(ref["shape"])
    ctx = _context(rel)
    for i in bad[:max_report]:
        coords = " ".join(f"{a}={c}" for a, c in zip(axes, np.unravel_index(int(i), shape)))
        got_s = "X/Z" if xz[i] else _fmt(int(got[i]), bits)
        res.first.append(f"{ctx} {coords}: expected {_fmt(int(want[i]), bits)}, got {got_s}".strip())
    return res


def compare_raw(rtl_path: Path, rel: str, golden_dir: Path, max_report: int) -> FileResult:
    """Byte-for-byte comparison of a raw file (e.g. a complete JPEG stream)."""
    want = np.frombuffer((golden_dir / rel).read_bytes(), np.uint8)
    try:
        got = np.frombuffer(rtl_path.read_bytes(), np.uint8)
    except OSError as exc:
        raise Unusable(f"{rtl_path}: unreadable ({exc})") from None
    n = min(want.size, got.size)
    bad = np.flatnonzero(want[:n] != got[:n])
    res = FileResult(rel, int(want.size), int(bad.size) + abs(int(want.size) - int(got.size)))
    for i in bad[:max_report]:
        res.first.append(f"{_context(rel)} byte={int(i)}: expected 0x{int(want[i]):02x}, got 0x{int(got[i]):02x}".strip())
    if want.size != got.size and len(res.first) < max_report:
        res.first.append(f"{_context(rel)} length: expected {want.size} bytes, got {got.size}".strip())
    return res


def junit_xml(results: list, golden: str, rtl: str) -> bytes:
    suite = ET.Element("testsuite", name="refimpl-compare", tests=str(len(results)),
                       failures=str(sum(r.mismatches > 0 for r in results)), errors="0")
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="golden", value=golden).set("rtl", rtl)
    for r in results:
        parts = r.rel.split("/")
        case = ET.SubElement(suite, "testcase", classname=".".join(parts[:-1]) or "golden", name=parts[-1])
        if r.mismatches:
            fail = ET.SubElement(case, "failure", message=f"{r.mismatches} of {r.words} words differ"
                                 + (f" ({r.xz} X/Z)" if r.xz else ""))
            fail.text = "\n".join(r.first)
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True) + b"\n"


def _stderr(line: str):
    print(line, file=sys.stderr)


def run(golden_dir, rtl_dir, max_report: int = 10, junit: str | None = None, out=print, err=_stderr) -> int:
    """Compare and print the report (errors to ``err``); returns the exit status (0, 1, 2)."""
    golden_dir, rtl_dir = Path(golden_dir), Path(rtl_dir)
    problems = verify(golden_dir)
    if problems:
        err(f"refimpl: error: {golden_dir}: golden set fails verification ({len(problems)} problem"
            f"{'s' if len(problems) > 1 else ''}, first: {problems[0]}); refusing to compare")
        return 2
    doc, _ = read_manifest(golden_dir)
    entries = {}
    for e in doc["files"]:
        if e["format"] in EXTS:
            entries.setdefault(e["path"].rsplit(".", 1)[0], {})[e["format"]] = e
    if not rtl_dir.is_dir():
        err(f"refimpl: error: {rtl_dir}: no such folder of RTL dumps")
        return 2
    raw = {e["path"]: e for e in doc["files"] if e["format"] == "raw"}
    dumped = sorted(p for p in rtl_dir.rglob("*") if p.is_file() and p.name != MANIFEST)
    results = []
    try:
        for p in dumped:
            rel = p.relative_to(rtl_dir).as_posix()
            if rel in raw:
                results.append(compare_raw(p, rel, golden_dir, max_report))
                continue
            if "." not in p.name or rel.rsplit(".", 1)[1] not in EXTS or rel.rsplit(".", 1)[0] not in entries:
                raise Unusable(f"{p}: no golden counterpart in {golden_dir}")
            results.append(compare_file(p, rel, golden_dir, entries, max_report))
    except Unusable as exc:
        err(f"refimpl: error: {exc}")
        return 2
    if not results:
        err(f"refimpl: error: {rtl_dir}: no dumped files to compare")
        return 2
    for r in results:
        if r.mismatches:
            out(f"MISMATCH {r.rel}: {r.mismatches} of {r.words} words differ" + (f" ({r.xz} X/Z)" if r.xz else ""))
            for line in r.first:
                out(f"  {line}")
        else:
            out(f"match    {r.rel}: {r.words} words")
    bad = sum(r.mismatches > 0 for r in results)
    undumped = len(entries) + len(raw) - len({r.rel if r.rel in raw else r.rel.rsplit('.', 1)[0] for r in results})
    out(f"compare: {len(results)} files, {len(results) - bad} match, {bad} mismatch; "
        f"{undumped} golden tensors not dumped by the RTL")
    if junit:
        atomic_write(junit, junit_xml(results, str(golden_dir), str(rtl_dir)))
    return 1 if bad else 0
