r"""The docs run: every fenced shell command and Python snippet in README.md, docs/*.md and
android_demo/README.md is executed, one test per snippet, named `FILE:LINE` (the fence's first line).

Fences: ```sh / ```bash / ```shell blocks run in bash (`set -euo pipefail`), ```python / ```py blocks in a
fresh Python process. Every other fence must say what it is (```text for output and diagrams, ```cpp, ...):
an untagged fence fails `test_every_fence_is_tagged`, so nothing is left out by accident.

Where a snippet runs:
- Shell: in a temporary copy of the repository (its tracked and untracked-but-not-ignored files, with the
  ignored environments `.venv*` and `android_demo/node_modules` linked in), with the project's Python first on
  PATH, so `python ...` and `make ...` act on the copy. The real checkout must be left as it was
  (`git status --porcelain` is compared before and after every snippet).
- Python: in an empty temporary directory, importing this checkout's `tfquant`. A traceback names the
  Markdown file and the line in it.

Markers, an HTML comment on the line(s) right before a fence (invisible on the rendered page, read by this
test; a `docs-test:` comment it cannot parse is an error, never ignored):

    <!-- docs-test: skip (needs a GPU and the CIFAR-10 download) -->   not run; the reason is the skip message
    <!-- docs-test: slow (trains for 6 minutes) -->                       run only with `pytest -m slow`
    <!-- docs-test: quick "epochs=10" -> "epochs=1" (10 epochs take 3 min) -->
                        the default run replaces the first string by the second; the snippet as written runs
                        under `-m slow` (test id `FILE:LINE[as written]`)
    <!-- docs-test: given device -->     a shell snippet's working directory holds these files, from GIVENS
    <!-- docs-test: expect 3 "accuracy 0\.8\d" -->   the output (stdout + stderr) holds this regular expression
                                                   (at least 3 times; without a count, once)
    <!-- docs-test: serves -->           the snippet ends in a server: it must print an http:// address that answers
                                         200, then it is stopped
    <!-- docs-test: continues -->        runs after the previous runnable snippet of the same file, in the same
                                         Python namespace or the same shell working directory (one test); a
                                         skipped snippet is never what a `continues` snippet follows

A snippet runs as written: the code the reader sees, and nothing hidden. A Python snippet takes no `given`
(a network or data it uses is defined in a visible snippet before it, which it `continues`), and a `quick`
substitution has the `[as written]` variant under `-m slow`. Shell givens are files a command reads (a saved
model, a device's folder), made as their description says.

A snippet that needs a GPU, a network, root or hours is skipped with its reason beside it; a skip by any other
rule (a heuristic, a missing tool) is not allowed.
"""

import dataclasses
import os
import pathlib
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")), "android_demo/README.md"]
SHELL = {"sh", "bash", "shell"}
PYTHON = {"python", "py"}
TIMEOUT_S = 600  # a snippet in the default run; one marked slow (or run as written) gets SLOW_TIMEOUT_S
SLOW_TIMEOUT_S = 3 * 3600
# What docs/DEVICES.md tells a user to copy onto a device (the other way: `pip install tfquant[run]`).
DEVICE_FOLDER = "tfquant"
DEMO_MODELS = ("packed", "packed-int8", "int8")
LINKED = [".venv", ".venv-tflite-runtime", ".venv-larq", "android_demo/node_modules"]

# What a (shell) `given` marker may name: (what it is, how it is made: a function of (repository copy, temporary
# folder) that prepares files and returns the directory the snippet runs in).
_FASHION_MNIST_512 = """\
import numpy as np
from tfquant.data import load_fashion_mnist
(images, labels), _ = load_fashion_mnist()
x = ((images[:512, ..., None] / 255.0 - 0.2860406) / 0.35302424).astype("float32")
y = labels[:512].astype("int32")
"""
_BINARY_MODEL = """\
import keras, tfquant
model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(6, 3, name="conv1"),
                          keras.layers.BatchNormalization(name="bn1"), keras.layers.ReLU(),
                          keras.layers.Conv2D(5, 3, name="conv2", use_bias=False),
                          keras.layers.GlobalAveragePooling2D(),
                          keras.layers.Dense(10, activation="softmax", name="dense")], name="net")
model.compile(optimizer=tfquant.BCAdam(learning_rate=1e-2), loss="sparse_categorical_crossentropy")
model.optimizer.build(model.trainable_variables)   # rounds the conv kernels onto {-1, +1}
"""


