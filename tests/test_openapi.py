"""`tdm import openapi` on public OpenAPI documents (tests/fixtures/openapi) and on
every way a document or a repository can make it refuse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
import yaml
from helpers import (
    dataset,
    init_repo,
    invalid_rows,
    read_rows,
    sha256_file,
    snapshot,
    tdm,
    tmp_leftovers,
    write_file,
)

from tdm import recipes
from tdm._version import __version__
from tdm.project import Project

FIXTURES = Path(__file__).parent / "fixtures" / "openapi"
PETSTORE = FIXTURES / "petstore.yaml"
EXPANDED = FIXTURES / "petstore-expanded.yaml"
WEBHOOK_31 = FIXTURES / "webhook-example.yaml"
SWAGGER_V3 = FIXTURES / "swagger-petstore-v3.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return init_repo(tmp_path / "repo")


def schema_file(root: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "schemas" / f"{name}.json").read_text("utf-8"))
    return data


def schema_files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "schemas").iterdir() if p.name != ".gitkeep")


def registry_of(root: Path) -> referencing.Registry[Any]:
    """The repository's schema files, each under the URI its relative $ref resolves to."""
    resources = [
        (
            f"https://tdm.invalid/schemas/{p.name}",
            referencing.Resource.from_contents(json.loads(p.read_text())),
        )
        for p in (root / "schemas").glob("*.json")
    ]
    return referencing.Registry().with_resources(resources)


def validates(root: Path, name: str, instance: Any) -> bool:
    """Independent check: jsonschema, with relative references resolved to the files."""
    schema = {**schema_file(root, name), "$id": f"https://tdm.invalid/schemas/{name}.json"}
    validator = jsonschema.Draft202012Validator(schema, registry=registry_of(root))
    return validator.is_valid(instance)


def spec_text(path: Path, **changes: Any) -> str:
    data = yaml.safe_load(path.read_text("utf-8"))
    data.update(changes)
    return yaml.safe_dump(data, sort_keys=False)


