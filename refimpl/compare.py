"""RTL dumps against a golden set: a scoreboard that reads files only.

compare(GOLDEN, RTL): the golden set is verified first (manifest schema,
files, agreement of the formats; a damaged or forged expectation must never
make a test pass), and every width, dtype and shape is taken from that
validated manifest.  Then every file the RTL dumped under a golden file's
relative path (any of .hex, .bin, .npy) is read and compared word by word.
Exit status: 0 every compared word matches, 1 some differ (or are X/Z, or
``require_all`` and a golden tensor was not dumped), 2 unusable input
(golden set invalid or damaged, a dump with no golden counterpart, a dump
path that is a folder, dangling symlink or FIFO, wrong length or shape,
text that is not hex, words wider than the golden width, nothing to
compare).  ``ignore`` globs skip RTL-side files (logs, waveforms).
Hex dumps may hold ``//`` comments, ``@address`` lines, ``_`` separators,
x/z digits ($writememh of undefined words) and CRLF line ends.
"""
from __future__ import annotations

import fnmatch
import os
import stat
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import RefimplError
from .fileio import atomic_write
from .manifest import MANIFEST, WORD_FORMATS, kind, verify
from .wordfile import WordFileError, read_words

MAX_PROBLEMS = 20                # golden-set problems listed before "... and N more"


class Unusable(Exception):
    """Input the comparison cannot use (exit 2)."""


@dataclass
class FileResult:
    rel: str
    words: int
    mismatches: int = 0
    xz: int = 0
    first: list = field(default_factory=list)      # report lines


def _read(path: Path, fmt: str, entry: dict, where: str):
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise Unusable(f"{where}: unreadable ({exc.strerror or exc})") from None
    try:
        return read_words(data, fmt, tuple(entry["shape"]), entry["dtype"], entry["word_bits"], where)
    except WordFileError as exc:
        raise Unusable(str(exc)) from None


def _context(rel: str) -> str:
    parts = rel.split("/")
    if parts[0] == "layers" and len(parts) >= 3:
        return f"layer={parts[1]}"
    if parts[0] == "tiles" and len(parts) >= 4:
        return f"layer={parts[1]} tile={int(parts[2][1:]) if parts[2][1:].isdigit() else parts[2]}"
    if parts[0] == "jpeg" and len(parts) >= 3:
        return f"jpeg={parts[1]}"
    return ""


def _fmt(v: int, bits: int) -> str:
    return f"0x{v & ((1 << bits) - 1):0{-(-bits // 4)}x} ({v})"


def mismatch_line(rel: str, axes, index, want: int, got: int, bits: int, xz: bool = False) -> str:
    """One report line of a differing word: context of ``rel``, coordinates, expected and got.
    The wording every scoreboard shares (refimpl compare, refimpl.scoreboard in a cocotb testbench)."""
    coords = " ".join(f"{a}={int(c)}" for a, c in zip(axes, index))
    got_s = "X/Z" if xz else _fmt(int(got), bits)
    return f"{_context(rel)} {coords}: expected {_fmt(int(want), bits)}, got {got_s}".strip()


def file_line(r: FileResult) -> str:
    """The summary line of one compared file (MISMATCH ... / match ...)."""
    if r.mismatches:
        return f"MISMATCH {r.rel}: {r.mismatches} of {r.words} words differ" + (f" ({r.xz} X/Z)" if r.xz else "")
    return f"match    {r.rel}: {r.words} words"


def compare_file(rtl_path: Path, rel: str, golden_dir: Path, golden: dict, max_report: int) -> FileResult:
    """Word-by-word comparison of one dump with its golden tensor (``golden``: format -> entry)."""
    ext = rel.rsplit(".", 1)[1]
    ref = golden.get("npy") or golden.get("bin") or golden.get("hex")      # verify checked they agree
    want, _ = _read(golden_dir / ref["path"], ref["format"], ref, ref["path"])
    got, xz = _read(rtl_path, ext, ref, str(rtl_path))
    res = FileResult(rel, want.size)
    bad = np.flatnonzero((got != want) | xz)
    res.mismatches, res.xz = int(bad.size), int(xz.sum())
    bits, axes, shape = int(ref["word_bits"]), ref["axes"], tuple(ref["shape"])
    for i in bad[:max_report]:
        res.first.append(mismatch_line(rel, axes, np.unravel_index(int(i), shape), want[i], got[i], bits, xz[i]))
    return res