def _png(path, image):
    """Write `image` (H, W) uint8 as an 8-bit grey PNG (filter 0 on every row)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\0" + row.tobytes() for row in image)
    header = struct.pack(">IIBBBBB", image.shape[1], image.shape[0], 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


def _device_dir(repo, tmp_path):
    """A device's working directory: tfquant/, the demo's models, the test set and two PNGs."""
    import numpy as np

    from tfquant.data import load_fashion_mnist
    device = tmp_path / "device"
    shutil.copytree(repo / DEVICE_FOLDER, device / DEVICE_FOLDER)
    for name in DEMO_MODELS:
        shutil.copy(repo / "android_demo/models" / f"{name}.tflite", device)
    _, (x, y) = load_fashion_mnist()
    np.savez(device / "fm_test.npz", x=x, y=y)
    _png(device / "shirt.png", x[np.flatnonzero(y == 6)[0]])
    _png(device / "boot.png", x[np.flatnonzero(y == 9)[0]])
    return device


def _saved_model(repo, tmp_path):
    """model.keras (a small binary CNN for 28x28x1 images) and inputs.npy (64 normalised Fashion-MNIST images)."""
    save = _FASHION_MNIST_512 + _BINARY_MODEL + 'model.save("model.keras")\nnp.save("inputs.npy", x[:64])\n'
    subprocess.run([sys.executable, "-c", save], cwd=repo, env=_environment(repo), check=True, capture_output=True,
                   timeout=TIMEOUT_S)
    return repo


def _main_job_models(repo, tmp_path):
    """runs/main/export/{packed,packed-int8,int8}.tflite, where `make main` writes them: the demo's models."""
    export = repo / "runs/main/export"
    export.mkdir(parents=True)
    for name in DEMO_MODELS:
        shutil.copy(repo / "android_demo/models" / f"{name}.tflite", export)
    return repo


GIVENS = {
    "model.keras": ("model.keras, a small Sequential CNN (two convs, batch norm, dense) for 28x28x1 images and "
                    "10 classes with its conv kernels on {-1, +1}, and inputs.npy (64 normalised "
                    "Fashion-MNIST images), in the repository's root", _saved_model),
    "main-job-models": ("runs/main/export/ holds packed, packed-int8 and int8 .tflite files where `make main` "
                        "writes them (copies of the demo's committed models, which the main job published)",
                        _main_job_models),
    "device": ("the working directory is a device's: tfquant/ copied as docs/DEVICES.md says, the "
               "demo's .tflite models, fm_test.npz (Fashion-MNIST's test set: uint8 x, labels y), and shirt.png "
               "and boot.png (the test set's first shirt and first ankle boot)",
               _device_dir),
}

_MARKER = re.compile(r"^\s*<!--\s*docs-test:(.*?)-->\s*$")
_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+.-]*)")


@dataclasses.dataclass
class Snippet:
    doc: str
    line: int  # 1-based line of the opening fence
    lang: str  # "shell", "python" or another tag
    code: str
    skip: str = ""
    slow: str = ""
    quick: list = dataclasses.field(default_factory=list)  # (old, new, reason) substitutions
    given: tuple = ()
    continues: bool = False
    serves: bool = False
    expect: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)


def _parse_marker(text, snippet):
    text = text.strip()
    m = re.fullmatch(r"(skip|slow)\s*\((.+)\)", text)
    if m:
        setattr(snippet, m.group(1), m.group(2).strip())
        return
    m = re.fullmatch(r'quick\s+"(.+?)"\s*->\s*"(.*?)"\s*\((.+)\)', text)
    if m:
        snippet.quick.append((m.group(1), m.group(2), m.group(3).strip()))
        return
    m = re.fullmatch(r"given\s+(.+)", text)
    if m:
        snippet.given = tuple(name.strip() for name in m.group(1).split(","))
        return
    m = re.fullmatch(r'expect\s+(?:(\d+)\s+)?"(.+)"', text)
    if m:
        snippet.expect.append((int(m.group(1) or 1), m.group(2)))
        return
    if text == "serves":
        snippet.serves = True
        return
    if text == "continues":
        snippet.continues = True
        return
    snippet.errors.append(f"cannot parse marker 'docs-test: {text}' (see tests/apps/test_docs.py's docstring)")