def refused(result: Any, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    for needle in needles:
        assert needle in result.output, result.output


# ------------------------------------------------------------------ public documents


def test_petstore_30_gives_one_file_per_component(repo: Path) -> None:
    result = tdm("import", "openapi", PETSTORE, "--repo", repo)

    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (repo / "schemas").glob("*.json")) == [
        "Error.json",
        "Pet.json",
        "Pets.json",
    ]
    pet = schema_file(repo, "Pet")
    assert pet["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert pet["x-tdm"] == {"primary_key": "id"}
    assert "format" not in pet["properties"]["id"]  # int64 became its bounds
    assert pet["properties"]["id"]["maximum"] == 2**63 - 1
    assert schema_file(repo, "Pets")["items"] == {"$ref": "Pet.json"}
    assert schema_file(repo, "Error")["properties"]["code"]["minimum"] == -(2**31)
    for name in ("Pet", "Pets", "Error"):
        jsonschema.Draft202012Validator.check_schema(schema_file(repo, name))
    assert "primary key: id" in result.output
    assert tmp_leftovers(repo) == []


def test_imported_schemas_load_validate_and_generate(repo: Path) -> None:
    assert tdm("import", "openapi", PETSTORE, "--repo", repo).exit_code == 0
    project = Project.find(repo)
    for name in ("Pet", "Pets", "Error"):
        project.schema(name)  # tdm's schema loading: meta-schema and x-tdm checks
    write_file(
        repo / "templates" / "pets.yaml",
        {
            "seed": 5,
            "datasets": {
                "pets": {"schema": "Pet", "count": 300},
                "errors": {"schema": "Error", "count": 50},
            },
        },
    )

    result = tdm("generate", "--repo", repo)

    assert result.exit_code == 0, result.output
    pets = read_rows(dataset(repo, "pets", "pets"))
    assert len(pets) == 300 and len({p["id"] for p in pets}) == 300
    assert invalid_rows(schema_file(repo, "Pet"), pets) == []
    assert (
        invalid_rows(schema_file(repo, "Error"), read_rows(dataset(repo, "pets", "errors"))) == []
    )
    assert validates(repo, "Pets", pets[:100])  # the array schema's $ref reaches Pet.json
    assert not validates(repo, "Pets", [{"name": "no id"}])
    assert tdm("validate", "--repo", repo).exit_code == 0


def test_petstore_expanded_refs_point_to_the_written_files(repo: Path) -> None:
    result = tdm("import", "openapi", EXPANDED, "--repo", repo)

    assert result.exit_code == 0, result.output
    pet = schema_file(repo, "Pet")
    assert pet["allOf"][0] == {"$ref": "NewPet.json"}
    assert "x-tdm" not in pet  # its id is inside allOf, not a top-level property
    assert validates(repo, "Pet", {"id": 1, "name": "Rex"})
    assert not validates(repo, "Pet", {"id": 1})  # NewPet.json requires name
    for name in ("Pet", "NewPet", "Error"):
        Project.find(repo).schema(name)


def test_petstore_31_webhook_example(repo: Path) -> None:
    result = tdm("import", "openapi", WEBHOOK_31, "--repo", repo)

    assert result.exit_code == 0, result.output
    pet = schema_file(repo, "Pet")
    assert pet["x-tdm"] == {"primary_key": "id"}
    assert schema_file(repo, "Pets")["items"] == {"$ref": "Pet.json"}
    write_file(
        repo / "templates" / "t.yaml", {"datasets": {"pets": {"schema": "Pet", "count": 40}}}
    )
    assert tdm("generate", "--repo", repo).exit_code == 0
    assert invalid_rows(pet, read_rows(dataset(repo, "t", "pets"))) == []


def test_swagger_petstore_suggestions_notes_and_openapi_keywords(repo: Path) -> None:
    result = tdm("import", "openapi", SWAGGER_V3, "--repo", repo, "--json")

    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["openapi"] == "3.0.2"
    assert [s["component"] for s in out["schemas"]] == [
        "Order", "Customer", "Address", "Category", "User", "Tag", "Pet", "ApiResponse",
    ]  # fmt: skip
    assert out["suggestions"] == [
        {
            "schema": "Order",
            "property": "petId",
            "target": "Pet.id",
            "note": "Pet has no primary key yet: make its 'id' required first",
        }
    ]
    assert any(n.startswith("Pet: 'id' is optional") for n in out["notes"])
    order = schema_file(repo, "Order")
    assert "x-tdm" not in order
    assert order["x-openapi"] == {"xml": {"name": "order"}}
    assert order["properties"]["status"]["examples"] == ["approved"]
    assert "example" not in order["properties"]["status"]
    pet = schema_file(repo, "Pet")
    assert pet["properties"]["category"] == {"$ref": "Category.json"}
    assert pet["properties"]["tags"]["items"]["$ref"] == "Tag.json"
    assert validates(repo, "Pet", {"name": "a", "photoUrls": [], "category": {"id": 1}})
    assert not validates(repo, "Pet", {"name": "a", "photoUrls": [], "category": {"id": "x"}})


def test_a_json_document_imports_the_same(repo: Path, tmp_path: Path) -> None:
    spec = tmp_path / "petstore.json"
    spec.write_text(json.dumps(yaml.safe_load(PETSTORE.read_text("utf-8"))), "utf-8")
    other = init_repo(tmp_path / "other")

    assert tdm("import", "openapi", spec, "--repo", repo).exit_code == 0
    assert tdm("import", "openapi", PETSTORE, "--repo", other).exit_code == 0
    for name in ("Pet", "Pets", "Error"):
        assert (repo / "schemas" / f"{name}.json").read_bytes() == (
            other / "schemas" / f"{name}.json"
        ).read_bytes()


def test_only_imports_the_named_and_what_they_reference(repo: Path) -> None:
    result = tdm("import", "openapi", PETSTORE, "--only", "Pets", "--repo", repo)

    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (repo / "schemas").glob("*.json")) == ["Pet.json", "Pets.json"]
    assert "referenced" in result.output

    # Pet is already there: importing Pets again only needs --force for Pets itself
    again = tdm("import", "openapi", PETSTORE, "--only", "Pets", "--force", "--repo", repo)
    assert again.exit_code == 0, again.output
    assert "overwritten" in again.output


def test_only_names_an_unknown_component(repo: Path) -> None:
    refused(
        tdm("import", "openapi", PETSTORE, "--only", "Dog", "--repo", repo),
        "--only Dog",
        "Pet, Pets, Error",
    )
    assert list((repo / "schemas").glob("*.json")) == []


# ------------------------------------------------------------------ conversions