def compare_raw(rtl_path: Path, rel: str, golden_dir: Path, max_report: int) -> FileResult:
    """Byte-for-byte comparison of a raw file (e.g. a complete JPEG stream)."""
    want = np.frombuffer((golden_dir / rel).read_bytes(), np.uint8)
    try:
        got = np.frombuffer(rtl_path.read_bytes(), np.uint8)
    except OSError as exc:
        raise Unusable(f"{rtl_path}: unreadable ({exc.strerror or exc})") from None
    n = min(want.size, got.size)
    bad = np.flatnonzero(want[:n] != got[:n])
    res = FileResult(rel, int(want.size), int(bad.size) + abs(int(want.size) - int(got.size)))
    for i in bad[:max_report]:
        res.first.append(f"{_context(rel)} byte={int(i)}: expected 0x{int(want[i]):02x}, got 0x{int(got[i]):02x}".strip())
    if want.size != got.size and len(res.first) < max_report:
        res.first.append(f"{_context(rel)} length: expected {want.size} bytes, got {got.size}".strip())
    return res


def junit_xml(results: list, undumped: list, golden: str, rtl: str, require_all: bool = False) -> bytes:
    """JUnit XML: one test case per compared file; golden tensors not dumped are skipped cases
    (failed ones with ``require_all``)."""
    failures = sum(r.mismatches > 0 for r in results) + (len(undumped) if require_all else 0)
    suite = ET.Element("testsuite", name="refimpl-compare", tests=str(len(results) + len(undumped)),
                       failures=str(failures), errors="0", skipped=str(0 if require_all else len(undumped)))
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="golden", value=golden)
    ET.SubElement(props, "property", name="rtl", value=rtl)

    def case(rel):
        parts = rel.split("/")
        return ET.SubElement(suite, "testcase", classname=".".join(parts[:-1]) or "golden", name=parts[-1])

    for r in results:
        c = case(r.rel)
        if r.mismatches:
            fail = ET.SubElement(c, "failure", message=f"{r.mismatches} of {r.words} words differ"
                                 + (f" ({r.xz} X/Z)" if r.xz else ""))
            fail.text = "\n".join(r.first)
    for rel in undumped:
        ET.SubElement(case(rel), "failure" if require_all else "skipped",
                      message="not dumped by the RTL" + (" (--require-all)" if require_all else ""))
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True) + b"\n"


def _stderr(line: str):
    print(line, file=sys.stderr)


def _ignored(rel: str, globs) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel, g) or fnmatch.fnmatchcase(name, g) for g in globs)


def rtl_files(rtl_dir: Path, dump_paths: set, ignore=()) -> list:
    """(path, rel) of every RTL-side file to compare, sorted; the ``ignore`` globs (matched against
    the relative path and the name) skip files and folders.  A dangling symlink, a FIFO, a device,
    a symlink to a folder, or a folder at one of the ``dump_paths`` is unusable input, never
    skipped quietly."""
    found = []
    for top, dirnames, filenames in os.walk(rtl_dir, followlinks=False):
        base = Path(top).relative_to(rtl_dir).as_posix()
        for name in sorted(dirnames + filenames):
            rel = name if base == "." else f"{base}/{name}"
            path = Path(top) / name
            if _ignored(rel, ignore):
                if name in dirnames:
                    dirnames.remove(name)
                continue
            if name in dirnames and not path.is_symlink():
                if rel in dump_paths:
                    raise Unusable(f"{path}: is a folder, not a dump file")
                continue                                   # a folder to walk
            try:
                mode = os.stat(path).st_mode
            except OSError as exc:
                if not path.is_symlink():
                    raise Unusable(f"{path}: unreadable ({exc.strerror})") from None
                raise Unusable(f"{path}: dangling symlink (to {os.readlink(path)}); a dump must be a file "
                               f"(or --ignore it)") from None
            if not stat.S_ISREG(mode):
                link = " symlink to a" if path.is_symlink() else ""
                raise Unusable(f"{path}: is a{link} {kind(mode)}, not a dump file (or --ignore it)")
            if name in dirnames:
                dirnames.remove(name)
            if rel != MANIFEST:
                found.append((path, rel))
    return sorted(found, key=lambda pr: pr[1])


