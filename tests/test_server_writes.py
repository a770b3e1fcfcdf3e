"""``tdm serve``, write side: commits made in memory on environment branches, checked
with the git CLI; the working tree and the index are never touched."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from helpers import git, snapshot, write_file
from serverkit import auth, client_for

from tdm.server.services import writes
from tdm.server.services.repository import Repository
from tdm.server.settings import Settings

# each test builds commits in worker processes: marked slow (make test runs them, test-fast not)
pytestmark = [pytest.mark.anyio, pytest.mark.slow]

PERSON = {
    "type": "object",
    "x-tdm": {"primary_key": "id"},
    "required": ["id", "email"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "minimum": 1, "x-tdm": {"generator": "sequence"}},
        "email": {"type": "string", "format": "email", "x-tdm": {"unique": True}},
    },
}


def show(repo: Path, spec: str) -> bytes:
    return subprocess.run(
        ["git", "-C", str(repo), "show", spec], capture_output=True, check=True
    ).stdout


def rev(repo: Path, name: str) -> str:
    return git(repo, "rev-parse", name).stdout.strip()


class Untouched:
    """The working tree, the index (its entries: `git status` may refresh its stat data)
    and HEAD as they were."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.status = git(repo, "status", "--porcelain").stdout
        self.files = snapshot(repo)
        self.index = git(repo, "ls-files", "--stage").stdout
        self.head = git(repo, "symbolic-ref", "HEAD").stdout + rev(repo, "HEAD")

    def check(self) -> None:
        assert snapshot(self.repo) == self.files
        assert git(self.repo, "ls-files", "--stage").stdout == self.index
        assert git(self.repo, "symbolic-ref", "HEAD").stdout + rev(self.repo, "HEAD") == self.head
        assert git(self.repo, "status", "--porcelain").stdout == self.status


# ------------------------------------------------------------------ schemas, templates, masking