NULLABLE_30 = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {},
    "components": {
        "schemas": {
            "Owner": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "string", "format": "uuid"}},
            },
            "Thing": {
                "type": "object",
                "required": ["id", "size"],
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "owner_id": {"type": "string", "nullable": True},
                    "colour": {"type": "string", "enum": ["red", "blue"], "nullable": True},
                    "size": {
                        "type": "number",
                        "minimum": 0,
                        "exclusiveMinimum": True,
                        "maximum": 10,
                        "exclusiveMaximum": False,
                    },
                    "owner": {"nullable": True, "allOf": [{"$ref": "#/components/schemas/Owner"}]},
                    "alias": {"$ref": "#/components/schemas/Owner", "nullable": True},
                    "tags": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "nullable": True,
                            "properties": {
                                "label": {"type": "string", "nullable": True, "example": "x"}
                            },
                        },
                    },
                    "owner_key": {"$ref": "#/components/schemas/Owner/properties/id"},
                    "blob": {"type": "string", "format": "byte"},
                    "ratio": {"type": "number", "format": "float"},
                },
            },
        }
    },
}


def test_openapi_30_conversions(repo: Path, tmp_path: Path) -> None:
    spec = write_file(tmp_path / "api.yaml", NULLABLE_30)

    result = tdm("import", "openapi", spec, "--repo", repo)

    assert result.exit_code == 0, result.output
    props = schema_file(repo, "Thing")["properties"]
    assert props["owner_id"] == {"type": ["string", "null"]}
    assert props["colour"] == {"type": ["string", "null"], "enum": ["red", "blue", None]}
    assert props["size"] == {"type": "number", "exclusiveMinimum": 0, "maximum": 10}
    assert props["owner"] == {"anyOf": [{"allOf": [{"$ref": "Owner.json"}]}, {"type": "null"}]}
    assert props["alias"] == {"$ref": "Owner.json"}  # 3.0 ignores a $ref's siblings
    assert props["tags"]["items"]["type"] == ["object", "null"]
    assert props["tags"]["items"]["properties"]["label"] == {
        "type": ["string", "null"],
        "examples": ["x"],
    }
    assert props["owner_key"] == {"$ref": "Owner.json#/properties/id"}
    assert props["blob"] == {"type": "string", "contentEncoding": "base64"}
    assert props["ratio"]["maximum"] == pytest.approx(3.4028234663852886e38)
    assert "suggestion: Thing.owner_id: x-tdm: {ref: Owner.id}" in result.output
    assert validates(repo, "Thing", {"id": 1, "size": 5, "owner": None, "owner_key": "k"})
    assert not validates(repo, "Thing", {"id": 1, "size": 0})
    assert not validates(repo, "Thing", {"id": 1, "size": 1, "owner_key": 3})
    Project.find(repo).schema("Thing")


def test_openapi_31_schemas_are_kept_as_json_schema(repo: Path, tmp_path: Path) -> None:
    spec = write_file(
        tmp_path / "api.yaml",
        {
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "components": {
                "schemas": {
                    "Any": True,
                    "Node": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "note": {"type": ["string", "null"], "exclusiveMinimum": 3},
                            "nullable": {"type": "boolean"},
                            "parent": {"$ref": "#/components/schemas/Node", "description": "up"},
                        },
                        "required": ["id"],
                        "discriminator": {
                            "propertyName": "kind",
                            "mapping": {"n": "#/components/schemas/Node"},
                        },
                    },
                }
            },
        },
    )

    result = tdm("import", "openapi", spec, "--repo", repo)

    assert result.exit_code == 0, result.output
    node = schema_file(repo, "Node")
    assert node["properties"]["nullable"] == {"type": "boolean"}  # a property, not a keyword
    assert node["properties"]["note"]["exclusiveMinimum"] == 3
    assert node["properties"]["parent"] == {"$ref": "Node.json", "description": "up"}
    assert node["x-openapi"]["discriminator"]["mapping"] == {"n": "Node.json"}
    assert node["x-tdm"] == {"primary_key": "id"}
    assert schema_file(repo, "Any") == {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Any",
    }


# ------------------------------------------------------------------ refusals


def test_missing_file(repo: Path, tmp_path: Path) -> None:
    refused(
        tdm("import", "openapi", tmp_path / "nope.yaml", "--repo", repo), "nope.yaml", "not found"
    )


