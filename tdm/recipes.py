"""Plans: every dataset of a template, resolved to generators, in dependency order."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tdm import canon
from tdm._version import ENGINE_VERSION
from tdm.errors import UserError
from tdm.models import DatasetSpec, FieldHint, Template
from tdm.project import CONFIG_FILE, Project, SchemaDoc

if TYPE_CHECKING:
    # generators, Faker, numpy and jsonschema-rs load when a dataset is planned, not for
    # the recipe hashes `tdm status` and an up-to-date `tdm generate` need
    from tdm import generators as g
    from tdm.planner import PlanContext
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
        from tdm.render import RowRenderer

        return RowRenderer(self.root)

    def render(self, start: int, stop: int) -> bytes:
        """JSON Lines for rows ``start..stop-1``."""
        from tdm import rng

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
    schema: SchemaDoc,
    spec: DatasetSpec,
    seed: int,
    locale: str,
    parents: dict[str, str],
    externals: dict[str, Any] | None = None,
) -> str:
    """A hash of everything that decides a dataset's bytes: ``externals`` are the other
    schema files its schema references (file name -> data)."""
    payload: dict[str, Any] = {
        "engine": ENGINE_VERSION,
        "schema": schema.data,
        "spec": spec.model_dump(mode="json", by_alias=True),
        "seed": seed,
        "locale": locale,
        "parents": parents,
    }
    if externals:  # absent otherwise, so the hashes of self-contained schemas stay as they were
        payload["externals"] = externals
    return canon.sha256(payload)


class SampleChecks(Protocol):
    """The datasets whose plan passed :func:`check_sample` for a recipe (see tdm.checkcache)."""

    def seen(self, key: str, recipe: str) -> bool: ...

    def passed(self, key: str, recipe: str) -> bool: ...

    def add(self, key: str, recipe: str) -> None: ...

    def folder(self) -> Path | None: ...


class TemplatePlanner:
    """Plans the datasets of one template, parents before children."""

    def __init__(
        self,
        project: Project,
        name: str,
        template: Template | None = None,
        checks: SampleChecks | None = None,
    ) -> None:
        self.project = project
        self.name = name
        self.template = template or project.template(name)
        self.doc = project.template_doc(name)
        self.display = self.doc.path
        self.seed = self.template.seed if self.template.seed is not None else project.config.seed
        self.locale = self.template.locale or project.config.locale
        self.checks = checks
        self._locale_checked = False
        self.plans: dict[str, DatasetPlan] = {}
        self._building: list[str] = []

    def plan_all(self) -> list[DatasetPlan]:
        for dataset in self.template.datasets:
            self.plan(dataset)
        return list(self.plans.values())  # insertion order = completion order = parents first

    def _context(self, dataset: str, spec: DatasetSpec, schema: SchemaDoc) -> PlanContext:
        from tdm.planner import PlanContext

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
            load_schema=self.project.schema_file,
        )

    def check_locale(self) -> None:
        """Faker knows the locale (checked when planning: loading Faker's locales takes a
        while, and recipes do not need it)."""
        if self._locale_checked:
            return
        from tdm import catalogue

        if not catalogue.check_locale(self.locale):
            # blame the file the locale comes from: the template's own, or tdm.yaml's
            if self.template.locale:
                path, line = self.display, self.doc.line_of(("locale",))
            else:
                path, line = CONFIG_FILE, self.project.config_line(("locale",))
            raise UserError(
                f"locale '{self.locale}' is not one Faker knows (e.g. en_US, de_DE, fr_FR, en_GB)",
                path=path,
                line=line,
            )
        self._locale_checked = True

    def plan(self, dataset: str) -> DatasetPlan:
        if dataset in self.plans:
            return self.plans[dataset]
        self.check_locale()
        if dataset in self._building:
            cycle = " -> ".join([*self._building[self._building.index(dataset) :], dataset])
            raise UserError(
                f"reference cycle between datasets: {cycle}; one side must not use x-tdm.ref",
                path=self.display,
            )
        from tdm.planner import Planner

        spec = self.template.datasets[dataset]
        schema = self.schema_of(dataset)
        self._building.append(dataset)
        try:
            ctx = self._context(dataset, spec, schema)
            planner = Planner(schema.data, ctx)

            def resolve(target: str, target_field: str, path: str) -> tuple[g.Gen, int, bool]:
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
                if parent_name == dataset and not allows_null(schema.data, path):
                    raise UserError(
                        f"property '{path}' references its own dataset: each row points to an "
                        "earlier row, and the first row has none, so the property must allow "
                        'null; add "null" to its type',
                        path=schema.display,
                    )
                return gen, self_spec.count, parent_name == dataset

            ctx.resolve_ref = resolve
            recipe = self.recipe(dataset)
            # the self-check is skipped for a recipe whose first build passed it before (same
            # tdm and Faker): that first build is then the plan, as it was then
            passed = self.checks is not None and self.checks.passed(
                f"{self.name}/{dataset}", recipe
            )
            while True:
                root = planner.build_root()
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
                if passed:
                    break
                problem = sample_problem(
                    plan, self.project.schema_externals(schema.data, schema.display)
                )
                if problem is None:
                    if self.checks is not None and not ctx.force_checked:
                        self.checks.add(plan.key, recipe)
                    break
                # a property the plain path built wrongly (a merge it missed): build it
                # again on the generate-and-check path, once
                top, error = problem
                if top is None or top in ctx.force_checked or not planner.can_check(top):
                    raise error
                ctx.force_checked.add(top)
                planner = Planner(schema.data, ctx)
        finally:
            self._building.pop()
        self.plans[dataset] = plan
        return plan

    def order(self) -> list[str]:
        """The datasets in the order :meth:`plan_all` completes them (a dataset after the
        datasets its x-tdm.ref properties reference, in property order), without planning."""
        done: list[str] = []

        def visit(dataset: str, seen: tuple[str, ...]) -> None:
            if dataset in done or dataset in seen:
                return
            spec = self.template.datasets[dataset]
            schema = self.schema_of(dataset)
            props = list(schema.data.get("properties", {}))
            refs = dataset_refs(schema, dict(spec.overrides))
            for path in sorted(refs, key=lambda p: props.index(p) if p in props else len(props)):
                target, _, _ = refs[path].rpartition(".")
                visit(self.resolve_target(target, schema.display, path), (*seen, dataset))
            done.append(dataset)

        for dataset in self.template.datasets:
            visit(dataset, ())
        return done

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
        # a reference to no file is reported by planning, which names the property
        externals = self.project.schema_externals(schema.data, missing_ok=True)
        return recipe_hash(schema, spec, self.seed, self.locale, parents, externals)

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


def allows_null(schema: dict[str, Any], prop: str) -> bool:
    """Whether top-level property ``prop`` of ``schema`` accepts null (its own ``$ref`` to
    ``$defs``/``definitions`` of the same file included)."""
    sub = schema.get("properties", {}).get(prop)
    if not isinstance(sub, dict):
        return sub is True
    wrapper: dict[str, Any] = {
        k: schema[k] for k in ("$schema", "$defs", "definitions") if k in schema
    }
    wrapper["properties"] = {prop: sub}
    import jsonschema_rs

    try:
        return bool(jsonschema_rs.validator_for(wrapper).is_valid({prop: None}))
    except (ValueError, jsonschema_rs.ReferencingError):
        return True  # a schema the validator cannot compile is reported by the sample check


_VALIDATORS: dict[bytes, Any] = {}


def row_validator(schema: SchemaDoc, others: dict[str, Any] | None = None) -> Any:
    """A compiled (jsonschema-rs) validator for rows of ``schema``, formats asserted;
    ``others`` holds the schema files its references name."""
    key = schema.raw_bytes + canon.dumps(others or {})
    if key not in _VALIDATORS:
        from tdm import jsonschema_norm

        _VALIDATORS[key] = jsonschema_norm.document_validator(schema.data, (others or {}).get)
    return _VALIDATORS[key]


def check_sample(plan: DatasetPlan, others: dict[str, Any] | None = None) -> None:
    """Generate the first rows and validate them: a generator that cannot satisfy the
    schema is reported here, naming the property, before anything is written."""
    problem = sample_problem(plan, others)
    if problem is not None:
        raise problem[1]


def sample_problem(
    plan: DatasetPlan, others: dict[str, Any] | None = None
) -> tuple[str | None, UserError] | None:
    """The first problem of the first rows: the top-level property it is in (None when
    not one) and the error to report."""
    from tdm import rng

    n = min(plan.count, SAMPLE_ROWS)
    if n == 0:
        return None
    try:
        rows = plan.root.column(rng.rows(0, n))
    except ValueError as exc:
        return None, UserError(f"dataset '{plan.name}': {exc}", path=plan.schema.display)
    validator = row_validator(plan.schema, others)
    for row in rows:
        for error in validator.iter_errors(row):
            where = "/".join(str(p) for p in error.instance_path) or "(row)"
            top = error.instance_path[0] if error.instance_path else None
            return (top if isinstance(top, str) else None), UserError(
                f"generated value for property '{where}' does not satisfy the schema: {error.message}. "
                "Give the property an x-tdm generator that fits, or relax the schema",
                path=plan.schema.display,
            )
    return None


def plan_templates(
    project: Project, names: list[str] | None = None, checks: SampleChecks | None = None
) -> list[DatasetPlan]:
    """Plans for the named templates (all when None), parents first within each."""
    chosen = names or project.template_names()
    plans: list[DatasetPlan] = []
    for name in chosen:
        plans.extend(TemplatePlanner(project, name, checks=checks).plan_all())
    return plans