def fences(doc, text=None):
    """Every fenced block of `doc` (or of Markdown `text` named `doc`) as a Snippet with its markers."""
    lines = (text if text is not None else (ROOT / doc).read_text()).splitlines()
    found, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, tag = m.groups()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        body = "\n".join(line[len(indent):] if line.startswith(indent) else line for line in lines[i + 1:end])
        lang = "shell" if tag in SHELL else "python" if tag in PYTHON else tag
        snippet = Snippet(doc, i + 1, lang, body + "\n")
        j = i - 1
        while j >= 0 and _MARKER.match(lines[j]):
            _parse_marker(_MARKER.match(lines[j]).group(1), snippet)
            j -= 1
        found.append(snippet)
        i = end + 1
    return found


def chains_of(doc, text=None):
    """`doc`'s runnable snippets grouped into tests: a `continues` snippet joins the last runnable chain before it."""
    result, last = [], {}
    for s in fences(doc, text):
        if s.lang not in ("shell", "python"):
            continue
        if s.continues and s.lang in last:
            last[s.lang].append(s)
        else:
            result.append([s])
            if not s.skip:  # a skipped snippet is not run: nothing can continue it
                last[s.lang] = result[-1]
    return result


def chains():
    """The runnable snippets of every doc, grouped into tests."""
    return [chain for doc in DOCS for chain in chains_of(doc)]


def _params():
    params = []
    for chain in chains():
        name = f"{chain[0].doc}:{'+'.join(str(s.line) for s in chain)}"
        skip = next((s.skip for s in chain if s.skip), "")
        slow = next((s.slow for s in chain if s.slow), "")
        quick = any(s.quick for s in chain)
        marks = [pytest.mark.slow] if slow else []
        params.append(pytest.param(chain, quick, id=name, marks=marks))
        if quick and not skip:
            params.append(pytest.param(chain, False, id=f"{name}[as written]", marks=[pytest.mark.slow]))
    return params


def test_every_fence_is_tagged():
    untagged = [f"{s.doc}:{s.line}" for doc in DOCS for s in fences(doc) if not s.lang]
    assert not untagged, (f"fences without a language tag (```sh / ```python to run them, ```text for output): "
                          f"{', '.join(untagged)}")


def marker_problems(doc, text=None):
    """What is wrong with the docs-test markers of `doc` (or of Markdown `text` named `doc`), one line each."""
    problems = []
    continuing = {s.line for chain in chains_of(doc, text) for s in chain[1:]}
    for s in fences(doc, text):
        problems += [f"{s.doc}:{s.line}: {e}" for e in s.errors]
        if s.given and s.lang == "python":
            problems.append(f"{s.doc}:{s.line}: a Python snippet takes no given (it would run on code the reader "
                            "does not see): define the names in a visible snippet and mark this one "
                            "`docs-test: continues`")
        if s.continues and s.lang in ("shell", "python") and s.line not in continuing:
            problems.append(f"{s.doc}:{s.line}: `continues`, but no runnable {s.lang} snippet comes before it")
        problems += [f"{s.doc}:{s.line}: unknown given {g!r} (known: {', '.join(GIVENS)})"
                     for g in s.given if s.lang == "shell" and g not in GIVENS]
        marked = s.skip or s.slow or s.quick or s.given or s.continues or s.expect or s.serves
        if marked and s.lang not in ("shell", "python"):
            problems.append(f"{s.doc}:{s.line}: a docs-test marker on a fence that does not run ({s.lang})")
    return problems


def test_markers_parse_and_name_known_givens():
    problems = [problem for doc in DOCS for problem in marker_problems(doc)]
    assert not problems, "\n".join(problems)