def test_malformed_yaml_names_the_line(repo: Path, tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("openapi: 3.0.0\ncomponents:\n  schemas: [unclosed\n", "utf-8")
    refused(tdm("import", "openapi", spec, "--repo", repo), "bad.yaml:", "malformed YAML")


def test_malformed_json(repo: Path, tmp_path: Path) -> None:
    spec = tmp_path / "bad.json"
    spec.write_text('{"openapi": "3.1.0",', "utf-8")
    refused(tdm("import", "openapi", spec, "--repo", repo), "bad.json", "malformed JSON")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("- a list\n", "not an OpenAPI document"),
        ("info: {title: x}\n", "no 'openapi' version field"),
        ("swagger: '2.0'\ninfo: {title: x}\n", "Swagger 2.0"),
        ("openapi: 2.0.0\n", "'2.0.0' is not supported"),
        ("openapi: 3.2.0\n", "'3.2.0' is not supported"),
        ("openapi: 3.0\n", "3.0 is not supported"),
        ("openapi: 3.1.0\ninfo: {title: x}\n", "no components.schemas"),
        ("openapi: 3.1.0\ncomponents: {schemas: [a]}\n", "must be a mapping"),
        ("openapi: 3.0.0\ncomponents: {schemas: {A: 5}}\n", "'A' is not a Schema Object"),
    ],
)
def test_not_an_openapi_document(repo: Path, tmp_path: Path, text: str, needle: str) -> None:
    spec = tmp_path / "api.yaml"
    spec.write_text(text, "utf-8")
    refused(tdm("import", "openapi", spec, "--repo", repo), needle)
    assert schema_files(repo) == []


@pytest.mark.parametrize("name", ["_Private", "a..b", "-x", "with space", "a/b"])
def test_a_component_name_tdm_cannot_use_is_refused(repo: Path, tmp_path: Path, name: str) -> None:
    data = yaml.safe_load(PETSTORE.read_text("utf-8"))
    data["components"]["schemas"][name] = {"type": "object"}
    spec = write_file(tmp_path / "api.yaml", data)

    refused(tdm("import", "openapi", spec, "--repo", repo), repr(name), "--only")
    assert schema_files(repo) == []
    # leaving it out with --only imports the rest
    assert tdm("import", "openapi", spec, "--only", "Pet", "--repo", repo).exit_code == 0


