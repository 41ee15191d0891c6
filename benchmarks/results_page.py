"""Replace one section of docs/RESULTS.md (the text between its `## title` line and the next `## `).

Used by the benchmarks' ``--write`` and the main job's ``--publish``: the only ways a command writes the page.
"""
import pathlib

from tfquant_lite.files import write_text

RESULTS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "RESULTS.md"


def replace_section(title, body, path=RESULTS):
    """Put `body` under ``## title`` in `path` (atomically); the section must exist."""
    lines = pathlib.Path(path).read_text().splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == f"## {title}"), None)
    if start is None:
        raise ValueError(f"{path} has no section '## {title}' (add the heading where the results belong)")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    lines[start + 1:end] = ["\n", body.rstrip() + "\n", "\n"]
    write_text(path, "".join(lines))
