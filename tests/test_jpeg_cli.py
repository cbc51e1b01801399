"""CLI functions: refimpl jpeg encode / decode."""

import numpy as np
import pytest
from PIL import Image

from refimpl.jpeg.cli import decode_main, encode_main

from jpeg_oracle import DATA, pillow_jpeg


@pytest.fixture
def images(tmp_path):
    rgb = Image.open(DATA / "testorig.ppm")
    rgb.save(tmp_path / "c.ppm")
    rgb.save(tmp_path / "c.png")
    rgb.convert("L").save(tmp_path / "g.pgm")
    rgb.convert("L").save(tmp_path / "g.png")
    rgb.convert("RGBA").save(tmp_path / "alpha.png")
    (tmp_path / "junk.ppm").write_bytes(b"P6\n12 12\n255\nshort")
    return tmp_path, rgb


@pytest.mark.parametrize("name,mode", [("c.ppm", "RGB"), ("c.png", "RGB"),
                                       ("g.pgm", "L"), ("g.png", "L")])
@pytest.mark.parametrize("args,options", [
    (["-q", "80"], dict(quality=80)),  # Pillow's default: 4:2:0 colour, 1x1 grey
    (["-q", "30", "--subsampling", "4:4:4", "--optimize"],
     dict(quality=30, subsampling="4:4:4", optimize=True)),
    (["-q", "95", "--subsampling", "4:2:2"], dict(quality=95, subsampling="4:2:2")),
])
def test_encode_matches_pillow(images, name, mode, args, options):
    folder, rgb = images
    out = folder / "out.jpg"
    assert encode_main([str(folder / name), str(out)] + args) == 0
    source = rgb if mode == "RGB" else rgb.convert("L")
    assert out.read_bytes() == pillow_jpeg(source, **options)


@pytest.mark.parametrize("source,target", [("c.ppm", "x.ppm"), ("c.ppm", "x.png"),
                                           ("g.pgm", "x.pgm"), ("g.pgm", "x.png"),
                                           ("g.pgm", "x.ppm")])
