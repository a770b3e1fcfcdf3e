"""The field knowledge generation, masking, scan and validate share (tdm.fields)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import dataset, one_dataset_project, read_rows, tdm

from tdm import catalogue, fields
from tdm import generators as g
from tdm.errors import UserError
from tdm.masking import fake_kind
from tdm.models import FakeRule
from tdm.project import Project
from tdm.recipes import plan_templates

FAKE = FakeRule(strategy="fake")


def _generated_gens(root: Path) -> dict[str, g.Gen]:
    (plan,) = plan_templates(Project.find(root), None)
    return {p.name: p.gen for p in plan.root.props}


@pytest.mark.parametrize("name", sorted(fields.NAME_KINDS))
def test_masking_fakes_the_kind_generation_infers(name: str) -> None:
    kind = fields.name_kind(name)
    assert kind is not None
    wanted = catalogue.canonical(kind) or kind
    try:
        assert fake_kind(name, {"type": "string"}, FAKE) == wanted
    except UserError as exc:  # a kind masking cannot fake: it says so, it never guesses
        assert "cannot tell what kind of fake value" in str(exc)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("holder", "name"),
        ("Holder", "name"),
        ("msisdn", "phone"),
        ("fax", "phone"),
        ("billing_email", "email"),
        ("work-phone", "phone"),
        ("company_name", "company"),
        ("nickname", None),
    ],
)
def test_one_vocabulary(name: str, kind: str | None) -> None:
    assert fields.name_kind(name) == kind


def test_compound_names_only_where_asked() -> None:
    # generation reads whole names (its bytes are pinned); masking also reads the end
    assert fields.name_kind("card_holder") is None
    assert fields.name_kind("card_holder", compound=True) == "name"
    assert fields.name_kind("customer_first_name", compound=True) == "first_name"
    assert fake_kind("card.card_holder", {"type": "string"}, FAKE) == "name"
    assert fake_kind("billing_city", {"type": "string"}, FAKE) == "city"


def test_generation_and_masking_agree_on_holder_and_msisdn(tmp_path: Path) -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "holder": {"type": "string"},
            "msisdn": {"type": "string"},
            "phone": {"type": "string"},
        },
        "required": ["holder", "msisdn", "phone"],
    }
    root = one_dataset_project(tmp_path / "p", schema, 20)
    gens = _generated_gens(root)
    assert type(gens["holder"]) is type(_generated_gens_for_name(tmp_path, "name"))
    assert type(gens["msisdn"]) is type(gens["phone"])
    assert fake_kind("holder", schema["properties"]["holder"], FAKE) == "name"
    assert fake_kind("msisdn", schema["properties"]["msisdn"], FAKE) == "phone"
    assert tdm("generate", "--repo", root).exit_code == 0
    rows = read_rows(dataset(root, "t", "s"))
    assert all(len(r["holder"].split()) >= 2 for r in rows)  # a first and a last name


def _generated_gens_for_name(tmp_path: Path, name: str) -> g.Gen:
    schema = {"type": "object", "properties": {name: {"type": "string"}}, "required": [name]}
    root = one_dataset_project(tmp_path / f"only-{name}", schema, 5)
    return _generated_gens(root)[name]


def test_walking_fields_and_personal_data() -> None:
    schema: dict[str, Any] = {
        "$defs": {"card": {"type": "object", "properties": {"holder": {"type": "string"}}}},
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "payment": {"$ref": "#/$defs/card"},
            "tags": {"type": "array", "items": {"type": "object", "properties": {"ip": {}}}},
            "nick": {"type": "string", "x-tdm": {"pii": True}},
            "msisdn": {"type": "string", "x-tdm": {"pii": "synthetic"}},
        },
    }
    assert fields.all_fields(schema) == [
        "id",
        "email",
        "payment",
        "payment.holder",
        "tags",
        "tags.ip",
        "nick",
        "msisdn",
    ]
    assert fields.property_schema(schema, "payment.holder") == {"type": "string"}
    assert fields.property_schema(schema, "payment.nothing") is None
    assert fields.pii_fields(schema) == {
        "email": "its name",
        "payment.holder": "its name",
        "tags.ip": "its name",
        "nick": "declared pii: true",
    }
