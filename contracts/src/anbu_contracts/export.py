"""Export the JSON Schemas of every event model and the topic registry.

``python -m anbu_contracts.export`` rewrites ``contracts/schemas/``; ``--check`` exits 1 when
the files on disk differ from what the models produce (the test suite runs the check).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .topics import TOPICS, describe

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "schemas"


def rendered() -> dict[str, str]:
    """File name → file content for every exported schema."""
    files: dict[str, str] = {}
    for topic in TOPICS:
        schema: dict[str, Any] = topic.model.model_json_schema(mode="serialization")
        schema["$id"] = f"https://anbu.example/schemas/{topic.name}.schema.json"
        schema["x-topic"] = topic.name
        schema["x-key"] = topic.key_field
        files[f"{topic.name}.schema.json"] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    files["topics.json"] = json.dumps(describe(), indent=2, ensure_ascii=False) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args(argv)
    files = rendered()
    out: Path = args.dir
    if args.check:
        stale = [
            n
            for n, text in files.items()
            if not (out / n).is_file() or (out / n).read_text(encoding="utf-8") != text
        ]
        extra = sorted(p.name for p in out.glob("*.json") if p.name not in files)
        if stale or extra:
            sys.stderr.write(
                f"stale schemas: {stale}; unexpected files: {extra}\n"
                "run: uv run python -m anbu_contracts.export\n"
            )
            return 1
        return 0
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    for path in out.glob("*.json"):
        if path.name not in files:
            path.unlink()
    sys.stdout.write(f"wrote {len(files)} files to {out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