def test_names_differing_only_in_case_are_refused(repo: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(PETSTORE.read_text("utf-8"))
    data["components"]["schemas"]["pet"] = {"type": "object"}
    spec = write_file(tmp_path / "api.yaml", data)
    refused(tdm("import", "openapi", spec, "--repo", repo), "differ only in case")
    assert schema_files(repo) == []


@pytest.mark.parametrize(
    ("ref", "needle"),
    [
        ("#/components/schemas/Dog", "which the document lacks"),
        ("#/components/parameters/limit", "does not point to '#/components/schemas/...'"),
        ("other.yaml#/Pet", "does not point to '#/components/schemas/...'"),
        ("https://example.com/pet.json", "does not point"),
    ],
)
def test_references_it_cannot_rewrite(repo: Path, tmp_path: Path, ref: str, needle: str) -> None:
    data = yaml.safe_load(PETSTORE.read_text("utf-8"))
    data["components"]["schemas"]["Pet"]["properties"]["friend"] = {"$ref": ref}
    spec = write_file(tmp_path / "api.yaml", data)

    refused(
        tdm("import", "openapi", spec, "--repo", repo),
        "component schema 'Pet' at /properties/friend/$ref",
        needle,
    )
    assert schema_files(repo) == []


def test_a_schema_that_is_not_json_schema_is_refused(repo: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(PETSTORE.read_text("utf-8"))
    data["components"]["schemas"]["Error"]["properties"]["code"]["type"] = "int"
    spec = write_file(tmp_path / "api.yaml", data)
    refused(
        tdm("import", "openapi", spec, "--repo", repo),
        "component schema 'Error' is not a valid JSON Schema",
        "properties/code/type",
    )
    assert schema_files(repo) == []


def test_existing_files_are_kept_without_force(repo: Path) -> None:
    write_file(repo / "schemas" / "Pet.json", '{"title": "mine"}\n')
    before = snapshot(repo)

    refused(
        tdm("import", "openapi", PETSTORE, "--repo", repo),
        "schemas/Pet.json already exist",
        "--force",
        "nothing was written",
    )
    assert snapshot(repo) == before  # Pets.json and Error.json were not written either

    result = tdm("import", "openapi", PETSTORE, "--force", "--repo", repo)
    assert result.exit_code == 0, result.output
    assert schema_file(repo, "Pet")["title"] == "Pet"
    assert tmp_leftovers(repo) == []


def test_a_schema_of_the_same_name_in_yaml_is_never_shadowed(repo: Path) -> None:
    write_file(repo / "schemas" / "Pet.yaml", {"type": "object"})
    before = snapshot(repo)
    for extra in ((), ("--force",)):
        refused(
            tdm("import", "openapi", PETSTORE, *extra, "--repo", repo),
            "already defined by schemas/Pet.yaml",
        )
    assert snapshot(repo) == before


def test_outside_a_repository(tmp_path: Path) -> None:
    refused(tdm("import", "openapi", PETSTORE, "--repo", tmp_path), "not a tdm repository")


def test_import_help_has_an_example() -> None:
    result = tdm("import", "openapi", "--help")
    assert result.exit_code == 0
    assert "Example: tdm import openapi" in result.output


# ------------------------------------------------------------------ rows of schemas that $ref files


def pets_dataset(root: Path, rows: list[dict[str, Any]]) -> Path:
    """datasets/shop/pets.jsonl following schema Pet, recorded in tdm.lock (no template)."""
    path = root / "datasets" / "shop" / "pets.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in rows))
    entry = {
        "schema": "Pet",
        "template": "shop",
        "rows": len(rows),
        "sha256": sha256_file(path),
        "tdm_version": __version__,
    }
    (root / "tdm.lock").write_text(json.dumps({"version": 1, "datasets": {"shop/pets": entry}}))
    return path


def test_validate_resolves_references_to_other_schema_files(repo: Path) -> None:
    assert tdm("import", "openapi", EXPANDED, "--repo", repo).exit_code == 0
    pets_dataset(repo, [{"id": 1, "name": "Rex"}, {"id": 2, "name": "Tom", "tag": "cat"}])

    result = tdm("validate", "--repo", repo)
    assert result.exit_code == 0, result.output

    pets_dataset(repo, [{"id": 1, "name": "Rex"}, {"id": 2}])  # NewPet.json requires name
    result = tdm("validate", "--repo", repo)
    assert result.exit_code == 1, result.output
    assert "datasets/shop/pets.jsonl:2" in result.output
    assert "name" in result.output

    # the referenced file changes: the validation cache must not answer for it
    assert tdm("validate", "--repo", repo).exit_code == 1
    new_pet = schema_file(repo, "NewPet")
    new_pet["required"] = []
    (repo / "schemas" / "NewPet.json").write_text(json.dumps(new_pet))
    result = tdm("validate", "--repo", repo)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("ref", "needle"),
    [
        ("Missing.json", "Missing.json"),
        ("../tdm.yaml", "tdm.yaml"),
        ("https://example.com/pet.json", "example.com"),
    ],
)
def test_a_reference_to_no_schema_file_is_refused(repo: Path, ref: str, needle: str) -> None:
    write_file(
        repo / "schemas" / "Pet.json",
        json.dumps({"type": "object", "properties": {"friend": {"$ref": ref}}}),
    )
    pets_dataset(repo, [{"friend": 1}])
    refused(tdm("validate", "--repo", repo), "schemas/Pet.json", "cannot be resolved", needle)


def test_row_validator_with_and_without_the_repository(repo: Path) -> None:
    assert tdm("import", "openapi", EXPANDED, "--repo", repo).exit_code == 0
    project = Project.find(repo)
    pet = project.schema("Pet")

    validator = recipes.row_validator(pet, project.schema_externals(pet.data))

    assert validator.is_valid({"id": 1, "name": "Rex"})
    assert not validator.is_valid({"id": 1})
    assert pet.data["allOf"][0] == {"$ref": "NewPet.json"}  # references stay as written
    assert set(project.schema_externals(pet.data)) == {"NewPet.json"}
    assert project.schema_externals(project.schema("NewPet").data) == {}


# ------------------------------------------------------------------ the pydantic recipe


def test_the_readme_pydantic_recipe(repo: Path) -> None:
    # the README's scripts/dump_schemas.py, as the user runs it (tdm itself imports no model)
    from pydantic import BaseModel, Field

    class Address(BaseModel):
        street: str
        city: str

    class Customer(BaseModel):
        id: int = Field(ge=1)
        email: str = Field(max_length=80)
        name: str
        nickname: str | None = None
        address: Address

    schema = Customer.model_json_schema()
    schema["x-tdm"] = {"primary_key": "id"}
    (repo / "schemas" / "customers.json").write_text(json.dumps(schema, indent=2) + "\n")
    write_file(
        repo / "templates" / "shop.yaml",
        {"seed": 1, "datasets": {"customers": {"schema": "customers", "count": 100}}},
    )

    assert tdm("generate", "--repo", repo).exit_code == 0
    assert tdm("validate", "--repo", repo).exit_code == 0
    rows = read_rows(dataset(repo, "shop", "customers"))
    assert invalid_rows(schema, rows) == []
    assert any(r.get("nickname") is None for r in rows) and any(r.get("nickname") for r in rows)
    assert all(Customer.model_validate(r) for r in rows)  # pydantic accepts every row
