"""Writes the API's OpenAPI document to a file, built in-process with no server and no settings:
the dashboard's TypeScript types are generated from it (`scripts/api-types`), so the document
the backend serves is the one source of the API's shapes.

    python -m backend.openapi_dump [PATH]   # default: dashboard/src/lib/api.openapi.json

The document is that of a development server: every operation, the dev sign-in too, since the
dashboard calls it in development. Keys keep their declared order and the file ends with a
newline, so the same operations always give the same bytes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from backend import dev_auth
from backend.app import OPERATIONS
from backend.operations import openapi_document

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "dashboard/src/lib/api.openapi.json"


def document() -> dict[str, Any]:
    return openapi_document([*OPERATIONS, *dev_auth.operations])


def dump(path: Path) -> None:
    path.write_text(json.dumps(document(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print("usage: python -m backend.openapi_dump [PATH]", file=sys.stderr)
        return 2
    dump(Path(argv[0]) if argv else DEFAULT_PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
