"""Write each service's OpenAPI document to docs/openapi/<service>.json (from the code).

uv run python tools/gen_openapi.py           write the documents
uv run python tools/gen_openapi.py --check   exit 1 if a committed document is stale
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "openapi"
SERVICES = ["registry", "gateway", "detector", "outreach", "notifier", "console"]


def render() -> dict[str, str]:
    documents: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as var:
        os.environ["ANBU_VAR_DIR"] = var
        for name in SERVICES:
            _, app = importlib.import_module(f"anbu_{name}.bootstrap").create()
            spec = app.openapi()
            documents[f"{name}.json"] = (
                json.dumps(spec, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
            )
    return documents


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    documents = render()
    if args.check:
        stale = [
            n
            for n, text in documents.items()
            if not (OUT / n).exists() or (OUT / n).read_text(encoding="utf-8") != text
        ]
        if stale:
            sys.stderr.write(f"stale OpenAPI documents: {stale}: run `make schemas`\n")
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in documents.items():
        (OUT / name).write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {len(documents)} documents to {OUT.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
