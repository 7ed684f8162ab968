"""Regenerate docs/roles.md's matrix: ``python -m tests.gen_roles_doc``."""

from __future__ import annotations

from pathlib import Path

from flexplatform.app import create_app
from tests.authz import matrix_markdown

DOC = Path(__file__).parents[1] / "docs" / "roles.md"
START, END = "<!-- matrix:start -->\n", "<!-- matrix:end -->\n"

if __name__ == "__main__":
    text = DOC.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(head + START + matrix_markdown(create_app()) + END + tail)
    print(f"updated {DOC}")
