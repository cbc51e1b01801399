"""Issue 8 §3: default options are libjpeg's, as Pillow's default save writes them.

A greyscale image is written with sampling factors 1x1 (``cjpeg -grayscale``,
``Image.save(f, "JPEG", quality=Q)``), a colour image 4:2:0; an explicit
``subsampling=`` keeps Pillow's behaviour (it sets the factors written in SOF,
even for greyscale).  The oracle is Pillow's own file.
"""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import refimpl.jpeg as rjpeg

from jpeg_oracle import photo, pillow_jpeg

GREY_SIZES = [(1, 1), (7, 9), (16, 16), (17, 33), (227, 149), (640, 480)]


def _sof_sampling(data: bytes) -> int:
    """The first component's sampling byte (H << 4 | V) in SOF0."""
    sof = data.index(b"\xff\xc0")
    return data[sof + 11]


@pytest.mark.parametrize("size", GREY_SIZES)
@pytest.mark.parametrize("quality", [75, 30, 95])
def test_grey_api_default_is_pillow_default(size, quality):
    grey = photo("L", size=size)
    ours = rjpeg.encode(grey, quality=quality)
    assert ours == pillow_jpeg(grey, quality=quality)
    assert _sof_sampling(ours) == 0x11


def test_grey_noise_and_flat_images():
    rng = np.random.default_rng(8)
    for image in (rng.integers(0, 256, (33, 47), dtype=np.uint8),
                  np.full((24, 8), 200, dtype=np.uint8)):
        assert rjpeg.encode(image) == pillow_jpeg(image, quality=75)
        assert rjpeg.trace_encoder(image).jpeg == pillow_jpeg(image, quality=75)


@pytest.mark.parametrize("size", [(7, 9), (227, 149)])
def test_colour_default_is_pillow_default(size):
    rgb = photo(size=size)
    ours = rjpeg.encode(rgb)
    assert ours == pillow_jpeg(rgb, quality=75)
    assert _sof_sampling(ours) == 0x22


@pytest.mark.parametrize("subsampling,factors", [("4:2:0", 0x22), ("4:2:2", 0x21),
                                                 ("4:4:4", 0x11)])
def test_explicit_subsampling_on_grey_keeps_pillow_behaviour(subsampling, factors):
    grey = photo("L", size=(37, 21))
    ours = rjpeg.encode(grey, quality=75, subsampling=subsampling)
    assert ours == pillow_jpeg(grey, quality=75, subsampling=subsampling)
    assert _sof_sampling(ours) == factors


@pytest.mark.parametrize("size", [(7, 9), (227, 149), (100, 64)])
@pytest.mark.parametrize("suffix", [".pgm", ".png"])
def test_grey_cli_default_is_pillow_default(tmp_path, size, suffix):
    grey = photo("L", size=size)
    source = tmp_path / f"grey{suffix}"
    Image.fromarray(grey).save(source)
    out = tmp_path / "out.jpg"
    run = subprocess.run([sys.executable, "-m", "refimpl", "jpeg", "encode", str(source), str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert out.read_bytes() == pillow_jpeg(grey, quality=75)
    assert _sof_sampling(out.read_bytes()) == 0x11
