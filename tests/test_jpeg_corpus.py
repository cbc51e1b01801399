"""Issue 9 §2: fuzz regression corpus, every outcome pinned.

tests/data/jpeg/corpus holds 300 mutated files from ``tools/fuzz_jpeg.py
--seed 11 --corpus`` (flips, truncations, insertions, deletions, fill bytes,
16-bit DQT entries above 32767, huge dimensions, restart-interval changes).
``expected.json`` pins each outcome: the sha256 and shape of the pixels
libjpeg-turbo's plain C path (Pillow under ``JSIMD_FORCENONE=1``) decodes,
which refimpl must reproduce, or ``JpegError`` (with, for information,
refimpl's message when the corpus was made and what the C path did:
"failed", or "decoded" for files refimpl refuses although libjpeg decodes
them, typically with a corrupt-data warning).
"""

import hashlib
import json

import numpy as np
import pytest

import refimpl.jpeg as rjpeg

from jpeg_oracle import DATA

CORPUS = DATA / "corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())


def test_corpus_is_complete():
    files = sorted(p.name for p in CORPUS.glob("*.jpg"))
    assert files == sorted(EXPECTED) and len(files) == 300
    outcomes = [e.get("outcome", "pixels") for e in EXPECTED.values()]
    assert outcomes.count("pixels") == 150 and outcomes.count("JpegError") == 150


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name):
    data = (CORPUS / name).read_bytes()
    expected = EXPECTED[name]
    if expected.get("outcome") == "JpegError":
        with pytest.raises(rjpeg.JpegError) as info:
            rjpeg.decode(data)
        assert str(info.value) and "\n" not in str(info.value)
        return
    pixels = rjpeg.decode(data)
    assert list(pixels.shape) == expected["shape"]
    assert hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest() == expected["sha256"]