def test_a_snippet_cannot_run_on_hidden_code():
    """A Python `given` (code the reader does not see) is refused, and a `continues` after a skipped snippet
    joins the last snippet that runs, or is refused when none does."""
    given = "<!-- docs-test: given model -->\n```python\nmodel.fit(x, y)\n```\n"
    assert any("takes no given" in p for p in marker_problems("t.md", given))
    text = ("```python\nmodel = 1\n```\n\n<!-- docs-test: skip (a reason) -->\n```python\nmodel = 2\n```\n\n"
            "<!-- docs-test: continues -->\n```python\nassert model == 1\n```\n")
    assert [[s.line for s in chain] for chain in chains_of("t.md", text)] == [[1, 11], [6]]
    orphan = ("<!-- docs-test: skip (a reason) -->\n```python\nx = 1\n```\n"
              "<!-- docs-test: continues -->\n```python\n```\n")
    assert any("no runnable python snippet comes before it" in p for p in marker_problems("t.md", orphan))


def test_a_broken_example_fails():
    """The docs run catches the GUIDE's old QuantizationMonitor mistake: a visible network fitted without
    `compile` fails at its line."""
    text = ("```python\nimport keras, numpy as np\nx, y = np.zeros((4, 28, 28, 1)), np.zeros(4)\n"
            "model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])\n"
            "```\n\n<!-- docs-test: continues -->\n```python\nhistory = model.fit(x, y, epochs=1)\n```\n")
    [chain] = chains_of("t.md", text)
    with tempfile.TemporaryDirectory() as tmp:
        done = _run(chain, False, pathlib.Path(tmp), TIMEOUT_S)
    assert done.returncode != 0 and 'File "t.md", line 9' in done.stderr and "compile" in done.stderr


def _git_status():
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout


def _copy_repository(dest):
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name, follow_symlinks=False)
    for name in LINKED:
        if (ROOT / name).exists() and not (dest / name).exists():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).symlink_to((ROOT / name).resolve())


def _source(chain, quick):
    """The chain's code, padded with blank lines so that line numbers are the Markdown file's."""
    text, at = "", 1
    for s in chain:
        code = s.code
        for old, new, _ in s.quick if quick else ():
            assert old in code, f"{s.doc}:{s.line}: quick marker's {old!r} is not in the snippet"
            code = code.replace(old, new)
        text += "\n" * (s.line + 1 - at) + code
        at = s.line + 1 + code.count("\n")
    return text