async def test_put_a_new_schema_commits_on_the_branch_only(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    before = Untouched(repo)
    dev = rev(repo, "env/dev")

    r = await client.put(
        "/schemas/people?environment=dev", json=PERSON, headers=auth(tokens["write"])
    )

    assert r.status_code == 201, r.text
    body = r.json()
    assert body["commit"] == rev(repo, "env/dev")
    assert (body["path"], body["branch"], body["author"]) == (
        "schemas/people.yaml",
        "env/dev",
        "writer",
    )
    assert yaml.safe_load(show(repo, "env/dev:schemas/people.yaml")) == PERSON
    assert git(repo, "log", "-1", "--format=%an|%P", "env/dev").stdout.strip() == f"writer|{dev}"
    assert rev(repo, "env/staging") == dev
    git(repo, "fsck", "--strict")
    before.check()


async def test_put_an_existing_schema_is_200_and_keeps_its_file(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    h = auth(tokens["write"])
    doc = (await client.get("/schemas/products?environment=dev", headers=h)).json()["document"]
    doc["description"] = "Changed through the API."

    r = await client.put("/schemas/products?environment=dev", json=doc, headers=h)

    assert r.status_code == 200, r.text
    assert r.json()["path"] == "schemas/products.yaml"
    assert yaml.safe_load(show(repo, "env/dev:schemas/products.yaml")) == doc


@pytest.mark.parametrize(
    "name,document,finding",
    [
        ("people", {"type": "bogus"}, "schemas/people.yaml"),
        ("products", {**PERSON}, "datasets/smoke/products.jsonl"),  # the data no longer fits
    ],
)
async def test_a_write_that_does_not_validate_is_400_and_commits_nothing(
    client: httpx.AsyncClient,
    repo: Path,
    tokens: dict[str, str],
    name: str,
    document: dict[str, Any],
    finding: str,
) -> None:
    dev = rev(repo, "env/dev")

    r = await client.put(
        f"/schemas/{name}?environment=dev", json=document, headers=auth(tokens["write"])
    )

    assert r.status_code == 400, r.text
    body = r.json()
    assert "nothing was committed" in body["detail"]
    assert any(f["path"] == finding for f in body["findings"])
    assert rev(repo, "env/dev") == dev


async def test_templates_and_masking_writes(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    h = auth(tokens["write"])
    template = {"seed": 5, "datasets": {"products": {"schema": "products", "count": 3}}}
    rules = {"schema": "customers", "rules": {"email": {"strategy": "redact"}}}

    t = await client.put("/templates/tiny?environment=dev", json=template, headers=h)
    m = await client.put("/masking/customers?environment=dev", json=rules, headers=h)
    d = await client.delete("/templates/tiny?environment=dev", headers=h)

    assert (t.status_code, m.status_code, d.status_code) == (201, 200, 200), (t.text, m.text)
    assert yaml.safe_load(show(repo, f"{t.json()['commit']}:templates/tiny.yaml")) == template
    assert yaml.safe_load(show(repo, "env/dev:masking/customers.yaml")) == rules
    assert "tiny.yaml" not in git(repo, "ls-tree", "--name-only", "env/dev:templates").stdout
    assert d.json()["deleted"] is True


async def test_deletes(client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]) -> None:
    h = auth(tokens["write"])
    dev = rev(repo, "env/dev")

    used = await client.delete("/schemas/customers?environment=dev", headers=h)
    unknown = await client.delete("/schemas/nope?environment=dev", headers=h)

    assert used.status_code == 400  # templates and datasets still follow it
    assert unknown.status_code == 404
    assert rev(repo, "env/dev") == dev


async def test_where_writes_may_go(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    no_env = await client.put("/schemas/people", json=PERSON, headers=auth(tokens["write"]))
    reader = await client.put(
        "/schemas/people?environment=dev", json=PERSON, headers=auth(tokens["read"])
    )
    limited = await client.put(
        "/schemas/people?environment=staging", json=PERSON, headers=auth(tokens["dev-writer"])
    )
    unknown = await client.put(
        "/schemas/people?environment=nope", json=PERSON, headers=auth(tokens["write"])
    )
    no_branch = await client.put(
        "/schemas/people?environment=prod-like", json=PERSON, headers=auth(tokens["write"])
    )
    git(repo, "checkout", "-q", "env/dev")
    checked_out = await client.put(
        "/schemas/people?environment=dev", json=PERSON, headers=auth(tokens["write"])
    )
    malformed = await client.put(
        "/schemas/people?environment=dev", content=b"[1, 2", headers=auth(tokens["write"])
    )

    assert no_env.status_code == 400 and "environment" in no_env.json()["detail"]
    assert reader.status_code == 403
    assert limited.status_code == 403
    assert unknown.status_code == 404
    assert no_branch.status_code == 404
    assert checked_out.status_code == 409 and "checked out" in checked_out.json()["detail"]
    assert malformed.status_code == 422 and malformed.json()["findings"]
    assert "people" not in git(repo, "ls-tree", "-r", "--name-only", "env/dev").stdout


async def test_the_servers_default_environment(
    repo: Path, tmp_path: Path, tokens: dict[str, str]
) -> None:
    settings = Settings(
        root=repo, tokens_file=tmp_path / "config" / "tokens", default_environment="staging"
    )
    async with client_for(settings) as client:
        put = await client.put("/schemas/people", json=PERSON, headers=auth(tokens["write"]))
        names = (await client.get("/schemas", headers=auth(tokens["read"]))).json()

    assert put.status_code == 201 and put.json()["branch"] == "env/staging"
    assert "people" in names["names"] and names["revision"] == "staging"


# ------------------------------------------------------------------ races


def test_a_lost_race_is_retried_on_the_new_tip_or_409_when_it_conflicts(
    repo: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    git(repo, "worktree", "add", "-q", str(other), "env/dev")
    service = Repository(Settings(root=repo, tokens_file=tmp_path / "t"))

    def racing(path: str, title: str) -> Any:
        calls: list[int] = []

        def prepare(view: Any) -> dict[str, bytes | None]:
            if not calls:  # another writer commits between our read and our swap
                git(other, "reset", "-q", "--hard")  # its checkout follows the branch
                write_file(other / path, {**PERSON, "title": "theirs"})
                git(other, "add", "-A")
                git(other, "commit", "-q", "-m", "someone else")
            calls.append(1)
            return {"schemas/mine.yaml": yaml.safe_dump({**PERSON, "title": title}).encode()}

        return prepare, calls

    prepare, calls = racing("schemas/theirs.yaml", "mine")
    done = writes.commit_on(
        service, "dev", "env/dev", "me", "mine", prepare, lambda v: {"schemas/mine.yaml"}
    )
    files = git(repo, "ls-tree", "--name-only", "env/dev:schemas").stdout.split()

    assert len(calls) == 2  # lost once, then built again on the new tip
    assert {"mine.yaml", "theirs.yaml"} <= set(files)
    assert git(repo, "log", "-1", "--format=%s", "env/dev").stdout.strip() == "mine"
    assert done.commit == rev(repo, "env/dev")

    prepare, calls = racing("schemas/mine.yaml", "mine, again")
    tip_before = rev(repo, "env/dev")
    with pytest.raises(writes.Conflict, match=r"schemas/mine.yaml changed"):
        writes.commit_on(
            service, "dev", "env/dev", "me", "mine again", prepare, lambda v: {"schemas/mine.yaml"}
        )
    assert git(repo, "log", "-1", "--format=%s", "env/dev").stdout.strip() == "someone else"
    assert rev(repo, "env/dev~1") == tip_before


@pytest.mark.slow
async def test_twenty_concurrent_writers_all_land(tmp_path: Path, tokens: dict[str, str]) -> None:
    repo = tmp_path / "small"
    from helpers import make_project

    make_project(repo, {"people": PERSON}, {})
    write_file(
        repo / "tdm.yaml",
        "name: small\nenvironments:\n  dev: {branch: env/dev}\n",
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "small")
    git(repo, "branch", "env/dev")
    start = rev(repo, "env/dev")
    before = Untouched(repo)
    settings = Settings(root=repo, tokens_file=tmp_path / "config" / "tokens")

    # two apps (two servers' worth of writers, each with its own lock) race for one branch
    async with client_for(settings) as one, client_for(settings) as two:
        replies = await asyncio.gather(
            *(
                (one if i % 2 else two).put(
                    f"/schemas/s{i:02d}?environment=dev",
                    json={**PERSON, "title": f"schema {i}"},
                    headers=auth(tokens["write"]),
                )
                for i in range(20)
            )
        )

    assert [r.status_code for r in replies] == [201] * 20, [r.text for r in replies]
    history = git(repo, "rev-list", f"{start}..env/dev").stdout.split()
    assert len(history) == 20
    assert sorted(r.json()["commit"] for r in replies) == sorted(history)
    names = git(repo, "ls-tree", "--name-only", "env/dev:schemas").stdout.split()
    assert {f"s{i:02d}.yaml" for i in range(20)} <= set(names)
    for i in range(20):
        assert (
            yaml.safe_load(show(repo, f"env/dev:schemas/s{i:02d}.yaml"))["title"] == f"schema {i}"
        )
    git(repo, "fsck", "--strict")
    before.check()


# ------------------------------------------------------------------ datasets


async def test_post_datasets_generates_validates_and_commits(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    before = Untouched(repo)
    request = {
        "name": "shoppers",
        "schema": "customers",
        "template": "perf",
        "environment": "dev",
        "record_count": 250,
        "seed": 11,
    }

    r = await client.post("/datasets", json=request, headers=auth(tokens["write"]))
    again = await client.post("/datasets", json=request, headers=auth(tokens["write"]))

    assert r.status_code == 201, r.text
    s = r.json()
    data = show(repo, "env/dev:datasets/perf/shoppers.jsonl")
    assert s["rows"] == 250 == len(data.splitlines())
    assert s["sha256"] == hashlib.sha256(data).hexdigest()
    assert s["created_by"] == "writer" and s["created_at"].endswith("Z")
    assert (s["dataset"], s["branch"]) == ("perf/shoppers", "env/dev")
    assert s["id"] == again.json()["id"]  # derived from the path: stable
    assert again.json()["commit"] == s["commit"]  # the same request again: no empty commit
    lock = orjson.loads(show(repo, f"{s['commit']}:tdm.lock"))["datasets"]
    assert lock["perf/shoppers"]["sha256"] == s["sha256"] and "smoke/customers" in lock
    template = yaml.safe_load(show(repo, "env/dev:templates/perf.yaml"))
    assert template["seed"] == 11
    assert template["datasets"]["shoppers"] == {"schema": "customers", "count": 250}
    assert git(repo, "log", "-1", "--format=%an", s["commit"]).stdout.strip() == "writer"
    before.check()
    # the recipe is in the repository: `tdm generate` on a checkout gives the same bytes
    clone = repo.parent / "check"
    git(repo, "worktree", "add", "-q", str(clone), "env/dev")
    from helpers import tdm

    assert tdm("generate", "perf", "--check", "-C", clone).exit_code == 0


@pytest.mark.parametrize(
    "change,code",
    [
        ({"record_count": 1_000_001}, 413),
        ({"record_count": 0}, 422),
        ({"schema": "nope"}, 404),
        ({"name": "../x"}, 422),
        ({"environment": "staging"}, 403),
        ({"unknown": 1}, 422),
    ],
)
async def test_post_datasets_errors(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str], change: dict[str, Any], code: int
) -> None:
    request = {"name": "x", "schema": "customers", "environment": "dev", "record_count": 5}
    dev = rev(repo, "env/dev")

    r = await client.post(
        "/datasets", json={**request, **change}, headers=auth(tokens["dev-writer"])
    )

    assert r.status_code == code, r.text
    assert r.json()["detail"]
    assert rev(repo, "env/dev") == dev


@pytest.mark.slow
async def test_readers_are_not_blocked_by_a_generation(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    request = {"name": "big", "schema": "products", "environment": "dev", "record_count": 200_000}
    generating = asyncio.create_task(
        client.post("/datasets", json=request, headers=auth(tokens["write"]))
    )
    await asyncio.sleep(0)
    reads = [
        await client.get(
            "/datasets/smoke/customers?environment=dev&limit=50", headers=auth(tokens["read"])
        )
        for _ in range(20)
    ]

    assert all(r.status_code == 200 for r in reads)
    assert not generating.done()  # every read was answered while the generation ran
    assert (await generating).status_code == 201


# ------------------------------------------------------------------ versions and promotion


async def test_post_versions_tags_the_environments_tip(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    await client.put("/schemas/people?environment=dev", json=PERSON, headers=auth(tokens["write"]))
    request = {"version": "v1.2", "message": "for the perf run", "environment": "dev"}

    writer = await client.post("/versions", json=request, headers=auth(tokens["write"]))
    made = await client.post("/versions", json=request, headers=auth(tokens["admin"]))
    again = await client.post("/versions", json=request, headers=auth(tokens["admin"]))
    bad = await client.post("/versions", json={"version": "1.2"}, headers=auth(tokens["admin"]))

    assert writer.status_code == 403
    assert made.status_code == 201, made.text
    assert made.json()["commit"] == rev(repo, "env/dev") == rev(repo, "v1.2^{commit}")
    assert git(repo, "cat-file", "-t", "v1.2").stdout.strip() == "tag"
    assert "for the perf run" in git(repo, "tag", "-l", "-n1", "v1.2").stdout
    assert again.status_code == 409
    assert bad.status_code == 422
    listed = (await client.get("/versions", headers=auth(tokens["read"]))).json()
    assert listed[0]["version"] == "v1.2" and listed[0]["datasets"]


async def test_promote_with_the_clis_gates(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    h = auth(tokens["admin"])
    await client.put("/schemas/people?environment=dev", json=PERSON, headers=auth(tokens["write"]))

    dry = await client.post(
        "/environments/staging/promote", json={"from": "dev", "dry_run": True}, headers=h
    )
    assert rev(repo, "env/staging") != rev(repo, "env/dev")
    done = await client.post("/environments/staging/promote", json={"from": "dev"}, headers=h)
    same = await client.post("/environments/staging/promote", json={"from": "dev"}, headers=h)

    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert done.status_code == 200, done.text
    assert done.json()["kind"] == "fast-forward"
    assert rev(repo, "env/staging") == rev(repo, "env/dev") == done.json()["commit"]
    assert same.json()["kind"] == "up to date"

    # a breaking schema change into the protected staging is refused, nothing moves
    doc = yaml.safe_load(show(repo, "env/dev:schemas/people.yaml"))
    doc["properties"]["email"] = {"type": "integer"}
    doc["properties"]["email"]["x-tdm"] = {"generator": "sequence"}
    put = await client.put(
        "/schemas/people?environment=dev", json=doc, headers=auth(tokens["write"])
    )
    assert put.status_code == 200, put.text
    staging = rev(repo, "env/staging")
    refused = await client.post("/environments/staging/promote", json={"from": "dev"}, headers=h)
    allowed = await client.post(
        "/environments/staging/promote", json={"from": "dev", "allow_breaking": True}, headers=h
    )

    assert refused.status_code == 409 and "breaking" in refused.json()["detail"]
    assert allowed.status_code == 200 and allowed.json()["breaking"]
    assert rev(repo, "env/staging") != staging


async def test_promote_errors(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    h = auth(tokens["admin"])

    unknown = await client.post("/environments/nope/promote", json={"from": "dev"}, headers=h)
    no_branch = await client.post(
        "/environments/prod-like/promote", json={"from": "dev"}, headers=h
    )
    writer = await client.post(
        "/environments/staging/promote", json={"from": "dev"}, headers=auth(tokens["write"])
    )
    git(repo, "checkout", "-q", "env/staging")
    checked_out = await client.post(
        "/environments/staging/promote", json={"from": "dev"}, headers=h
    )

    assert unknown.status_code == 404
    assert no_branch.status_code == 404
    assert writer.status_code == 403
    assert checked_out.status_code == 409 and "checked out" in checked_out.json()["detail"]
