"""Plans: every dataset of a template, resolved to generators, in dependency order."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from tdm import canon, catalogue, rng
from tdm import generators as g
from tdm._version import ENGINE_VERSION
from tdm.errors import UserError
from tdm.models import DatasetSpec, FieldHint, Template
from tdm.planner import PlanContext, Planner
from tdm.project import CONFIG_FILE, Project, SchemaDoc
from tdm.render import RowRenderer

SAMPLE_ROWS = 200


@dataclass
class DatasetPlan:
    """Everything needed to generate (and later validate) one dataset."""

    template: str
    name: str
    spec: DatasetSpec
    schema: SchemaDoc
    seed: int
    locale: str
    root: g.Object
    recipe: str

    @property
    def key(self) -> str:
        return f"{self.template}/{self.name}"

    @property
    def count(self) -> int:
        return self.spec.count

    @functools.cached_property
    def renderer(self) -> RowRenderer:
        return RowRenderer(self.root)

    def render(self, start: int, stop: int) -> bytes:
        """JSON Lines for rows ``start..stop-1``."""
        return self.renderer.render(rng.rows(start, stop))


def dataset_refs(schema: SchemaDoc, overrides: dict[str, FieldHint]) -> dict[str, str]:
    """Top-level property -> ``target.field`` for every x-tdm.ref (schema and overrides)."""
    refs: dict[str, str] = {}
    for name, prop in schema.data.get("properties", {}).items():
        hint = prop.get("x-tdm", {}) if isinstance(prop, dict) else {}
        if isinstance(hint, dict) and isinstance(hint.get("ref"), str):
            refs[name] = hint["ref"]
    for name, override in overrides.items():
        if override.ref is not None:
            refs[name] = override.ref
        elif override.generator is not None:
            refs.pop(name, None)
    return refs


def match_ref_target(target: str, schemas: dict[str, str]) -> tuple[str | None, list[str]]:
    """The dataset an x-tdm.ref target names among ``schemas`` (dataset -> schema): the
    dataset of that name, else the one dataset of that schema.  Also every dataset of
    that schema, for the error when there is not exactly one."""
    if target in schemas:
        return target, [target]
    by_schema = [name for name, schema in schemas.items() if schema == target]
    return (by_schema[0] if len(by_schema) == 1 else None), by_schema


def recipe_hash(
    schema: SchemaDoc, spec: DatasetSpec, seed: int, locale: str, parents: dict[str, str]
) -> str:
    """A hash of everything that decides a dataset's bytes."""
    payload = {
        "engine": ENGINE_VERSION,
        "schema": schema.data,
        "spec": spec.model_dump(mode="json", by_alias=True),
        "seed": seed,
        "locale": locale,
        "parents": parents,
    }
    return canon.sha256(payload)


