"""Which interpreter runs which export format: a format x interpreter table from real runs.

    python -m benchmarks.export_compat [--write]

Model: `benchmarks.export_models.odd_shapes_cnn` with binary kernels (conv + folded batch norm, odd
weight counts, stride 2, a (3, 2) kernel, depthwise, 1x1, binary dense). Each format is exported by
`tfquant.tflite.export` (verified on LiteRT), then run on every interpreter on 16 inputs and compared
with Keras under the export's own limits (`tfquant/tflite/verify.py`): float formats relative error
<= 1e-4; int8 formats <= 0.25 and argmax agreement >= 0.9 on decisive samples. tflite-runtime runs in
`.venv-tflite-runtime` (`python -m export._tflite_runtime_venv`). The packed formats are also run after
`tfquant.tflite.expand` (filters folded into constants at load). `--write` puts the table into docs/RESULTS.md, section
"Interpreter compatibility".
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np

import tfquant.tflite as tflite
from benchmarks.export_models import binarize, odd_shapes_cnn
from benchmarks.results_page import replace_section
from tfquant.tflite import verify
from tfquant_lite import interpreters


def cell(path, x, expected, interpreter, int8):
    """'ok (rel. error)' or why not."""
    try:
        out = interpreters.run(path, x, interpreter)
    except interpreters.InterpreterUnavailable:
        return "not installed"
    except Exception as error:  # report the interpreter's own refusal in the table
        return f"fails: {str(error).strip().splitlines()[-1][:80]}"
    f = verify.figures(expected, out)
    ok = f["finite"] and (f["relative_error"] <= verify.INT8_RTOL and f.get("decisive_agreement", 1) >=
                          verify.INT8_MIN_AGREEMENT if int8 else f["relative_error"] <= verify.FLOAT_RTOL)
    return f"{'ok' if ok else 'WRONG'} ({f['relative_error']:.1g})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    model = binarize(odd_shapes_cnn(), dense=True, seed=0)
    x = np.random.default_rng(1).standard_normal((16, 11, 13, 3)).astype(np.float32)
    expected = verify.keras_outputs(model, x)
    lines = ["| format | " + " | ".join(interpreters.INTERPRETERS) + " |",
             "|---|" + "---|" * len(interpreters.INTERPRETERS)]
    with tempfile.TemporaryDirectory() as folder:
        for fmt in tflite.FORMATS:
            path = Path(folder) / f"{fmt}.tflite"
            tflite.export(model, path, format=fmt, calibration=x)
            files = [(fmt, path)]
            if fmt.startswith("packed"):
                files.append((f"{fmt}, expanded at load", Path(folder) / f"{fmt}_expanded.tflite"))
                files[-1][1].write_bytes(tflite.expand(path.read_bytes()))
            for label, file in files:
                cells = [cell(file, x, expected, name, fmt in tflite.INT8_FORMATS)
                         for name in interpreters.INTERPRETERS]
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
                print(lines[-1], flush=True)
    text = ("Produced by `python -m benchmarks.export_compat --write` (cells: result against Keras, with the "
            "maximum error relative to the largest output).\n\n" + "\n".join(lines))
    if args.write:
        replace_section("Interpreter compatibility", text)
    return text


if __name__ == "__main__":
    main()
