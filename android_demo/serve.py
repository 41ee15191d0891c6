"""Serve the demo for a phone or a test browser: static files with the headers LiteRT.js needs.

    python android_demo/serve.py [--port 8000] [--host 127.0.0.1] [--models DIR]

`--models DIR` serves the page's models/ from DIR (a `python -m android_demo.build_demo` output, by
default runs/demo-models) instead of the committed android_demo/models.

Headers: ``Cross-Origin-Opener-Policy: same-origin`` and ``Cross-Origin-Embedder-Policy: require-corp``
make the page cross-origin isolated, which WebAssembly threads (SharedArrayBuffer) require;
``application/wasm`` lets the browser compile the wasm while it streams. Only the app's own files and
the LiteRT.js runtime under node_modules are served (not the rest of node_modules).
A service worker needs a secure context: ``localhost`` (e.g. over ``adb reverse``) or HTTPS.
"""
import argparse
import functools
import http.server
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ALLOWED = ("node_modules/@litertjs/core/dist/", "node_modules/@litertjs/core/wasm/",
           "node_modules/@litertjs/wasm-utils/dist/", "node_modules/flatbuffers/mjs/")
TYPES = {".wasm": "application/wasm", ".webmanifest": "application/manifest+json", ".js": "text/javascript",
         ".mjs": "text/javascript", ".json": "application/json", ".tflite": "application/octet-stream"}


class DemoHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}
    models = ROOT / "models"

    def translate_path(self, path):
        relative = path.split("?", 1)[0].split("#", 1)[0].lstrip("/")
        if relative.startswith("models/"):
            return str(self.models / Path(relative).name)
        return super().translate_path(path)

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def do_GET(self):
        path = self.path.split("?", 1)[0].lstrip("/")
        if path.startswith("node_modules/") and not path.startswith(ALLOWED) or path.startswith((".", "tests/")):
            self.send_error(404, "not part of the demo")
            return
        super().do_GET()

    def log_message(self, fmt, *args):  # quiet: one line per error only
        if args and str(args[1]).startswith(("4", "5")):
            super().log_message(fmt, *args)


def make_server(host="127.0.0.1", port=8000, models=None):
    """A threading HTTP server for the demo folder (port 0: any free port; see ``server.server_port``),
    its models/ served from `models` when given."""
    if not (ROOT / "node_modules/@litertjs/core/wasm").is_dir():
        raise SystemExit(f"LiteRT.js is not installed: run `npm ci` in {ROOT}")
    if models is not None and not (Path(models) / "models.json").is_file():
        raise SystemExit(f"{models} holds no models.json: build one with `python -m android_demo.build_demo`")
    handler_class = type("Handler", (DemoHandler,), {"models": Path(models or ROOT / "models").resolve()})
    handler = functools.partial(handler_class, directory=str(ROOT))
    return http.server.ThreadingHTTPServer((host, port), handler)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to reach it over Wi-Fi")
    parser.add_argument("--port", type=int, default=8000, help="0: any free port (printed)")
    parser.add_argument("--models", help="serve models/ from this folder (default: android_demo/models)")
    args = parser.parse_args()
    server = make_server(args.host, args.port, args.models)
    print(f"serving {ROOT} on http://{args.host}:{server.server_port}/  (Ctrl-C stops)", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
