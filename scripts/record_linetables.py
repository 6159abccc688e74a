#!/usr/bin/env python3
"""Record what real 2.7 and 3.6-3.10 interpreters say about their line tables.

tests/unit/test_linetable.py checks our decoders against every interpreter on the
machine; on a machine without the pyenv builds the 2.7-3.10 decoders (lnotab, the
3.10 linetable) would go untested. This runs the same probe on each pyenv build
found and keeps, per version, the whole corpus and a sample of the synthetic tables
(every table with each interpreter's answers at every address) in a gzipped JSON
file that the tests replay without any interpreter. Run it again after changing the
probe or the corpus:

    .venv/bin/python scripts/record_linetables.py
"""
from __future__ import annotations

import gzip
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "tests", "unit", "data", "recorded-linetables.json.gz")
#: Synthetic tables kept per version (of 400): they are 8 times the corpus's size.
SYNTHETIC_KEPT = 40
RECORDED = ("2.7.18", "3.6.15", "3.7.16", "3.8.18", "3.9.18", "3.10.13")


def main() -> int:
    sys.path[:0] = [os.path.join(REPO, "tests"), os.path.join(REPO, "tests", "unit"),
                    os.path.join(REPO, "src")]
    import test_linetable as t

    recorded = {}
    for interp in t.INTERPRETERS:
        name, argv, exe = interp
        if name not in RECORDED or not os.path.exists(exe):
            continue
        corpus = t.probe(interp, "corpus")
        tables = dict(t.probe(interp, "tables"))
        tables["codes"] = tables["codes"][:SYNTHETIC_KEPT]
        recorded[name] = {"corpus": corpus, "tables": tables}
        print(f"{name}: {len(corpus['codes'])} code objects, "
              f"{len(tables['codes'])} synthetic tables")
    if not recorded:
        print("no pyenv 2.7/3.6-3.10 build found: nothing recorded", file=sys.stderr)
        return 1
    with gzip.open(OUT, "wt", compresslevel=9) as f:
        json.dump(recorded, f, sort_keys=True, separators=(",", ":"))
    print(f"wrote {OUT} ({os.path.getsize(OUT):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