class TemplatePlanner:
    """Plans the datasets of one template, parents before children."""

    def __init__(self, project: Project, name: str, template: Template | None = None) -> None:
        self.project = project
        self.name = name
        self.template = template or project.template(name)
        self.doc = project.template_doc(name)
        self.display = self.doc.path
        self.seed = self.template.seed if self.template.seed is not None else project.config.seed
        self.locale = self.template.locale or project.config.locale
        if not catalogue.check_locale(self.locale):
            # blame the file the locale comes from: the template's own, or tdm.yaml's
            if self.template.locale:
                path, line = self.display, self.doc.line_of(("locale",))
            else:
                path, line = CONFIG_FILE, project.config_line(("locale",))
            raise UserError(
                f"locale '{self.locale}' is not one Faker knows (e.g. en_US, de_DE, fr_FR, en_GB)",
                path=path,
                line=line,
            )
        self.plans: dict[str, DatasetPlan] = {}
        self._building: list[str] = []

    def plan_all(self) -> list[DatasetPlan]:
        for dataset in self.template.datasets:
            self.plan(dataset)
        return list(self.plans.values())  # insertion order = completion order = parents first

    def _context(self, dataset: str, spec: DatasetSpec, schema: SchemaDoc) -> PlanContext:
        return PlanContext(
            seed=self.seed,
            template=self.name,
            dataset=dataset,
            locale=self.locale,
            count=spec.count,
            display=schema.display,
            overrides=dict(spec.overrides),
            primary_key=schema.primary_key,
            lines=schema.doc,
            template_doc=self.doc,
        )

    def plan(self, dataset: str) -> DatasetPlan:
        if dataset in self.plans:
            return self.plans[dataset]
        if dataset in self._building:
            cycle = " -> ".join([*self._building[self._building.index(dataset) :], dataset])
            raise UserError(
                f"reference cycle between datasets: {cycle}; one side must not use x-tdm.ref",
                path=self.display,
            )
        spec = self.template.datasets[dataset]
        schema = self.schema_of(dataset)
        self._building.append(dataset)
        try:
            ctx = self._context(dataset, spec, schema)
            planner = Planner(schema.data, ctx)

            def resolve(target: str, target_field: str, path: str) -> tuple[g.Gen, int]:
                parent_name = self.resolve_target(target, schema.display, path)
                if parent_name == dataset:
                    self_spec = spec
                    parent_schema = schema
                    gen = Planner(schema.data, self._context(dataset, spec, schema)).build_field(
                        target_field
                    )
                else:
                    parent = self.plan(parent_name)  # parents are planned (and generated) first
                    self_spec, parent_schema = parent.spec, parent.schema
                    gen = Planner(
                        parent.schema.data, self._context(parent_name, parent.spec, parent.schema)
                    ).build_field(target_field)
                self.check_ref_target(parent_schema, target_field, schema.display, path)
                if self_spec.count == 0:
                    raise UserError(
                        f"property '{path}' references {parent_name}, which has count 0",
                        path=self.display,
                    )
                if target_field == path and parent_name == dataset:
                    raise UserError(f"property '{path}' references itself", path=schema.display)
                return gen, self_spec.count

            ctx.resolve_ref = resolve
            root = planner.build_root()
            recipe = self.recipe(dataset)
            plan = DatasetPlan(
                self.name,
                dataset,
                spec,
                schema,
                self.seed,
                self.locale,
                root,
                recipe,
            )
            check_sample(plan)
        finally:
            self._building.pop()
        self.plans[dataset] = plan
        return plan

    def schema_of(self, dataset: str) -> SchemaDoc:
        """The schema of a dataset; a missing one is reported at the template line naming it."""
        name = self.template.datasets[dataset].schema_
        if name not in self.project.schema_names():
            known = ", ".join(self.project.schema_names()) or "none"
            raise UserError(
                f"schema '{name}' not found (used by dataset '{dataset}'): create "
                f"schemas/{name}.yaml or use one of: {known}",
                path=self.display,
                line=self.doc.line_of(("datasets", dataset, "schema")),
            )
        return self.project.schema(name)

    def recipe(self, dataset: str, _seen: tuple[str, ...] = ()) -> str:
        """The recipe hash of ``dataset``: what decides its bytes.

        That is its schema, spec, seed and locale, plus, for each dataset it references,
        only what decides the referenced key values (that field's schema and override,
        the parent's count and primary key), so an unrelated change to a parent does not
        make its children stale.  Needs no generators, so ``tdm status`` is cheap."""
        spec = self.template.datasets[dataset]
        schema = self.schema_of(dataset)
        parents: dict[str, str] = {}
        for path, ref in sorted(dataset_refs(schema, dict(spec.overrides)).items()):
            target, _, target_field = ref.rpartition(".")
            parent = self.resolve_target(target, schema.display, path)
            if parent == dataset or parent in _seen:
                continue
            parents[f"{parent}.{target_field}"] = self._key_recipe(
                parent, target_field, (*_seen, dataset)
            )
        return recipe_hash(schema, spec, self.seed, self.locale, parents)

    def _key_recipe(self, dataset: str, field_name: str, seen: tuple[str, ...]) -> str:
        spec = self.template.datasets[dataset]
        schema = self.schema_of(dataset)
        override = spec.overrides.get(field_name)
        payload = {
            "field": schema.data.get("properties", {}).get(field_name),
            "defs": schema.data.get("$defs"),
            "primary_key": schema.primary_key,
            "override": override.model_dump(mode="json", exclude_unset=True) if override else None,
            "count": spec.count,
        }
        if field_name in dataset_refs(schema, dict(spec.overrides)):
            payload["chain"] = self.recipe(dataset, seen)  # a key that is itself a reference
        return canon.sha256(payload)

    def resolve_target(self, target: str, display: str, path: str) -> str:
        datasets = self.template.datasets
        found, by_schema = match_ref_target(target, {n: s.schema_ for n, s in datasets.items()})
        if found is not None:
            return found
        if not by_schema:
            raise UserError(
                f"property '{path}' references '{target}', but template '{self.name}' has no dataset "
                f"or schema of that name (datasets: {', '.join(datasets)})",
                path=display,
            )
        raise UserError(
            f"property '{path}' references schema '{target}', which template '{self.name}' uses for "
            f"several datasets ({', '.join(by_schema)}); reference the dataset by name",
            path=display,
        )

    @staticmethod
    def check_ref_target(parent: SchemaDoc, target_field: str, display: str, path: str) -> None:
        props = parent.data.get("properties", {})
        if target_field not in props:
            raise UserError(
                f"property '{path}' references '{parent.name}.{target_field}', which is not a property "
                f"of {parent.display}",
                path=display,
            )
        hint = props[target_field].get("x-tdm", {}) if isinstance(props[target_field], dict) else {}
        if target_field != parent.primary_key and not (
            isinstance(hint, dict) and hint.get("unique")
        ):
            raise UserError(
                f"property '{path}' references '{parent.name}.{target_field}', which is neither the "
                "primary key nor unique; reference a key so every value identifies one row",
                path=display,
            )


_VALIDATORS: dict[bytes, Any] = {}


def row_validator(schema: SchemaDoc) -> Any:
    """A compiled (jsonschema-rs) validator for rows of ``schema``, formats asserted."""
    key = schema.raw_bytes
    if key not in _VALIDATORS:
        _VALIDATORS[key] = jsonschema_rs.validator_for(schema.data, validate_formats=True)
    return _VALIDATORS[key]


def check_sample(plan: DatasetPlan) -> None:
    """Generate the first rows and validate them: a generator that cannot satisfy the
    schema is reported here, naming the property, before anything is written."""
    n = min(plan.count, SAMPLE_ROWS)
    if n == 0:
        return
    try:
        rows = plan.root.column(rng.rows(0, n))
    except ValueError as exc:
        raise UserError(f"dataset '{plan.name}': {exc}", path=plan.schema.display) from None
    validator = row_validator(plan.schema)
    for row in rows:
        for error in validator.iter_errors(row):
            where = "/".join(str(p) for p in error.instance_path) or "(row)"
            raise UserError(
                f"generated value for property '{where}' does not satisfy the schema: {error.message}. "
                "Give the property an x-tdm generator that fits, or relax the schema",
                path=plan.schema.display,
            )


def plan_templates(project: Project, names: list[str] | None = None) -> list[DatasetPlan]:
    """Plans for the named templates (all when None), parents first within each."""
    chosen = names or project.template_names()
    plans: list[DatasetPlan] = []
    for name in chosen:
        plans.extend(TemplatePlanner(project, name).plan_all())
    return plans
