"""Bad input: exit 2, one clear paragraph naming the file (and line), no traceback,
and nothing written or lost."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import make_project, snapshot, tdm, write_file

CUSTOMERS = """\
type: object
x-tdm: {primary_key: id}
required: [id, email, name]
properties:
  id: {type: integer, minimum: 1}
  email: {type: string, format: email, x-tdm: {unique: true}}
  name: {type: string, x-tdm: {generator: name}}
"""
ORDERS = """\
type: object
x-tdm: {primary_key: id}
required: [id, customer_id, total]
properties:
  id: {type: string, format: uuid}
  customer_id: {type: integer, x-tdm: {ref: customers.id}}
  total: {type: number, minimum: 1, maximum: 500}
"""
TEMPLATE = """\
seed: 9
datasets:
  customers: {schema: customers, count: 20}
  orders: {schema: orders, count: 50}
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A small generated repository: customers and orders referencing them."""
    root = make_project(
        tmp_path / "shop",
        {"customers": CUSTOMERS, "orders": ORDERS},
        {"t": TEMPLATE},
    )
    result = tdm("generate", "--repo", root)
    assert result.exit_code == 0, result.output
    return root


def _schema(root: Path, name: str, text: str) -> None:
    write_file(root / "schemas" / f"{name}.yaml", text)


def _template(root: Path, text: str) -> None:
    write_file(root / "templates" / "t.yaml", text)


Mutation = Callable[[Path], None]


def _dataset_path_taken_by_a_directory(root: Path) -> None:
    path = root / "datasets" / "t" / "orders.jsonl"
    path.unlink()
    path.mkdir()


#: id -> (mutation, substrings the message must contain, where: regex for "file:line" or "file")
CASES: dict[str, tuple[Mutation, list[str], str]] = {
    "malformed-yaml-in-schema": (
        lambda r: _schema(
            r,
            "orders",
            ORDERS.replace("required: [id, customer_id, total]", "required: [id, customer_id"),
        ),
        ["malformed YAML"],
        r"schemas/orders\.yaml:\d+",
    ),
    "malformed-yaml-in-template": (
        lambda r: _template(r, TEMPLATE.replace("count: 20}", "count: 20")),
        ["malformed YAML"],
        r"templates/t\.yaml:\d+",
    ),
    "tab-indented-yaml": (
        lambda r: _template(r, "datasets:\n\tcustomers: {schema: customers, count: 2}\n"),
        ["malformed YAML"],
        r"templates/t\.yaml:2",
    ),
    "unknown-generator": (
        lambda r: _schema(r, "customers", CUSTOMERS.replace("generator: name", "generator: nmae")),
        ["unknown generator 'nmae'", "name"],
        r"schemas/customers\.yaml:7",
    ),
    "python-callable-as-generator": (
        lambda r: _schema(
            r, "customers", CUSTOMERS.replace("generator: name", "generator: os.system")
        ),
        ["unknown generator 'os.system'"],
        r"schemas/customers\.yaml:7",
    ),
    "unknown-generator-in-template-override": (
        lambda r: _template(
            r,
            TEMPLATE.replace(
                "{schema: customers, count: 20}",
                "{schema: customers, count: 20, overrides: {name: {generator: nmae}}}",
            ),
        ),
        ["unknown generator 'nmae'"],
        r"templates/t\.yaml",
    ),
    "override-of-a-missing-field": (
        lambda r: _template(
            r,
            TEMPLATE.replace(
                "{schema: customers, count: 20}",
                "{schema: customers, count: 20, overrides: {nickname: {generator: word}}}",
            ),
        ),
        ["nickname"],
        r"templates/t\.yaml",
    ),
    "missing-schema": (
        lambda r: _template(r, TEMPLATE.replace("{schema: orders,", "{schema: purchases,")),
        ["purchases", "not found"],
        r"templates/t\.yaml",
    ),
    "dataset-name-with-slash": (
        lambda r: _template(r, TEMPLATE.replace("  orders:", "  sub/orders:")),
        ["sub/orders", "not a valid name"],
        r"templates/t\.yaml:\d+",
    ),
    "dataset-name-with-dotdot": (
        lambda r: _template(r, TEMPLATE.replace("  orders:", "  ../../evil:")),
        ["../../evil", "not a valid name"],
        r"templates/t\.yaml:\d+",
    ),
    "schema-name-escaping-the-repository": (
        lambda r: _template(r, TEMPLATE.replace("{schema: orders,", "{schema: ../../etc/passwd,")),
        ["not a valid name"],
        r"templates/t\.yaml:\d+",
    ),
    "unknown-key-in-template": (
        lambda r: _template(r, TEMPLATE.replace("count: 50}", "count: 50, cuont: 5}")),
        ["cuont", "Extra inputs are not permitted"],
        r"templates/t\.yaml:4",
    ),
    "unknown-top-level-key-in-template": (
        lambda r: _template(r, "sed: 3\n" + TEMPLATE),
        ["sed"],
        r"templates/t\.yaml:1",
    ),
    "unknown-x-tdm-key": (
        lambda r: _schema(r, "customers", CUSTOMERS.replace("{unique: true}", "{uniqe: true}")),
        ["uniqe"],
        r"schemas/customers\.yaml:6",
    ),
    "unknown-key-in-tdm-yaml": (
        lambda r: write_file(r / "tdm.yaml", "name: shop\nsede: 3\n"),
        ["sede"],
        r"tdm\.yaml:2",
    ),
    "duplicate-key-in-template": (
        lambda r: _template(r, TEMPLATE + "  customers: {schema: customers, count: 5}\n"),
        ["customers", "duplicate"],
        r"templates/t\.yaml:\d+",
    ),
    "unsatisfiable-not": (
        lambda r: _schema(
            r, "orders", ORDERS.replace("maximum: 500}", "maximum: 500, not: {type: number}}")
        ),
        ["'total'", "no value satisfies", "not"],
        r"schemas/orders\.yaml:7",
    ),
    "unsatisfiable-required-name": (
        lambda r: _schema(
            r,
            "orders",
            ORDERS
            + "  extra:\n    type: object\n    required: [y1]\n    additionalProperties: false\n"
            + "    patternProperties: {'^x': {type: string}}\n",
        ),
        ["'extra", "no value satisfies"],
        r"schemas/orders\.yaml:8",
    ),
    "unknown-dialect": (
        lambda r: _schema(
            r, "orders", "$schema: 'http://json-schema.org/draft-03/schema#'\n" + ORDERS
        ),
        ["draft-03", "$schema", "2020-12"],
        r"schemas/orders\.yaml",
    ),
    "ref-to-a-missing-schema-file": (
        lambda r: _schema(r, "orders", ORDERS + "  note: {$ref: 'notes.yaml#/$defs/Note'}\n"),
        ["'note'", "notes.yaml#/$defs/Note", "points to nothing"],
        r"schemas/orders\.yaml:8",
    ),
    "required-recursion-never-ends": (
        lambda r: _schema(
            r,
            "orders",
            ORDERS.replace(
                "required: [id, customer_id, total]", "required: [id, customer_id, total, tree]"
            )
            + "  tree: {$ref: '#/$defs/node'}\n"
            + "$defs:\n  node:\n    type: object\n    required: [child]\n"
            + "    properties:\n      child: {$ref: '#/$defs/node'}\n",
        ),
        ["'tree", "no value satisfies"],
        r"schemas/orders\.yaml",
    ),
    "reference-cycle": (
        lambda r: _schema(
            r,
            "customers",
            CUSTOMERS + "  last_order: {type: string, x-tdm: {ref: orders.id}}\n",
        ),
        ["reference cycle", "customers", "orders"],
        r"templates/t\.yaml",
    ),
    "ref-to-a-non-key-field": (
        lambda r: _schema(r, "orders", ORDERS.replace("ref: customers.id", "ref: customers.name")),
        ["customer_id", "customers.name", "neither the primary key nor unique"],
        r"schemas/orders\.yaml",
    ),
    "ref-to-a-missing-dataset": (
        lambda r: _schema(r, "orders", ORDERS.replace("ref: customers.id", "ref: clients.id")),
        ["clients"],
        r"schemas/orders\.yaml",
    ),
    "invalid-json-schema": (
        lambda r: _schema(r, "orders", ORDERS.replace("type: number", "type: numbr")),
        ["not a valid JSON Schema"],
        r"schemas/orders\.yaml:7",
    ),
    # the compiled meta-schema check does not read the meta-schema's "regex" format: the
    # pure-Python check must still name a pattern that is not a regex, with its line
    "pattern-that-is-not-a-regex": (
        lambda r: _schema(r, "orders", ORDERS + "  note: {type: string, pattern: '[a-'}\n"),
        ["not a valid JSON Schema", "pattern"],
        r"schemas/orders\.yaml:8",
    ),
    "pattern-property-that-is-not-a-regex": (
        lambda r: _schema(r, "orders", ORDERS + "patternProperties: {'(x': {type: string}}\n"),
        ["not a valid JSON Schema", "patternProperties"],
        r"schemas/orders\.yaml",
    ),
    "python-object-yaml-tag": (
        lambda r: _schema(r, "orders", "!!python/object/apply:os.system ['echo pwned']\n"),
        ["malformed YAML"],
        r"schemas/orders\.yaml:1",
    ),
    "unsatisfiable-unique": (
        lambda r: _schema(
            r,
            "customers",
            CUSTOMERS.replace(
                "id: {type: integer, minimum: 1}", "id: {type: integer, minimum: 1, maximum: 5}"
            ),
        ),
        ["'id'", "unique"],
        r"schemas/customers\.yaml:5",
    ),
    "unknown-locale": (
        lambda r: _template(r, "locale: xx_XX\n" + TEMPLATE),
        ["xx_XX"],
        r"templates/t\.yaml",
    ),
    "dataset-path-is-a-directory": (
        _dataset_path_taken_by_a_directory,
        ["datasets/t/orders.jsonl"],
        r"datasets/t/orders\.jsonl",
    ),
}


def _assert_clean_user_error(result_output: str, stderr: str, exit_code: int) -> None:
    assert exit_code == 2, result_output
    assert "Traceback" not in result_output
    assert "internal error" not in result_output
    assert stderr.startswith("tdm: error: "), stderr
    assert "\n\n" not in stderr.strip(), "one paragraph"


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_a_clear_error_and_changes_nothing(shop: Path, case: str) -> None:
    mutate, expected, where = CASES[case]
    mutate(shop)
    before = snapshot(shop)

    result = tdm("generate", "--force", "--repo", shop)

    _assert_clean_user_error(result.output, result.stderr, result.exit_code)
    message = result.stderr
    for text in expected:
        assert text in message, f"{text!r} not in {message!r}"
    assert re.search(rf"(^|[\s/]){where}\b", message), f"{where!r} not in {message!r}"
    assert snapshot(shop) == before, "a failed generate must not write anything"


def test_names_cannot_escape_the_repository(shop: Path, tmp_path: Path) -> None:
    _template(shop, TEMPLATE.replace("  orders:", "  ../../evil:"))

    tdm("generate", "--repo", shop)

    assert not list(tmp_path.rglob("evil*"))


def test_schema_symlinked_outside_the_repository_is_refused(shop: Path, tmp_path: Path) -> None:
    outside = write_file(tmp_path / "outside.yaml", ORDERS)
    (shop / "schemas" / "orders.yaml").unlink()
    (shop / "schemas" / "orders.yaml").symlink_to(outside)
    before = snapshot(shop)

    result = tdm("generate", "--force", "--repo", shop)

    _assert_clean_user_error(result.output, result.stderr, result.exit_code)
    assert "outside the repository" in result.stderr
    assert snapshot(shop) == before


def test_unknown_template_on_the_command_line(shop: Path) -> None:
    before = snapshot(shop)

    result = tdm("generate", "nosuch", "--repo", shop)

    _assert_clean_user_error(result.output, result.stderr, result.exit_code)
    assert "template 'nosuch' not found" in result.stderr
    assert "templates/nosuch.yaml" in result.stderr
    assert "known: t" in result.stderr
    assert snapshot(shop) == before


def test_template_name_escaping_the_repository_on_the_command_line(shop: Path) -> None:
    result = tdm("generate", "../t", "--repo", shop)

    _assert_clean_user_error(result.output, result.stderr, result.exit_code)
    assert "not a valid name" in result.stderr


@pytest.mark.parametrize("command", ["generate", "validate", "status"])
def test_outside_a_tdm_repository(tmp_path: Path, command: str) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()

    result = tdm(command, "--repo", empty)

    _assert_clean_user_error(result.output, result.stderr, result.exit_code)
    assert "not a tdm repository" in result.stderr
    assert "tdm init" in result.stderr
    assert list(empty.iterdir()) == []


def test_bad_usage_exits_2(shop: Path) -> None:
    result = tdm("generate", "--jobs", "0", "--repo", shop)

    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback_of_a_user_error(shop: Path) -> None:
    _schema(shop, "customers", CUSTOMERS.replace("generator: name", "generator: nmae"))

    plain = tdm("generate", "--repo", shop)
    debug = tdm("--debug", "generate", "--repo", shop)

    assert plain.exit_code == debug.exit_code == 2
    assert "Traceback" not in plain.stderr
    assert "Traceback (most recent call last)" in debug.stderr
    assert "UserError" in debug.stderr
    # the friendly message still comes last
    assert debug.stderr.strip().splitlines()[-1] == plain.stderr.strip()


def test_tdm_debug_environment_variable_shows_the_traceback(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _schema(shop, "customers", CUSTOMERS.replace("generator: name", "generator: nmae"))
    monkeypatch.setenv("TDM_DEBUG", "1")

    result = tdm("generate", "--repo", shop)

    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr


def test_corrupt_lock_is_a_clear_error(shop: Path) -> None:
    write_file(shop / "tdm.lock", "{not json")
    before = snapshot(shop)

    result = tdm("generate", "--repo", shop)

    _assert_clean_user_error(result.output, result.stderr, result.exit_code)
    assert "tdm.lock" in result.stderr
    assert "restore it from git" in result.stderr
    assert snapshot(shop) == before


def test_unsatisfiable_rows_beyond_the_sample_are_a_clear_error(tmp_path: Path) -> None:
    """A row the checked sample (the first 200) cannot foresee fails: exit 2, never 3.

    The sequence C-1, C-2, ... fits maxLength 5 up to C-999: the sample passes,
    the 1000th row does not, and generate stops with nothing written."""
    schema = {
        "type": "object",
        "required": ["code"],
        "properties": {
            "code": {
                "type": "string",
                "maxLength": 5,
                "x-tdm": {"generator": "sequence", "prefix": "C-"},
            }
        },
    }
    root = make_project(
        tmp_path / "p",
        {"s": schema},
        {"t": {"seed": 1, "datasets": {"s": {"schema": "s", "count": 1000}}}},
    )
    before = snapshot(root)

    result = tdm("generate", "--repo", root)

    _assert_clean_user_error(result.output, result.stderr, result.exit_code)
    assert result.stderr.strip() == (
        "tdm: error: schemas/s.yaml: dataset 't/s': property 'code': its generator rarely "
        "makes values of length 0..5 (e.g. 'C-1000'); relax minLength/maxLength or choose "
        "another generator"
    )
    assert snapshot(root) == before  # no dataset, no temp file, no tdm.lock
