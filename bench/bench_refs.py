"""What stable references cost: the sample's datasets with references, rendered in this
process with tdm's consistent draws (jump consistent hashing, the inside-out shuffle
for unique references, earlier rows only for self-references) against the same plans
with the draws they replaced (``floor(u * count)``, a keyed affine permutation).

The rows are the real renderer's JSON Lines for rows 0..N-1 of the ``full`` template's
plans (no files written); the two variants alternate and the medians of the repeats
are compared, so both see the same machine load.

    .venv/bin/python bench/bench_refs.py [--rows 20000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from tdm import generators as g
from tdm import rng
from tdm.project import Project
from tdm.recipes import TemplatePlanner
from tdm.render import RowRenderer

SAMPLE = Path(__file__).resolve().parent.parent / "sample_repo"


class PlainRef(g.Ref):
    """The draw before stable references: every reference moves when a count changes."""

    def column(self, idx: Any) -> list[Any]:
        if self.unique:
            rows = rng.permute(self.key, idx, self.parent_count)
        else:
            rows = rng.below(self.key, idx, self.parent_count)
        return self.parent.column(rows.astype(np.uint64))


def with_plain_refs(gen: g.Gen) -> g.Gen:
    if isinstance(gen, g.Ref):
        return PlainRef(**{f.name: getattr(gen, f.name) for f in dataclasses.fields(g.Ref)})
    if isinstance(gen, g.Nullable):
        return dataclasses.replace(gen, inner=with_plain_refs(gen.inner))
    if isinstance(gen, g.Object):
        return g.Object([dataclasses.replace(p, gen=with_plain_refs(p.gen)) for p in gen.props])
    return gen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    plans = {p.name: p for p in TemplatePlanner(Project.find(SAMPLE), "full").plan_all()}
    idx = rng.rows(0, args.rows)
    print(f"{args.rows:,} rows per run, median of {args.repeats}")
    for name in ("customers", "addresses", "orders", "order_items", "payments"):
        root = plans[name].root
        stable, plain = RowRenderer(root), RowRenderer(with_plain_refs(root))
        times: dict[str, list[float]] = {"plain": [], "stable": []}
        for _ in range(args.repeats):
            for label, renderer in (("plain", plain), ("stable", stable)):
                start = time.perf_counter()
                renderer.render(idx)
                times[label].append(time.perf_counter() - start)
        a, b = statistics.median(times["plain"]), statistics.median(times["stable"])
        print(
            f"{name:12s} plain draw {a * 1e3:8.1f} ms   stable draw {b * 1e3:8.1f} ms   "
            f"ratio {b / a:.2f}"
        )


if __name__ == "__main__":
    main()
