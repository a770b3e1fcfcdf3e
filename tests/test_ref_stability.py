"""References stay put when counts grow: consistent draws into parents, and
self-references that only look back (issue 12, part 6).

Every random quantity here comes from fixed seeds, so the statistical bounds are
checked against one deterministic outcome: they cannot flake.  The bounds are
still meaningful: a plain ``floor(u * count)`` draw moves almost every reference
and fails them by far."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import dataset, make_project, read_rows, tdm, write_file

from tdm import refdraw, rng

CHILDREN = 200_000


def binomial_ok(observed: int, trials: int, p: float, sigmas: float = 5.0) -> bool:
    mean = trials * p
    return abs(observed - mean) <= sigmas * math.sqrt(trials * p * (1 - p)) + 1


def chi_square(counts: np.ndarray) -> float:
    expected = counts.sum() / len(counts)
    return float(((counts - expected) ** 2 / expected).sum())


def chi_square_ok(counts: np.ndarray) -> bool:
    # df = buckets - 1; mean df, sd sqrt(2 df): a 6-sd bound
    df = len(counts) - 1
    return chi_square(counts) <= df + 6 * math.sqrt(2 * df)


@pytest.mark.parametrize(("n", "k"), [(100, 1), (200, 7), (1000, 50), (5000, 5000)])
def test_jump_moves_about_k_over_n_plus_k_and_only_to_new_rows(n: int, k: int) -> None:
    keys = rng.bits(rng.derive("test", n, k), rng.rows(0, CHILDREN))
    before = refdraw.jump(keys, n)
    after = refdraw.jump(keys, n + k)
    moved = before != after
    assert binomial_ok(int(moved.sum()), CHILDREN, k / (n + k))
    assert (after[moved] >= n).all()
    assert before.min() >= 0 and before.max() < n and after.max() < n + k


def test_a_plain_draw_would_fail_the_move_bound() -> None:
    # the bound above has teeth: floor(u * count), tdm's old draw, moves far more
    idx = rng.rows(0, CHILDREN)
    before = rng.below(5, idx, 200)
    after = rng.below(5, idx, 207)
    assert not binomial_ok(int((before != after).sum()), CHILDREN, 7 / 207)


@pytest.mark.parametrize("n", [1, 7, 100, 999])
def test_jump_is_uniform(n: int) -> None:
    keys = rng.bits(rng.derive("uniform", n), rng.rows(0, CHILDREN))
    counts = np.bincount(refdraw.jump(keys, n), minlength=n)
    assert len(counts) == n
    assert chi_square_ok(counts)


def test_jump_with_a_count_per_key() -> None:
    keys = rng.bits(3, rng.rows(0, 1000))
    limits = np.arange(1, 1001, dtype=np.int64)
    per_key = refdraw.jump(keys, limits)
    assert ((per_key >= 0) & (per_key < limits)).all()
    for i in (0, 1, 10, 999):
        assert per_key[i] == refdraw.jump(keys[i : i + 1], int(limits[i]))[0]
    with pytest.raises(ValueError, match="positive"):
        refdraw.jump(keys, 0)


def inside_out_shuffle(key: int, n: int) -> list[int]:
    """The textbook inside-out Fisher-Yates shuffle, step by step, with the same swaps."""
    dest = [
        min(int(u * (s + 1)), s) for s, u in enumerate(rng.uniform(key, rng.rows(0, n)).tolist())
    ]
    out: list[int] = []
    for s in range(n):
        out.append(s)
        out[s], out[dest[s]] = out[dest[s]], out[s]
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 17, 500])
def test_stable_permutation_is_the_inside_out_shuffle(n: int) -> None:
    got = refdraw.stable_permutation(11, rng.rows(0, n), n).tolist()
    assert got == inside_out_shuffle(11, n)
    assert sorted(got) == list(range(n))


@pytest.mark.parametrize(("n", "k"), [(1000, 1), (20_000, 700), (20_000, 20_000)])
def test_stable_permutation_moves_only_to_new_rows(n: int, k: int) -> None:
    idx = rng.rows(0, n)
    before = refdraw.stable_permutation(9, idx, n)
    after = refdraw.stable_permutation(9, idx, n + k)
    moved = before != after
    assert binomial_ok(int(moved.sum()), n, k / (n + k))
    assert (after[moved] >= n).all()
    assert len(set(after.tolist())) == n


def test_stable_permutation_is_uniform() -> None:
    # where child row 0 lands, over many keys: each of the 50 parent rows equally often
    firsts = [int(refdraw.stable_permutation(key, rng.rows(0, 1), 50)[0]) for key in range(20_000)]
    assert chi_square_ok(np.bincount(firsts, minlength=50))


# ------------------------------------------------------------------ end to end


def shop(root: Path, customers: int, *, referrer_type: object = None) -> Path:
    customer = {
        "type": "object",
        "x-tdm": {"primary_key": "id"},
        "required": ["id", "name"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer", "minimum": 1, "x-tdm": {"generator": "sequence"}},
            "name": {"type": "string", "x-tdm": {"generator": "name"}},
            "referrer_id": {
                "type": referrer_type or ["integer", "null"],
                "x-tdm": {"ref": "customers.id"},
            },
        },
    }
    account = {
        "type": "object",
        "x-tdm": {"primary_key": "id"},
        "required": ["id", "customer_id"],
        "properties": {
            "id": {"type": "integer", "minimum": 1, "x-tdm": {"generator": "sequence"}},
            "customer_id": {
                "type": "integer",
                "x-tdm": {"ref": "customers.id", "unique": True},
            },
        },
    }
    order = {
        "type": "object",
        "x-tdm": {"primary_key": "id"},
        "required": ["id", "customer_id"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "customer_id": {"type": "integer", "x-tdm": {"ref": "customers.id"}},
        },
    }
    return make_project(
        root,
        {"customers": customer, "accounts": account, "orders": order},
        {
            "t": {
                "seed": 3,
                "datasets": {
                    "customers": {"schema": "customers", "count": customers},
                    "accounts": {"schema": "accounts", "count": 150},
                    "orders": {"schema": "orders", "count": 2000},
                },
            }
        },
    )


def set_count(root: Path, name: str, count: int) -> None:
    path = root / "templates" / "t.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["datasets"][name]["count"] = count
    write_file(path, data)


def test_self_reference_points_only_to_earlier_rows(tmp_path: Path) -> None:
    root = shop(tmp_path / "r", 300)
    assert tdm("generate", "--repo", root).exit_code == 0
    rows = read_rows(dataset(root, "t", "customers"))
    position = {row["id"]: i for i, row in enumerate(rows)}
    assert rows[0].get("referrer_id") is None
    pointing = [(i, row["referrer_id"]) for i, row in enumerate(rows) if row.get("referrer_id")]
    assert len(pointing) > 50
    assert all(position[ref] < i for i, ref in pointing)  # acyclic by construction


def test_raising_a_self_referencing_count_only_appends(tmp_path: Path) -> None:
    root = shop(tmp_path / "r", 200)
    assert tdm("generate", "--repo", root).exit_code == 0
    before = dataset(root, "t", "customers").read_bytes()
    set_count(root, "customers", 207)
    result = tdm("generate", "--repo", root)
    assert result.exit_code == 0, result.output
    after = dataset(root, "t", "customers").read_bytes()
    assert after.startswith(before)
    assert after.count(b"\n") == 207


def test_raising_a_parent_count_moves_few_references_and_only_to_new_rows(
    tmp_path: Path,
) -> None:
    root = shop(tmp_path / "r", 1000)
    assert tdm("generate", "--repo", root).exit_code == 0
    orders = read_rows(dataset(root, "t", "orders"))
    accounts = read_rows(dataset(root, "t", "accounts"))
    set_count(root, "customers", 1100)
    assert tdm("generate", "--repo", root).exit_code == 0
    orders2 = read_rows(dataset(root, "t", "orders"))
    accounts2 = read_rows(dataset(root, "t", "accounts"))
    for old, new, trials in ((orders, orders2, 2000), (accounts, accounts2, 150)):
        moved = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
        assert all(a["id"] == b["id"] for a, b in moved)  # only the reference changed
        assert all(b["customer_id"] > 1000 for _, b in moved)  # ids 1001..1100 are new
        assert binomial_ok(len(moved), trials, 100 / 1100)
    assert len({a["customer_id"] for a in accounts2}) == 150  # still one-to-one


def test_a_self_reference_that_cannot_be_null_is_refused(tmp_path: Path) -> None:
    root = shop(tmp_path / "r", 10, referrer_type="integer")
    before = sorted(p.name for p in (root / "datasets").rglob("*"))
    result = tdm("generate", "--repo", root)
    assert result.exit_code == 2
    assert "referrer_id" in result.output
    assert "first row has none" in result.output
    assert "schemas/customers.yaml" in result.output
    assert sorted(p.name for p in (root / "datasets").rglob("*")) == before
