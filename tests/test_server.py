"""``tdm serve``, read side: httpx's AsyncClient over the ASGI app, on real repositories."""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from helpers import git, tdm
from serverkit import auth, client_for

from tdm.server.settings import Settings

pytestmark = pytest.mark.anyio


def blob(repo: Path, rev: str, path: str) -> bytes:
    import subprocess

    return subprocess.run(
        ["git", "-C", str(repo), "show", f"{rev}:{path}"], capture_output=True, check=True
    ).stdout


# ------------------------------------------------------------------ auth


async def test_health_needs_no_token(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")

    assert r.status_code == 200
    assert r.json()["status"] == "ok"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer tdm_wrong", "Basic abc", "Bearer x"])
async def test_no_or_unknown_token_is_401(client: httpx.AsyncClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}

    r = await client.get("/schemas", headers=headers)

    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "token" in r.json()["detail"]


async def test_read_scope_cannot_preview_masking(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    r = await client.post(
        "/masking/customers/preview", json={"records": [{"id": 1}]}, headers=auth(tokens["read"])
    )

    assert r.status_code == 403
    assert "scope" in r.json()["detail"]


async def test_environment_limited_token(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    dev = auth(tokens["dev-writer"])

    assert (await client.get("/schemas?environment=dev", headers=dev)).status_code == 200
    staging = await client.get("/schemas?environment=staging", headers=dev)
    assert staging.status_code == 403
    assert "dev" in staging.json()["detail"]
    # no environment named: HEAD is not one of its environments
    assert (await client.get("/schemas", headers=dev)).status_code == 403


async def test_environment_limited_token_reads_revisions_its_branches_hold(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    dev = auth(tokens["dev-writer"])
    git(repo, "tag", "v1")
    git(repo, "checkout", "-q", "env/staging")
    (repo / "schemas" / "extra.yaml").write_text("type: object\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "staging only")
    git(repo, "checkout", "-q", "main")

    assert (await client.get("/schemas?rev=v1", headers=dev)).status_code == 200
    assert (await client.get("/schemas?rev=env/staging", headers=dev)).status_code == 403
    assert (await client.get("/schemas?rev=env/staging", headers=auth(tokens["read"]))).json()[
        "names"
    ][1] == "customers"


# ------------------------------------------------------------------ schemas, templates, masking


async def test_schemas_list_and_read(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    h = auth(tokens["read"])
    head = git(repo, "rev-parse", "HEAD").stdout.strip()

    names = (await client.get("/schemas", headers=h)).json()
    one = (await client.get("/schemas/customers", headers=h)).json()

    assert names["commit"] == head
    assert names["names"] == sorted(p.stem for p in (repo / "schemas").glob("*.yaml"))
    assert one["path"] == "schemas/customers.yaml"
    assert one["document"]["x-tdm"]["primary_key"] == "id"


@pytest.mark.parametrize("kind,name", [("templates", "smoke"), ("masking", "customers")])
async def test_templates_and_masking_read(
    client: httpx.AsyncClient, tokens: dict[str, str], kind: str, name: str
) -> None:
    h = auth(tokens["read"])

    listed = (await client.get(f"/{kind}", headers=h)).json()["names"]
    one = await client.get(f"/{kind}/{name}", headers=h)

    assert name in listed
    assert one.status_code == 200
    assert one.json()["path"].startswith(f"{kind}/{name}.")


@pytest.mark.parametrize(
    "url",
    [
        "/schemas/nope",
        "/templates/nope",
        "/masking/nope",
        "/schemas?rev=no-such-rev",
        "/schemas?rev=--output=x",
        "/schemas?environment=nope",
        "/schemas?environment=prod-like",  # declared, but no branch yet
        "/datasets/smoke/nope",
        "/datasets/nope/customers?environment=dev",
    ],
)
async def test_unknown_things_are_404(
    client: httpx.AsyncClient, tokens: dict[str, str], url: str
) -> None:
    r = await client.get(url, headers=auth(tokens["read"]))

    assert r.status_code == 404, r.text
    assert r.json()["detail"]


@pytest.mark.parametrize(
    "url", ["/schemas/..", "/schemas/a%2Fb", "/datasets/smoke/customers?limit=0", "/schemas/.x"]
)
async def test_malformed_requests_are_422_with_findings(
    client: httpx.AsyncClient, tokens: dict[str, str], url: str
) -> None:
    r = await client.get(url, headers=auth(tokens["read"]))

    assert r.status_code in (404, 422), r.text
    body = r.json()
    assert isinstance(body["detail"], str)
    if r.status_code == 422:
        assert body["findings"] and body["findings"][0]["msg"]


async def test_rev_and_environment_together_is_400(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    r = await client.get("/schemas?rev=HEAD&environment=dev", headers=auth(tokens["read"]))

    assert r.status_code == 400
    assert "either" in r.json()["detail"]


# ------------------------------------------------------------------ datasets


async def test_dataset_list_matches_the_lock(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    lock = orjson.loads(blob(repo, "env/dev", "tdm.lock"))["datasets"]

    r = await client.get("/datasets?environment=dev", headers=auth(tokens["read"]))

    listed = {d["dataset"]: d for d in r.json()["datasets"]}
    assert set(listed) == set(lock)
    assert all(listed[k]["sha256"] == lock[k]["sha256"] for k in lock)
    assert listed["smoke/orders"]["schema"] == "orders"


async def test_records_are_paged_in_file_order(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    lines = blob(repo, "HEAD", "datasets/smoke/customers.jsonl").splitlines()
    h = auth(tokens["read"])

    first = (await client.get("/datasets/smoke/customers?limit=7", headers=h)).json()
    second = (
        await client.get(
            f"/datasets/smoke/customers?limit=7&offset={first['next_offset']}", headers=h
        )
    ).json()
    last = (
        await client.get(f"/datasets/smoke/customers?offset={len(lines) - 2}", headers=h)
    ).json()
    past = (await client.get("/datasets/smoke/customers?offset=100000", headers=h)).json()

    assert first["total"] == len(lines)
    assert first["records"] == [orjson.loads(x) for x in lines[:7]]
    assert second["records"] == [orjson.loads(x) for x in lines[7:14]]
    assert last["records"] == [orjson.loads(x) for x in lines[-2:]]
    assert last["next_offset"] is None
    assert past["records"] == [] and past["next_offset"] is None


async def test_records_stream_as_json_lines(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    data = blob(repo, "env/dev", "datasets/smoke/orders.jsonl")
    h = {**auth(tokens["read"]), "Accept": "application/x-ndjson"}

    whole = await client.get("/datasets/smoke/orders?environment=dev", headers=h)
    part = await client.get("/datasets/smoke/orders?environment=dev&offset=5&limit=3", headers=h)

    assert whole.headers["content-type"] == "application/x-ndjson"
    assert whole.content == data
    assert part.content.splitlines() == data.splitlines()[5:8]


async def test_records_of_a_version(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    before = blob(repo, "HEAD", "datasets/smoke/products.jsonl")
    git(repo, "tag", "-a", "v1", "-m", "first")
    path = repo / "datasets" / "smoke" / "products.jsonl"
    path.write_bytes(b"\n".join(before.splitlines()[:3]) + b"\n")
    git(repo, "commit", "-q", "-am", "fewer products")
    h = {**auth(tokens["read"]), "Accept": "application/x-ndjson"}

    old = await client.get("/datasets/smoke/products?rev=v1", headers=h)
    new = await client.get("/datasets/smoke/products", headers=h)

    assert old.content == before
    assert len(new.content.splitlines()) == 3


async def test_a_dataset_that_is_not_json_lines_is_an_error_naming_the_line(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    path = repo / "datasets" / "smoke" / "products.jsonl"
    path.write_bytes(path.read_bytes() + b"{oops\n")
    git(repo, "commit", "-q", "-am", "broken")

    r = await client.get("/datasets/smoke/products?limit=1000", headers=auth(tokens["read"]))

    assert r.status_code == 400
    assert "line" in r.json()["detail"] and str(repo) not in r.text


# ------------------------------------------------------------------ versions, environments, diff


async def test_versions_and_environments(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    assert tdm("tag", "v1.0", "-m", "first", "-C", repo).exit_code == 0
    h = auth(tokens["read"])

    versions = (await client.get("/versions", headers=h)).json()
    envs = {e["name"]: e for e in (await client.get("/environments", headers=h)).json()}

    assert [v["version"] for v in versions] == ["v1.0"]
    assert {d["dataset"] for d in versions[0]["datasets"]} >= {"smoke/customers"}
    assert envs["dev"]["exists"] and not envs["prod-like"]["exists"]
    assert envs["staging"]["protected"]


async def test_diff_is_the_json_of_tdm_diff(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    schema = repo / "schemas" / "products.yaml"
    schema.write_text(schema.read_text().replace("in_stock, created_on]", "in_stock]"), "utf-8")
    git(repo, "commit", "-q", "-am", "products: name required")
    expected = orjson.loads(tdm("diff", "env/dev", "HEAD", "--format", "json", "-C", repo).output)

    r = await client.get("/diff?base=env/dev&head=HEAD", headers=auth(tokens["read"]))

    body = r.json()
    assert r.status_code == 200
    assert body["summary"] == expected["summary"]
    assert body["summary"]["schemas_changed"] == 1
    assert body["schemas"] == expected["schemas"]
    assert body["base"]["revision"] == "env/dev"
    missing = await client.get("/diff?base=nope", headers=auth(tokens["read"]))
    assert missing.status_code == 404


# ------------------------------------------------------------------ validate


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
async def test_validate_a_commit(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str]
) -> None:
    h = auth(tokens["read"])
    good = await client.post("/validate", json={"environment": "dev"}, headers=h)
    path = repo / "datasets" / "smoke" / "customers.jsonl"
    rows = path.read_bytes().splitlines()
    rows[3] = rows[3].replace(b'"id":4', b'"id":"four"')
    path.write_bytes(b"\n".join(rows) + b"\n")
    git(repo, "commit", "-q", "-am", "a bad row")
    before = sorted(p.name for p in repo.iterdir())

    bad = await client.post("/validate", json={"rev": "HEAD"}, headers=h)

    assert good.status_code == 200 and good.json()["ok"] is True
    assert bad.status_code == 200 and bad.json()["ok"] is False
    finding = bad.json()["report"]["findings"][0]
    assert finding["path"] == "datasets/smoke/customers.jsonl" and finding["line"] == 4
    assert sorted(p.name for p in repo.iterdir()) == before
    assert not list((repo / ".git" / "tdm").glob("serve-*"))


# ------------------------------------------------------------------ masking preview


async def test_mask_preview_uses_the_servers_key_and_never_shows_it(
    client: httpx.AsyncClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "k3y-" + "s3cr3t" * 6
    monkeypatch.setenv("TDM_MASKING_KEY", key)
    record = {"id": 7, "email": "jane.doe@corp.example", "first_name": "Jane", "country": "DE"}
    h = auth(tokens["write"])

    one = await client.post("/masking/customers/preview", json={"records": [record]}, headers=h)
    two = await client.post("/masking/customers/preview", json={"records": [record]}, headers=h)

    assert one.status_code == 200, one.text
    masked = one.json()["records"][0]
    assert masked["email"] != record["email"]
    assert masked["id"] == 7
    assert one.json() == two.json()  # consistent: the same input and key, the same output
    assert key not in one.text and "s3cr3t" not in one.text


async def test_mask_preview_without_a_key_is_400(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    r = await client.post(
        "/masking/customers/preview", json={"records": [{"id": 1}]}, headers=auth(tokens["write"])
    )

    assert r.status_code == 400
    assert "TDM_MASKING_KEY" in r.json()["detail"]


async def test_mask_preview_limits(
    client: httpx.AsyncClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TDM_MASKING_KEY", "x" * 32)
    h = auth(tokens["write"])

    many = await client.post(
        "/masking/customers/preview", json={"records": [{"id": i} for i in range(101)]}, headers=h
    )
    empty = await client.post("/masking/customers/preview", json={"records": []}, headers=h)
    unknown = await client.post("/masking/nope/preview", json={"records": [{"id": 1}]}, headers=h)

    assert many.status_code == 413
    assert empty.status_code == 422
    assert unknown.status_code == 404


# ------------------------------------------------------------------ limits, errors, CORS


async def test_body_over_the_limit_is_413(
    repo: Path, tmp_path: Path, tokens: dict[str, str]
) -> None:
    settings = Settings(root=repo, tokens_file=tmp_path / "config" / "tokens", max_body_bytes=2048)
    big = {"records": [{"id": i, "note": "x" * 100} for i in range(50)]}
    async with client_for(settings) as client:
        declared = await client.post(
            "/masking/customers/preview", json=big, headers=auth(tokens["write"])
        )

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"x" * 1000

        streamed = await client.post("/validate", content=chunks(), headers=auth(tokens["read"]))

    assert declared.status_code == 413
    assert "limit" in declared.json()["detail"]
    assert streamed.status_code == 413


async def test_a_500_leaks_no_traceback_and_no_path(
    client: httpx.AsyncClient, repo: Path, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tdm.server.services import history

    def broken(project: Any) -> Any:
        raise RuntimeError(f"boom in {repo}/secret/place")

    monkeypatch.setattr(history, "list_versions", broken)

    r = await client.get("/versions", headers=auth(tokens["read"]))

    assert r.status_code == 500
    assert r.json() == {"detail": "internal server error; the server's log has the details"}
    assert "Traceback" not in r.text and str(repo) not in r.text


async def test_no_cors_by_default_and_configured_origins(
    client: httpx.AsyncClient, repo: Path, tmp_path: Path, tokens: dict[str, str]
) -> None:
    origin = {"Origin": "https://portal.example.com"}
    plain = await client.get("/health", headers=origin)
    settings = Settings(
        root=repo,
        tokens_file=tmp_path / "config" / "tokens",
        cors_origins=("https://portal.example.com",),
    )
    async with client_for(settings) as allowed:
        ok = await allowed.get("/health", headers=origin)
        other = await allowed.get("/health", headers={"Origin": "https://evil.example.net"})

    assert "access-control-allow-origin" not in plain.headers
    assert ok.headers["access-control-allow-origin"] == "https://portal.example.com"
    assert "access-control-allow-origin" not in other.headers


async def test_openapi_and_docs(client: httpx.AsyncClient) -> None:
    spec = await client.get("http://tdm.test/openapi.json")
    docs = await client.get("http://tdm.test/docs")

    assert spec.status_code == 200
    assert "/api/v1/datasets/{template}/{dataset}" in spec.json()["paths"]
    assert docs.status_code == 200


# ------------------------------------------------------------------ tokens on the command line


def test_token_create_prints_the_token_once_and_stores_its_hash(repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "tokens"

    result = tdm(
        "serve",
        "token",
        "create",
        "ci",
        "--scope",
        "write",
        "--env",
        "dev",
        "--tokens",
        path,
        "-C",
        repo,
    )

    assert result.exit_code == 0, result.output
    secret = result.output.splitlines()[-1]
    assert secret.startswith("tdm_") and len(secret) > 40
    assert result.output.count(secret) == 1
    stored = path.read_text()
    assert secret not in stored
    entry = orjson.loads(stored)["tokens"][0]
    assert (entry["name"], entry["scope"], entry["environments"]) == ("ci", "write", ["dev"])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_token_create_default_file_and_environment_variable(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tdm("serve", "token", "create", "a", "-C", repo)
    monkeypatch.setenv("TDM_TOKENS", str(tmp_path / "named"))
    second = tdm("serve", "token", "create", "b", "-C", repo)

    assert first.exit_code == 0 and second.exit_code == 0
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "tdm" / "tokens"
    assert [t["name"] for t in orjson.loads(config.read_text())["tokens"]] == ["a"]
    assert [t["name"] for t in orjson.loads((tmp_path / "named").read_text())["tokens"]] == ["b"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--tokens", "INSIDE"], "inside the repository"),
        (["--env", "nope"], "no environment nope"),
        (["--scope", "root"], "root"),
    ],
)
def test_token_create_refuses(repo: Path, tmp_path: Path, args: list[str], message: str) -> None:
    args = [str(repo / "tokens") if a == "INSIDE" else a for a in args]
    if "--tokens" not in args:
        args += ["--tokens", str(tmp_path / "t")]

    result = tdm("serve", "token", "create", "x", *args, "-C", repo)

    assert result.exit_code == 2
    assert message in result.output
    assert not (repo / "tokens").exists()


def test_token_names_are_unique(repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "t"
    assert tdm("serve", "token", "create", "x", "--tokens", path, "-C", repo).exit_code == 0

    again = tdm("serve", "token", "create", "x", "--tokens", path, "-C", repo)

    assert again.exit_code == 2
    assert "already exists" in again.output


async def test_an_unreadable_token_file_is_a_500_that_names_no_path(
    client: httpx.AsyncClient, settings: Settings, tokens: dict[str, str]
) -> None:
    settings.tokens_file.write_text("{not json")

    r = await client.get("/schemas", headers=auth(tokens["read"]))

    assert r.status_code == 500
    assert str(settings.tokens_file.parent) not in r.text
    assert "token file" in r.json()["detail"]


FAST_PATH_CASES = [
    ("/datasets/smoke/customers?limit=3&offset=5", None),
    ("/datasets/smoke/customers", None),
    ("/datasets/smoke/customers?offset=198&environment=dev", None),
    ("/datasets/smoke/orders?rev=HEAD&offset=2&limit=2", "application/x-ndjson"),
    ("/datasets/smoke/orders", "application/x-ndjson"),
    ("/datasets/smoke/nope", None),
    ("/datasets/smoke/customers?rev=nope", None),
    ("/datasets/smoke/customers?environment=staging&rev=HEAD", None),
    ("/datasets/smoke/customers?limit=0", None),
    ("/datasets/smoke/customers?limit=x", None),
    ("/datasets/smoke/customers?offset=-1", None),
    ("/datasets/smoke/customers?limit=1&limit=2", None),
    ("/datasets/smoke/customers?unknown=1", None),
    ("/datasets/smoke/..", None),
    ("/datasets/smoke/a..b", None),
]


async def test_the_records_fast_path_answers_as_the_route_does(
    settings: Settings, tokens: dict[str, str]
) -> None:
    async with (
        client_for(settings) as fast,
        client_for(dataclasses.replace(settings, fast_path=False)) as routed,
    ):
        for url, accept in FAST_PATH_CASES:
            for token in ("read", "dev-writer", None, "tdm_unknown"):
                headers = auth(tokens.get(token, token)) if token else {}
                if accept:
                    headers["Accept"] = accept
                a = await fast.get(url, headers=headers)
                b = await routed.get(url, headers=headers)

                assert (a.status_code, a.headers.get("content-type"), a.content) == (
                    b.status_code,
                    b.headers.get("content-type"),
                    b.content,
                ), (url, token)
