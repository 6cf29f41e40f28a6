#!/usr/bin/env python3
"""Lists the public declarations of a module that have no doc comment, from its symbol graph.

Usage: undocumented_symbols.py SYMBOL_GRAPH_DIR MODULE

Reads MODULE.symbols.json and MODULE@*.symbols.json (extensions of other modules' types)
written by swift-symbolgraph-extract, prints one `file:line: kind name` line per public or
open symbol without a doc comment, and exits 1 if there is any (0 if none, 2 on bad input).

The symbol graph is the compiler's own view of the API, so it catches what a text scan
misses: enum cases, protocol requirements, members of `public extension`, declarations
split over lines or behind attributes. Symbols the compiler made (synthesized members,
memberwise or raw-value initializers: they have no source location) have nothing to
document and are skipped; extract with -skip-synthesized-members -skip-inherited-docs so
a conformance does not count as documented by the protocol's comment.
"""
import glob
import json
import os
import sys
from urllib.parse import unquote, urlparse


def undocumented(graph_dir: str, module: str) -> list[str]:
    paths = sorted(glob.glob(os.path.join(graph_dir, f"{module}.symbols.json"))
                   + glob.glob(os.path.join(graph_dir, f"{module}@*.symbols.json")))
    if not any(p.endswith(f"{module}.symbols.json") for p in paths):
        raise FileNotFoundError(f"{graph_dir}: no {module}.symbols.json (run swift-symbolgraph-extract first)")
    found = set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            graph = json.load(f)
        for symbol in graph.get("symbols", []):
            if symbol.get("accessLevel") not in ("public", "open"):
                continue
            if "::SYNTHESIZED::" in symbol["identifier"]["precise"] or "location" not in symbol:
                continue
            lines = symbol.get("docComment", {}).get("lines", [])
            if any(line.get("text", "").strip() for line in lines):
                continue
            location = symbol["location"]
            file = unquote(urlparse(location["uri"]).path)
            line = location["position"]["line"] + 1  # the graph counts lines from 0
            kind = symbol["kind"]["displayName"].lower()
            name = ".".join(symbol["pathComponents"])
            found.add((os.path.relpath(file), line, f"{kind} {name}"))
    return [f"{file}:{line}: {what}" for file, line, what in sorted(found)]


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    graph_dir, module = sys.argv[1], sys.argv[2]
    try:
        missing = undocumented(graph_dir, module)
    except (OSError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for entry in missing:
        print(f"{entry}: public declaration without a doc comment (///)")
    if missing:
        print(f"error: {len(missing)} public declaration(s) of {module} lack a doc comment", file=sys.stderr)
        return 1
    print(f"{module}: every public declaration has a doc comment")
    return 0


if __name__ == "__main__":
    sys.exit(main())