def _environment(repo):
    env = dict(os.environ)
    env["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(repo)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _given_names(chain):
    return list(dict.fromkeys(name for s in chain for name in s.given))


def _run(chain, quick, tmp_path, timeout):
    first = chain[0]
    source = _source(chain, quick)
    if first.lang == "python":
        work = tmp_path / "work"
        work.mkdir()
        driver = f"exec(compile({source!r}, {first.doc!r}, 'exec'), {{'__name__': '__main__'}})\n"
        return _execute([sys.executable, "-c", driver], work, _environment(ROOT), timeout)
    repo = tmp_path / "repo"
    _copy_repository(repo)
    cwd = repo
    for name in _given_names(chain):
        cwd = GIVENS[name][1](repo, tmp_path)
    # Padded with blank lines, so $LINENO is the line in the Markdown file.
    script = f"set -euo pipefail; trap 'echo \"docs-test: failed at {first.doc}:$LINENO\" >&2' ERR{source}"
    if any(s.serves for s in chain):
        return _serve(["bash", "-c", script], cwd, _environment(repo), timeout)
    return _execute(["bash", "-c", script], cwd, _environment(repo), timeout)


def _serve(command, cwd, env, timeout):
    """Start a server snippet, wait for the first http:// address it prints, GET it, stop the server.

    Exit status 0 when the address answered 200 before `timeout`, else 1 (the output says what happened)."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    deadline, status = time.monotonic() + timeout, 1
    try:
        while time.monotonic() < deadline and process.poll() is None:
            found = re.search(r"http://[^\s/]+/\S*", "".join(lines))
            if found:
                try:
                    with urllib.request.urlopen(found.group(0), timeout=30) as answer:
                        status = 0 if answer.status == 200 else 1
                        lines.append(f"docs-test: GET {found.group(0)} -> {answer.status}\n")
                except OSError as e:
                    lines.append(f"docs-test: GET {found.group(0)} failed: {e}\n")
                break
            time.sleep(0.2)
        else:
            lines.append("docs-test: the server exited or printed no http:// address in time\n")
    finally:
        _end(process)
        reader.join(timeout=5)
    return subprocess.CompletedProcess(command, status, "".join(lines), "")


def _execute(command, cwd, env, timeout):
    """Run `command` in a session of its own; whatever it started in the background is ended with it."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _end(process)
        process.communicate()
        raise
    finally:
        _end(process)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _end(process):
    """End `process` and everything it started (its session)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@pytest.mark.parametrize("chain, quick", _params())
def test_snippet(chain, quick):
    reasons = [s.skip for s in chain if s.skip]
    if reasons:
        pytest.skip(reasons[0])
    before = _git_status()
    slow = any(s.slow for s in chain) or (not quick and any(s.quick for s in chain))
    timeout = SLOW_TIMEOUT_S if slow else TIMEOUT_S
    try:
        # Not pytest's tmp_path: other pytest sessions on the machine prune its base directory.
        with tempfile.TemporaryDirectory(prefix="docs-test-") as tmp:
            done = _run(chain, quick, pathlib.Path(tmp), timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{chain[0].doc}:{chain[0].line} ran past {timeout} s: mark it slow or give it a quick variant",
                    pytrace=False)
    assert _git_status() == before, f"{chain[0].doc}:{chain[0].line} changed the checkout"
    if done.returncode:
        pytest.fail(f"{chain[0].doc}:{chain[0].line} exited {done.returncode}\n"
                    f"--- stdout (end)\n{done.stdout[-3000:]}\n--- stderr (end)\n{done.stderr[-5000:]}", pytrace=False)
    output = done.stdout + done.stderr
    missing = [f"{s.doc}:{s.line}: {times} x {pattern!r}" for s in chain for times, pattern in s.expect
               if len(re.findall(pattern, output)) < times]
    assert not missing, f"output lacks what the docs promise: {missing}\n--- output (end)\n{output[-4000:]}"


def test_a_failing_snippet_is_reported_at_its_line():
    """The harness itself: a failing Python or shell snippet fails, naming the Markdown line that failed."""
    text = ("# t\n\n```python\nx = 1\n1 / 0\n```\n\n"
            "<!-- docs-test: continues -->\n```python\n```\n\n```sh\ntrue\nfalse\n```\n")
    found = fences("t.md", text)
    assert [(s.lang, s.line, s.continues) for s in found] == [("python", 3, False), ("python", 9, True),
                                                                ("shell", 12, False)]
    with tempfile.TemporaryDirectory() as tmp:
        python = _run(found[:2], False, pathlib.Path(tmp), 60)
        shell = _run(found[2:], False, pathlib.Path(tmp), 60)
    assert python.returncode != 0 and 'File "t.md", line 5' in python.stderr and "ZeroDivisionError" in python.stderr
    assert shell.returncode != 0 and "docs-test: failed at t.md:14" in shell.stderr


def test_every_command_named_in_the_docs_exists():
    """Inline commands too (tables, prose): each `python -m MODULE`, `python PATH.py` and `tfquant-*` the docs name
    exists in this checkout (a module file or package, a script, a console script in setup.cfg)."""
    scripts = set(re.findall(r"^\s*(tfquant-[a-z]+)\s*=", (ROOT / "setup.cfg").read_text(), re.M))
    missing = []
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        for module in set(re.findall(r"python3? -m ([A-Za-z_][\w.]*)", text)):
            path = ROOT / module.replace(".", "/")
            if not (path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()) and module != "pytest":
                missing.append(f"{doc}: python -m {module}")
        for script in set(re.findall(r"python3? ((?:[\w-]+/)+[\w-]+\.py)", text)):
            if not (ROOT / script).is_file():
                missing.append(f"{doc}: python {script}")
        missing += [f"{doc}: {name}" for name in set(re.findall(r"\b(tfquant-[a-z]+)\b", text)) - scripts]
    assert not missing, "the docs name commands that do not exist:\n" + "\n".join(sorted(missing))
