"""tfquant-run's bad inputs: every case exits 2 with exactly one `error:` line naming the problem, and no
traceback. main(argv) runs in-process, on the demo's committed models (foreign files: they carry no tfquant
stamp) and on a copy stamped here."""
import re
import struct
import zipfile
import zlib

import numpy as np
import pytest

from android_demo.build_demo import DEMO_DIR
from tests.apps.cli_checks import one_error_line
from tfquant_lite import cli, integrity, runner

MODEL = DEMO_DIR / "models" / "int8.tflite"
PACKED = DEMO_DIR / "models" / "packed-int8.tflite"


def _png(path, width=28, height=28, depth=8, colour=0, interlace=0, body=None):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = body if body is not None else zlib.compress(b"".join(b"\x00" + bytes(width) for _ in range(height)))
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace))
                     + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path


def _claiming(path, shape):
    """A .npy file whose header claims `shape` (uint8) but that holds 16 bytes of data."""
    header = {"descr": "|u1", "fortran_order": False, "shape": shape}
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(bytes(16))
    return path


def _files(tmp):
    """name -> path of every bad (and one good) input file the cases use."""
    good = tmp / "good.npz"
    np.savez(good, x=np.zeros((3, 28, 28), np.uint8), y=np.array([0, 1, 2]))
    data = MODEL.read_bytes()
    made = {"good": good}

    def put(name, content):
        path = tmp / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        made[name] = path
    put("empty.tflite", b"")
    put("text.tflite", "this is not a model\n" * 10)
    put("truncated.tflite", data[:len(data) // 3])
    put("identifier.tflite", data[:4] + b"XXXX" + data[8:])
    put("short.tflite", data[:6])
    put("zeros.tflite", bytes(4096))
    for name, arrays in {"no_x.npz": {"images": np.zeros((2, 28, 28), np.uint8)},
                         "wrong_shape.npz": {"x": np.zeros((2, 32, 32), np.uint8)},
                         "labels_count.npz": {"x": np.zeros((3, 28, 28), np.uint8), "y": np.array([1, 2])},
                         "labels_float.npz": {"x": np.zeros((2, 28, 28), np.uint8), "y": np.array([0.5, 1.0])},
                         "labels_text.npz": {"x": np.zeros((2, 28, 28), np.uint8), "y": np.array(["a", "b"])},
                         "negative.npz": {"x": -np.ones((2, 28, 28), np.float32)},
                         "normalised.npz": {"x": np.full((2, 28, 28), 300.0, np.float32)},
                         "nan.npz": {"x": np.full((2, 28, 28), np.nan, np.float32)},
                         "strings.npz": {"x": np.full((2, 28, 28), "a")},
                         "no_images.npz": {"x": np.zeros((0, 28, 28), np.uint8)},
                         "channels.npz": {"x": np.zeros((2, 28, 28, 3), np.uint8)}}.items():
        np.savez(tmp / name, **arrays)
        made[name] = tmp / name
    np.save(tmp / "objects.npy", np.array([{"a": 1}, None], dtype=object))
    made["objects.npy"] = tmp / "objects.npy"
    np.save(tmp / "image.npy", np.zeros((28, 28), np.uint8))
    made["image.npy"] = tmp / "image.npy"
    np.save(tmp / "other_size.npy", np.zeros((20, 20), np.uint8))
    made["other_size.npy"] = tmp / "other_size.npy"
    put("text.npy", "1 2 3\n")
    put("fake.png", b"GIF89a" + bytes(100))
    put("broken.npz", b"PK\x03\x04" + bytes(50))
    made["16bit.png"] = _png(tmp / "16bit.png", depth=16)
    made["interlaced.png"] = _png(tmp / "interlaced.png", interlace=1)
    made["damaged.png"] = _png(tmp / "damaged.png", body=b"not zlib data")
    made["palette.png"] = _png(tmp / "palette.png", colour=3)
    for name, arrays in {"label_99.npz": {"x": np.zeros((2, 28, 28), np.uint8), "y": np.array([99, 1])},
                         "label_minus.npz": {"x": np.zeros((2, 28, 28), np.uint8), "y": np.array([-1, 1])},
                         "object_x.npz": {"x": np.array([None, 1], dtype=object)},
                         "object_y.npz": {"x": np.zeros((2, 28, 28), np.uint8), "y": np.array([None, 1], dtype=object)}
                         }.items():
        np.savez(tmp / name, **arrays, allow_pickle=True) if "object" in name else np.savez(tmp / name, **arrays)
        made[name] = tmp / name
    made["huge_header.npy"] = _claiming(tmp / "huge_header.npy", (99999999999, 28))
    made["huge_member.npz"] = tmp / "huge_member.npz"
    with zipfile.ZipFile(made["huge_member.npz"], "w") as archive:
        archive.writestr("x.npy", _claiming(tmp / "member.npy", (99999999999, 28)).read_bytes())
    made["huge_member_no_suffix.npz"] = tmp / "huge_member_no_suffix.npz"
    with zipfile.ZipFile(made["huge_member_no_suffix.npz"], "w") as archive:  # np.load reads member "x" as x
        archive.writestr("x", _claiming(tmp / "member.npy", (99999999999, 28)).read_bytes())
    rows = [b"\x00" + bytes(28) for _ in range(28)]
    made["filter9.png"] = _png(tmp / "filter9.png", body=zlib.compress(b"".join([b"\x09" + bytes(28)] + rows[1:])))
    made["bad_crc.png"] = tmp / "bad_crc.png"
    data = bytearray(_png(tmp / "crc_source.png").read_bytes())
    data[-20] ^= 1  # inside the IDAT chunk's compressed data
    made["bad_crc.png"].write_bytes(bytes(data))
    made["zero_width.png"] = _png(tmp / "zero_width.png", width=0, body=zlib.compress(b"\x00" * 28))
    made["long_rows.png"] = _png(tmp / "long_rows.png", body=zlib.compress(b"".join(rows) * 2))
    np.savez(tmp / "more_images.npz", x=np.zeros((5, 28, 28), np.uint8), y=np.array([0, 1, 2]))
    made["more_images.npz"] = tmp / "more_images.npz"
    made["upper.NPZ"] = tmp / "upper.NPZ"
    made["upper.NPZ"].write_bytes(good.read_bytes())
    made["model_link"] = tmp / "model_link.tflite"
    made["model_link"].symlink_to(MODEL)
    stamped = integrity.stamp(MODEL.read_bytes(), (0.286, 0.353), "int8")
    made["mean_edited"] = tmp / "mean_edited.tflite"
    made["mean_edited"].write_bytes(stamped.replace(b'"mean": 0.286', b'"mean": 0.986'))
    made["sparse.tflite"] = tmp / "sparse.tflite"
    with open(made["sparse.tflite"], "wb") as f:  # a sparse file: no disk space used, never read
        f.truncate(runner.FLATBUFFER_MAX + 1)
    made["sparse.npz"] = tmp / "sparse.npz"
    with open(made["sparse.npz"], "wb") as f:  # half this machine's memory + 1 byte, sparse too
        f.truncate(runner.size_limit() + 1)
    (tmp / "folder").mkdir()
    made["folder"] = tmp / "folder"
    made["missing"] = tmp / "missing.npz"
    return made


CASES = {  # id: (argv with {name} placeholders, a fragment the error must contain)
    "model missing": (["{missing}", "{good}"], "no such file"),
    "model empty": (["{empty.tflite}", "{good}"], "empty"),
    "model is a folder": (["{folder}", "{good}"], "not a file"),
    "model is text": (["{text.tflite}", "{good}"], "not a TFLite model"),
    "model truncated": (["{truncated.tflite}", "{good}"], "damaged"),
    "model too short": (["{short.tflite}", "{good}"], "too short"),
    "model identifier": (["{identifier.tflite}", "{good}"], "file identifier"),
    "model all zeros": (["{zeros.tflite}", "{good}"], "not a TFLite model"),
    "inputs missing": (["{model}", "{missing}"], "no such file"),
    "inputs is a folder": (["{model}", "{folder}"], "not a file"),
    "npz without x": (["{model}", "{no_x.npz}"], "it needs 'x'"),
    "npz damaged": (["{model}", "{broken.npz}"], "damaged NumPy file"),
    "npz mixed with images": (["{model}", "{good}", "{image.npy}"], "alone"),
    "images of another size": (["{model}", "{wrong_shape.npz}"], "resize"),
    "images with channels": (["{model}", "{channels.npz}"], "resize"),
    "images of two sizes": (["{model}", "{image.npy}", "{other_size.npy}"], "different shapes"),
    "labels count": (["{model}", "{labels_count.npz}"], "2 labels for 3 images"),
    "labels count hidden by --limit": (["{model}", "{more_images.npz}", "--limit", "3"], "3 labels for 5 images"),
    "upper-case .NPZ mixed with images": (["{model}", "{upper.NPZ}", "{image.npy}"], "alone"),
    "labels not integers": (["{model}", "{labels_float.npz}"], "integer class indices"),
    "labels are text": (["{model}", "{labels_text.npz}"], "integer class indices"),
    "negative pixels": (["{model}", "{negative.npz}"], "8-bit pixels"),
    "pixels above 255": (["{model}", "{normalised.npz}"], "8-bit pixels"),
    "NaN pixels": (["{model}", "{nan.npz}"], "NaN"),
    "string pixels": (["{model}", "{strings.npz}"], "dtype"),
    "no images": (["{model}", "{no_images.npz}"], "no images"),
    "object npy": (["{model}", "{objects.npy}"], "Python objects"),
    "text npy": (["{model}", "{text.npy}"], "not a NumPy"),
    "fake png": (["{model}", "{fake.png}"], "not a PNG"),
    "16-bit png": (["{model}", "{16bit.png}"], "8-bit non-interlaced"),
    "interlaced png": (["{model}", "{interlaced.png}"], "8-bit non-interlaced"),
    "palette png": (["{model}", "{palette.png}"], "8-bit non-interlaced"),
    "damaged png": (["{model}", "{damaged.png}"], "damaged PNG"),
    "threads 0": (["{model}", "{good}", "--threads", "0"], "must be >= 1"),
    "threads negative": (["{model}", "{good}", "--threads", "-2"], "must be >= 1"),
    "threads 100000": (["{model}", "{good}", "--threads", "100000"], f"must be <= {runner.MAX_THREADS}"),
    "json is the model": (["{model}", "{good}", "--json", "{model}"], "would destroy an input"),
    "json is the input": (["{model}", "{good}", "--json", "{good}"], "would destroy an input"),
    "json is a link to the model": (["{model}", "{good}", "--json", "{model_link}"], "would destroy an input"),
    "label 99 of 10 classes": (["{model}", "{label_99.npz}"], "not a class of this model"),
    "label -1": (["{model}", "{label_minus.npz}"], ">= 0"),
    "npz with object x": (["{model}", "{object_x.npz}"], "Python objects"),
    "npz with object y": (["{model}", "{object_y.npz}"], "Python objects"),
    "npy header larger than the file": (["{model}", "{huge_header.npy}"], "header claims shape"),
    "npz member header larger than its data": (["{model}", "{huge_member.npz}"], "header claims shape"),
    "npz member without .npy whose header is larger than its data": (["{model}", "{huge_member_no_suffix.npz}"],
                                                                      "header claims shape"),
    "png filter type 9": (["{model}", "{filter9.png}"], "filter type 9"),
    "png bad crc": (["{model}", "{bad_crc.png}"], "CRC"),
    "png zero width": (["{model}", "{zero_width.png}"], "each side must be"),
    "png too much data": (["{model}", "{long_rows.png}"], "more than"),
    "stamped model with its mean edited": (["{mean_edited}", "{good}"], "changed after export"),
    "model larger than this machine can load": (["{sparse.tflite}", "{good}"], "it was not read"),
    "input larger than this machine can load": (["{model}", "{sparse.npz}"], "it was not read"),
    "threads not a number": (["{model}", "{good}", "--threads", "two"], "not an integer"),
    "limit 0": (["{model}", "{good}", "--limit", "0"], "must be > 0"),
    "limit -1": (["{model}", "{good}", "--limit", "-1"], "must be > 0"),
    "std 0": (["{model}", "{good}", "--mean", "0.3", "--std", "0"], "must be > 0"),
    "std negative": (["{model}", "{good}", "--mean", "0.3", "--std", "-1"], "must be > 0"),
    "std nan": (["{model}", "{good}", "--mean", "0.3", "--std", "nan"], "not a finite number"),
    "mean infinite": (["{model}", "{good}", "--mean", "inf", "--std", "1"], "not a finite number"),
    "mean without std": (["{model}", "{good}", "--mean", "0.3"], "together"),
    "unknown interpreter": (["{model}", "{good}", "--interpreter", "onnx"], "unknown interpreter"),
    "interpreter that does not import": (["{model}", "{good}", "--interpreter", "tflite_runtime"], "does not import"),
    "arena 0": (["{model}", "{good}", "--interpreter", "tflm", "--arena-kb", "0"], "must be > 0"),
    "arena too small": (["{packed}", "{good}", "--interpreter", "tflm", "--arena-kb", "4"], "raise --arena-kb"),
    "show negative": (["{model}", "{good}", "--show", "-1"], "must be >= 0"),
    "json in a missing folder": (["{model}", "{good}", "--json", "{missing}/out.json"], "does not exist"),
    "json is a folder": (["{model}", "{good}", "--json", "{folder}"], "is a directory"),
    "expand and no-expand": (["{model}", "{good}", "--expand", "--no-expand"], "not allowed with"),
    "no inputs": (["{model}"], "required"),
}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    made = _files(tmp_path_factory.mktemp("bad"))
    return {**{k: str(v) for k, v in made.items()}, "model": str(MODEL), "packed": str(PACKED)}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_clear_error(case, bad_files, capsys):
    argv, fragment = CASES[case]
    status = cli.main([re.sub(r"\{([^}]+)\}", lambda m: bad_files[m.group(1)], a) for a in argv])
    out, err = capsys.readouterr()
    assert status == 2, (out, err)
    assert "Traceback" not in err + out
    assert fragment in one_error_line(err)  # no usage block, nothing but warning: lines before it


def test_the_good_input_runs(bad_files, capsys):
    assert cli.main([bad_files["model"], bad_files["good"], "--mean", "0", "--std", "1", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "interpreter litert, 2 images" in out and "accuracy" in out


def test_an_upper_case_npz_is_read_as_an_npz(bad_files, capsys):
    assert cli.main([bad_files["model"], bad_files["upper.NPZ"], "--show", "0"]) == 0
    out = capsys.readouterr().out
    assert "interpreter litert, 3 images" in out and "accuracy" in out  # its labels were read


# -- the runner's API (runner.run) checks what it is given itself: the command line is one caller of it ------
API_CASES = {  # id: (keyword arguments of runner.run, a fragment of the RunnerError)
    "std 0": ({"mean": 0.5, "std": 0.0}, "must be > 0"),
    "mean NaN": ({"mean": float("nan"), "std": 1.0}, "not a finite number"),
    "mean as text": ({"mean": "0.3", "std": 1.0}, "not a number"),
    "labels negative": ({"labels": np.array([-1, 0, 1])}, ">= 0"),
    "labels fractional": ({"labels": np.array([0.5, 1.0, 2.0])}, "integer class indices"),
}


@pytest.mark.parametrize("case", list(API_CASES))
def test_runner_api_refuses_bad_normalisation_and_labels(case):
    kwargs, fragment = API_CASES[case]
    with pytest.raises(runner.RunnerError, match=fragment):
        runner.run(MODEL, np.zeros((3, 28, 28), np.uint8), **kwargs)


def test_runner_api_takes_labels_as_a_list_and_per_channel_values_it_can_compare():
    with pytest.warns(runner.RunnerWarning, match="override the file's recorded normalisation"):
        result = runner.run(MODEL, np.zeros((3, 28, 28), np.uint8), [0, 1, 2], mean=[0.286], std=np.float32(0.353))
    assert result["accuracy"] in (0.0, 1 / 3, 2 / 3, 1.0)
    assert result["normalization"] == {"mean": [0.286], "std": pytest.approx(0.353), "source": "command line"}


def test_an_npz_that_inflates_past_the_limit_is_not_read(tmp_path, monkeypatch, capsys):
    """A compression bomb: 1 MB of zeros in a file of about 1 KB, refused before NumPy inflates it."""
    bomb = tmp_path / "bomb.npz"
    np.savez_compressed(bomb, x=np.zeros((1300, 28, 28), np.uint8))
    assert bomb.stat().st_size < 10_000
    limit = 2 * MODEL.stat().st_size  # room for the model itself; far below the 1,019,200 bytes inflated
    monkeypatch.setattr(runner, "size_limit", lambda: limit)
    assert cli.main([str(MODEL), str(bomb)]) == 2
    assert f"bytes uncompressed, more than the {limit:,}" in one_error_line(capsys.readouterr().err)


def test_png_tells_an_unsupported_kind_from_damage_by_its_class(bad_files):
    from tfquant_lite import png
    for name in ("16bit.png", "interlaced.png", "palette.png"):
        with pytest.raises(png.Unsupported):
            png.decode(open(bad_files[name], "rb").read())
    for name in ("bad_crc.png", "damaged.png", "filter9.png"):
        with pytest.raises(png.BadPNG) as caught:
            png.decode(open(bad_files[name], "rb").read())
        assert not isinstance(caught.value, png.Unsupported)