def run(golden_dir, rtl_dir, max_report: int = 10, junit: str | None = None, ignore=(), require_all: bool = False,
        out=print, err=_stderr) -> int:
    """Compare and print the report (errors to ``err``); returns the exit status (0, 1, 2)."""
    golden_dir, rtl_dir = Path(golden_dir), Path(rtl_dir)
    verdict = verify(golden_dir)
    problems = verdict.invalid + verdict.problems
    if problems:
        for p in problems[:MAX_PROBLEMS]:
            err(f"refimpl: error: {golden_dir}: {p}")
        more = f", {len(problems) - MAX_PROBLEMS} more not listed" if len(problems) > MAX_PROBLEMS else ""
        err(f"refimpl: error: {golden_dir}: golden set fails verification ({len(problems)} problem"
            f"{'s' if len(problems) > 1 else ''}{more}); refusing to compare")
        return 2
    entries, raw = {}, {}
    for e in verdict.doc["files"]:
        if e["format"] in WORD_FORMATS:
            entries.setdefault(e["path"].rsplit(".", 1)[0], {})[e["format"]] = e
        else:
            raw[e["path"]] = e
    if not rtl_dir.is_dir():
        err(f"refimpl: error: {rtl_dir}: {'not a folder' if rtl_dir.exists() else 'no such folder'} of RTL dumps")
        return 2
    results = []
    try:
        dump_paths = {f"{stem}.{ext}" for stem in entries for ext in WORD_FORMATS} | set(raw)
        for p, rel in rtl_files(rtl_dir, dump_paths, ignore):
            if rel in raw:
                results.append(compare_raw(p, rel, golden_dir, max_report))
                continue
            stem, _, ext = rel.rpartition(".")
            if ext not in WORD_FORMATS or stem not in entries:
                raise Unusable(f"{p}: no golden counterpart in {golden_dir} (--ignore GLOB skips logs and waveforms)")
            results.append(compare_file(p, rel, golden_dir, entries[stem], max_report))
    except Unusable as exc:
        err(f"refimpl: error: {exc}")
        return 2
    if not results:
        err(f"refimpl: error: {rtl_dir}: no dumped files to compare")
        return 2
    for r in results:
        out(file_line(r))
        for line in r.first:
            out(f"  {line}")
    done = {r.rel if r.rel in raw else r.rel.rsplit(".", 1)[0] for r in results}
    undumped = sorted(set(entries) - done) + sorted(set(raw) - done)
    for rel in undumped:
        out(f"{'MISSING ' if require_all else 'skipped '} {rel}: not dumped by the RTL")
    bad = sum(r.mismatches > 0 for r in results)
    out(f"compare: {len(results)} files, {len(results) - bad} match, {bad} mismatch; "
        f"{len(undumped)} golden tensors not dumped by the RTL" + (" (--require-all: fail)" if require_all and undumped
                                                                   else ""))
    status = 1 if bad or (require_all and undumped) else 0
    if junit:
        try:
            atomic_write(junit, junit_xml(results, undumped, str(golden_dir), str(rtl_dir), require_all))
        except RefimplError as exc:                 # a full disk must not change the comparison's verdict
            err(f"refimpl: error: JUnit report not written: {exc}; exit status {status} is the comparison's")
    return status
