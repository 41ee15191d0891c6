"""Phone demo latency in headless Chromium (LiteRT.js, WebAssembly, 1 thread): each bundled model as
downloaded and, for packed files, expanded at load by android_demo/expand.js, in one browser session.

    python -m benchmarks.browser_latency [--models android_demo/models] [--write]

Runs `android_demo/tests/predict.mjs` against `android_demo/serve.py` (Chromium 156 under a Pixel 7
viewport; the page's `compareExpansion(50)`: for every model, load it both ways, then the median of 50
`run()` calls on one gallery image). Load cost: expansion (JavaScript) and LiteRT.js compile times of that
load; in memory: the bytes handed to LiteRT.js. Target: packed-int8 expanded <= 1.2 x int8's median.
`--write` puts the table into docs/RESULTS.md, section "Phones: browser latency".
"""
import argparse
import importlib.util
import json
import shutil
import subprocess
import threading
from pathlib import Path

from benchmarks.results_page import replace_section

DEMO = Path(__file__).resolve().parent.parent / "android_demo"
COMMAND = "python -m benchmarks.browser_latency --write"


def browser_run(models=None, chromium=None):
    """The JSON that predict.mjs prints for the demo served with `models` (default: the committed ones)."""
    spec = importlib.util.spec_from_file_location("demo_serve", DEMO / "serve.py")
    serve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serve)
    server = serve.make_server("127.0.0.1", 0, models)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done = subprocess.run(["node", "tests/predict.mjs", f"http://127.0.0.1:{server.server_port}/",
                               chromium or shutil.which("chromium") or "/usr/bin/chromium"],
                              cwd=DEMO, capture_output=True, text=True, timeout=600)
    finally:
        server.shutdown()
        server.server_close()
    if done.returncode != 0:
        raise SystemExit(f"predict.mjs failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def table(expansion):
    int8 = expansion["int8"]["p50"]
    lines = ["| model | download | in memory | expand at load | compile | median latency | vs int8 |",
             "|---|---|---|---|---|---|---|"]
    for name, r in expansion.items():
        expand = f"{r['expandMs']:.1f} ms" if r["expanded"] else "-"
        lines.append(f"| {name} | {r['downloadBytes']:,} B | {r['memoryBytes']:,} B | {expand} | "
                     f"{r['compileMs']:.1f} ms | {r['p50']:.3f} ms | {r['p50'] / int8:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=None,
                        help="models folder to serve (default android_demo/models)")
    parser.add_argument("--write", action="store_true", help="put the table into docs/RESULTS.md")
    args = parser.parse_args(argv)
    result = browser_run(args.models)
    text = table(result["expansion"])
    print(text)
    if args.write:
        replace_section("Phones: browser latency", f"`{COMMAND}` (models: {args.models or 'android_demo/models'}; "
                        "headless Chromium 156, LiteRT.js 2.5 on WebAssembly, 1 thread, 2 shared vCPUs)\n\n"
                        f"{text}\n")
    return result


if __name__ == "__main__":
    main()
