"""Replace one section of docs/RESULTS.md (the text between its `## title` line and the next `## `)."""
import pathlib

RESULTS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "RESULTS.md"


def replace_section(title, body, path=RESULTS):
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == f"## {title}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    lines[start + 1:end] = ["\n", body.rstrip() + "\n", "\n"]
    path.write_text("".join(lines))