def test_decode_matches_pillow(images, source, target):
    folder, _ = images
    jpeg = folder / "in.jpg"
    assert encode_main([str(folder / source), str(jpeg), "-q", "70"]) == 0
    assert decode_main([str(jpeg), str(folder / target)]) == 0
    ours = np.asarray(Image.open(folder / target))
    theirs = np.asarray(Image.open(jpeg))
    if target.endswith(".ppm") and theirs.ndim == 2:
        theirs = np.repeat(theirs[:, :, None], 3, axis=2)  # grey as P6
    assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("run,args,culprit", [
    (encode_main, ["missing.ppm", "o.jpg"], "missing.ppm"),
    (encode_main, ["alpha.png", "o.jpg"], "alpha.png"),
    (encode_main, ["junk.ppm", "o.jpg"], "junk.ppm"),
    (encode_main, ["c.ppm", "o.jpg", "-q", "0"], "quality"),
    (encode_main, ["c.ppm", "o.jpg", "--restart-interval", "70000"], "restart"),
    (encode_main, ["c.ppm", "nodir/o.jpg"], "nodir"),
    (decode_main, ["c.ppm", "o.png"], "c.ppm"),
    (decode_main, ["missing.jpg", "o.png"], "missing.jpg"),
    (decode_main, ["in.jpg", "o.bmp"], "o.bmp"),
    (decode_main, ["in.jpg", "o.pgm"], "o.pgm"),
    (decode_main, ["trunc.jpg", "o.png"], "trunc.jpg"),
])
def test_bad_input_one_line_exit_2(images, capsys, monkeypatch, run, args, culprit):
    folder, rgb = images
    monkeypatch.chdir(folder)
    (folder / "in.jpg").write_bytes(pillow_jpeg(rgb))
    (folder / "trunc.jpg").write_bytes(pillow_jpeg(rgb)[:500])
    before = sorted(p.name for p in folder.iterdir())
    assert run(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and culprit in err and "Traceback" not in err
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written


def test_failed_decode_keeps_existing_output(images, monkeypatch):
    folder, _ = images
    monkeypatch.chdir(folder)
    (folder / "bad.jpg").write_bytes(b"\xff\xd8\xff\xd9")
    (folder / "keep.png").write_bytes(b"old")
    assert decode_main(["bad.jpg", "keep.png"]) == 2
    assert (folder / "keep.png").read_bytes() == b"old"


def test_usage_errors_exit_2(capsys):
    assert encode_main([]) == 2
    assert decode_main(["only-one"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "refimpl jpeg encode: error: the following arguments are required: input, output",
        "refimpl jpeg decode: error: the following arguments are required: output"]


def test_main_cli_dispatches_jpeg(tmp_path, capsys):
    """`refimpl jpeg encode/decode` through the package's main entry point."""
    import io

    from PIL import Image

    from refimpl.cli import main

    src = DATA / "testorig.ppm"
    out = tmp_path / "o.jpg"
    assert main(["jpeg", "encode", str(src), str(out), "-q", "40", "--subsampling", "4:2:2"]) == 0
    buf = io.BytesIO()
    Image.open(src).save(buf, "JPEG", quality=40, subsampling="4:2:2")
    assert out.read_bytes() == buf.getvalue()
    assert main(["jpeg", "decode", str(out), str(tmp_path / "o.png")]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o.png")), np.asarray(Image.open(out)))
    assert main(["jpeg", "transcode"]) == 2
    assert "unknown action 'transcode'" in capsys.readouterr().err


def _refimpl(*args, cwd=None):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "refimpl", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("how", ["same", "spelling", "symlink", "hardlink"])
@pytest.mark.parametrize("action,name", [("encode", "c.png"), ("encode", "g.pgm"),
                                         ("decode", "in.jpg")])
def test_output_that_is_the_input_is_refused(images, how, action, name):
    """Issue 8 §1: `refimpl jpeg encode in.png in.png` must not destroy its input."""
    folder, rgb = images
    (folder / "in.jpg").write_bytes(pillow_jpeg(rgb))
    source = folder / name
    before = source.read_bytes()
    if how == "same":
        target = source
    elif how == "spelling":
        target = folder / "." / ".." / folder.name / name
    elif how == "symlink":
        target = folder / ("link" + source.suffix)
        target.symlink_to(source)
    else:
        target = folder / ("hard" + source.suffix)
        target.hardlink_to(source)
    run = _refimpl("jpeg", action, source, target)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "output is the input file" in run.stderr
    assert "Traceback" not in run.stderr and str(target) in run.stderr
    assert source.read_bytes() == before


def test_jpeg_help_and_missing_action():
    """Issue 8 §2: `refimpl jpeg --help` prints help; a bare `refimpl jpeg` is one line."""
    for flag in ("--help", "-h"):
        run = _refimpl("jpeg", flag)
        assert run.returncode == 0 and run.stderr == ""
        assert "encode IN OUT" in run.stdout and "decode IN OUT" in run.stdout
    run = _refimpl("jpeg", "encode", "--help")
    assert run.returncode == 0 and "--subsampling" in run.stdout
    run = _refimpl("jpeg")
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.splitlines() == [
        "refimpl: error: refimpl jpeg: missing action (encode or decode; see 'refimpl jpeg --help')"]


def test_decode_max_pixels(images):
    folder, rgb = images  # 227 x 149 = 33823 pixels
    (folder / "in.jpg").write_bytes(pillow_jpeg(rgb))
    run = _refimpl("jpeg", "decode", folder / "in.jpg", folder / "o.png", "--max-pixels", 33822)
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "227x149 = 33823 pixels exceeds the cap of 33822 pixels" in run.stderr
    assert not (folder / "o.png").exists()
    assert decode_main([str(folder / "in.jpg"), str(folder / "o.png"), "--max-pixels", "33823"]) == 0
    run = _refimpl("jpeg", "decode", folder / "in.jpg", folder / "o.png", "--max-pixels", 0)
    assert run.returncode == 2 and "--max-pixels must be in 1..268435456, got 0" in run.stderr
