#!/usr/bin/env python3
"""Write a schemathesis.toml that feeds real ids of the running store to the
path parameters of docs/openapi.json, so that `GET /api/v1/customers/{id}/timeline`
and the like are not only ever asked about ids that do not exist (404).

    make_config.py --spec docs/openapi.json --url http://127.0.0.1:PORT \
        --token ADMIN_TOKEN --out schemathesis.toml [--probability 0.6]

For every path with a parameter in braces, the collection is the path before
that parameter (`/api/v1/customers/{id}/trust` -> `GET /api/v1/customers`); its
first page's `items[].id` (or `key` for settings) become a dictionary that the
parameter takes with the given probability; otherwise schemathesis generates
values as usual. Paths whose collection cannot be listed are left alone.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

METHODS = ("get", "put", "post", "patch", "delete")


def get(url: str, token: str):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, ValueError, TimeoutError):
        return None


def ids_of(doc, limit: int) -> list:
    if isinstance(doc, dict):
        items = doc.get("items")
        if items is None:
            # e.g. GET /api/v1/settings: an object of settings, or {"settings": [...]}
            for value in doc.values():
                if isinstance(value, list) and value and isinstance(value[0], dict):
                    items = value
                    break
        if items is None:
            return []
    elif isinstance(doc, list):
        items = doc
    else:
        return []
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        for key in ("id", "key", "name"):
            value = item.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) and value not in out:
                out.append(value)  # keeps its type: an integer id stays an integer
                break
        if len(out) >= limit:
            break
    return out


def param_type(item: dict, name: str) -> str:
    """The schema type of the path parameter `name` of a path item (string unless said)."""
    params = list(item.get("parameters") or [])
    for method in METHODS:
        params += (item.get(method) or {}).get("parameters") or []
    for p in params:
        if p.get("in") == "path" and p.get("name") == name:
            ty = (p.get("schema") or {}).get("type")
            if ty in ("integer", "string"):
                return ty
    return "string"


def coerce(value, ty: str):
    if ty == "integer":
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    return str(value)


def toml_str(s) -> str:
    return json.dumps(s)  # a JSON string or integer is valid TOML for these values


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--probability", type=float, default=0.6)
    ap.add_argument("--per-collection", type=int, default=5)
    args = ap.parse_args()

    spec = json.loads(Path(args.spec).read_text())
    paths = spec.get("paths", {})
    # path template -> (parameter, collection path)
    wanted: dict[str, tuple[str, str, str]] = {}
    for path in paths:
        m = re.search(r"/\{([^}]+)\}", path)
        if not m:
            continue
        collection = path[: m.start()]
        if collection in paths and "get" in paths[collection]:
            wanted[path] = (m.group(1), collection, param_type(paths[path], m.group(1)))

    dictionaries: dict[str, list] = {}
    lines = ["# Written by scripts/schemathesis/make_config.py for one run; do not edit.", ""]
    ops = []
    for path, (param, collection, ty) in sorted(wanted.items()):
        name = re.sub(r"[^A-Za-z0-9_]", "_", collection.strip("/").removeprefix("api/v1/")) or "root"
        name = f"{name}_{ty}"
        if name not in dictionaries:
            sep = "&" if "?" in collection else "?"
            doc = get(f"{args.url}{collection}{sep}limit={args.per_collection}", args.token)
            dictionaries[name] = [coerce(v, ty) for v in ids_of(doc, args.per_collection)]
        if not dictionaries[name]:
            continue
        ops.append((path, param, name))

    for name, values in sorted(dictionaries.items()):
        if values:
            lines.append(f"[dictionaries.{name}]")
            lines.append("values = [" + ", ".join(toml_str(v) for v in values) + "]")
            lines.append("")
    for path, param, name in ops:
        lines.append("[[operations]]")
        lines.append(f"include-path = {toml_str(path)}")
        lines.append(
            f'parameters = {{ "path.{param}" = {{ dictionary = "{name}", probability = {args.probability} }} }}'
        )
        lines.append("")
    Path(args.out).write_text("\n".join(lines))
    used = sum(1 for v in dictionaries.values() if v)
    print(f"{len(ops)} operations get ids from {used} collections", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
