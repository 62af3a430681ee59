#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""prov-check GRAPH_JSON PROV_JSON: the PROV-JSON graph loads in W3C PROV tools.

PROV_JSON is `leaktrace graph --format prov-json` and GRAPH_JSON
`leaktrace graph --format json` of the same records. The document must
load with the W3C PROV library for Python (Debian's python3-prov), every
node of GRAPH_JSON must be one of its elements, and it must hold a
relation per diffusion edge at least; it must also serialise back to
PROV-N. Exit status: 0 ok, 1 a check failed, 77 no prov library (SKIP).
"""
import json
import sys
from urllib.parse import unquote


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    try:
        from prov.model import ProvDocument, ProvElement, ProvRelation
    except ImportError:
        print("the prov library (python3-prov) is not installed")
        return 77
    with open(sys.argv[1]) as f:
        graph = json.load(f)
    try:
        doc = ProvDocument.deserialize(sys.argv[2], format="json")
        doc.get_provn()
    except Exception as e:  # whatever the library raises is the finding
        print(f"{sys.argv[2]}: the prov library refuses it: {e!r}")
        return 1
    records = list(doc.get_records())
    elements = {unquote(r.identifier.localpart) for r in records if isinstance(r, ProvElement)}
    relations = sum(isinstance(r, ProvRelation) for r in records)
    missing = sorted(n["key"] for n in graph["nodes"] if n["key"] not in elements)
    print(f"{len(elements)} elements, {relations} relations; "
          f"graph.json: {len(graph['nodes'])} nodes, {len(graph['edges'])} edges")
    for key in missing:
        print(f"node {key} is not an element of the PROV document")
    if relations < len(graph["edges"]):
        print(f"fewer relations ({relations}) than diffusion edges ({len(graph['edges'])})")
        return 1
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
