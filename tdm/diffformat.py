"""The three shapes of a :class:`tdm.diff.DiffReport`: JSON, text and Markdown.

The JSON document is tdm's stable interface (``format_version`` 1, documented in the
README); text and Markdown are for people and may change wording between releases.
Values are shown as they are in the files: masked fields stay masked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from tdm.datadiff import ChangedRow, RowDiff

if TYPE_CHECKING:
    from tdm.diff import DatasetDiff, DiffReport

# ---------------------------------------------------------------------- JSON


def _side(side: Any) -> dict[str, Any]:
    return {"label": side.label, "commit": side.commit}


def _changed_json(row: ChangedRow) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for c in row.fields:
        entry: dict[str, Any] = {}
        if c.had_old:
            entry["old"] = c.old
        if c.had_new:
            entry["new"] = c.new
        fields[c.name] = entry
    return {"key": row.key, "fields": fields}


def _rows_json(rows: RowDiff) -> dict[str, Any]:
    return {
        "mode": rows.mode,
        "rows_before": rows.rows_before,
        "rows_after": rows.rows_after,
        "added": rows.added,
        "removed": rows.removed,
        "changed": rows.changed,
        "fields": dict(sorted(rows.fields.items(), key=lambda kv: (-kv[1], kv[0]))),
        "samples": {
            "added": rows.added_sample,
            "removed": rows.removed_sample,
            "changed": [_changed_json(r) for r in rows.changed_sample],
        },
        "notes": rows.notes,
    }


def report_json(report: DiffReport) -> dict[str, Any]:
    breaking = report.breaking()
    return {
        "format_version": 1,
        "base": _side(report.base),
        "head": _side(report.head),
        "compat": report.compat,
        "summary": {
            "differs": report.differs,
            "breaking": len(breaking),
            "schemas_changed": len(report.schemas),
            "files_changed": len(report.files),
            "datasets_changed": len(report.datasets),
            "rows_added": sum(d.rows.added for d in report.datasets if d.status == "modified"),
            "rows_removed": sum(d.rows.removed for d in report.datasets if d.status == "modified"),
            "rows_changed": sum(d.rows.changed for d in report.datasets),
        },
        "schemas": [
            {
                "name": s.name,
                "path": s.path,
                "status": s.status,
                "breaking": any(c.breaking(report.compat) for c in s.changes),
                "changes": [
                    {
                        "path": c.path,
                        "kind": c.kind,
                        "detail": c.detail,
                        "effect": c.effect,
                        "breaking": c.breaking(report.compat),
                        "reason": c.reason(report.compat),
                    }
                    for c in s.changes
                ],
            }
            for s in report.schemas
        ],
        "files": [
            {"path": f.path, "kind": f.kind, "status": f.status, "changes": f.changes}
            for f in report.files
        ],
        "datasets": [
            {
                "name": d.name,
                "path": d.path,
                "status": d.status,
                "schema": d.schema,
                "primary_key": d.primary_key,
                **_rows_json(d.rows),
            }
            for d in report.datasets
        ],
    }


def render_json(report: DiffReport) -> str:
    return orjson.dumps(report_json(report), option=orjson.OPT_INDENT_2).decode() + "\n"


# ---------------------------------------------------------------------- text

_COLOURS = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}


class _Paint:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, style: str) -> str:
        if not self.colour:
            return text
        return f"\033[{_COLOURS[style]}m{text}\033[0m"


def _value(value: Any, limit: int = 60) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _key(value: Any) -> str:
    return _value(value)


def _dataset_headline(d: DatasetDiff) -> str:
    r = d.rows
    if d.status == "added":
        return f"added, {r.rows_after:,} rows"
    if d.status == "removed":
        return f"removed, had {r.rows_before:,} rows"
    return (
        f"{r.rows_before:,} -> {r.rows_after:,} rows: "
        f"+{r.added:,} added, -{r.removed:,} removed, ~{r.changed:,} changed"
    )


def _field_freq(rows: RowDiff) -> str:
    items = sorted(rows.fields.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{name} ({n:,})" for name, n in items)


def _change_lines(row: ChangedRow) -> list[str]:
    out = []
    for c in row.fields:
        old = _value(c.old) if c.had_old else "(absent)"
        new = _value(c.new) if c.had_new else "(absent)"
        out.append(f"{c.name}: {old} -> {new}")
    return out


def _row_label(d: DatasetDiff, row: Any) -> str:
    if d.primary_key and isinstance(row, dict) and d.primary_key in row:
        return f"{d.primary_key}={_key(row[d.primary_key])}"
    return _value(row, 100)


def render_text(report: DiffReport, *, colour: bool = False) -> str:
    p = _Paint(colour)
    mode = report.compat
    lines = [p(f"tdm diff {report.base.label} -> {report.head.label}", "bold")]
    if not report.differs:
        lines.append("no changes")
        return "\n".join(lines) + "\n"
    breaking = report.breaking()
    if report.schemas:
        lines += ["", p(f"Schemas (compatibility: {mode})", "bold")]
        for s in report.schemas:
            lines.append(f"  {s.name} ({s.status}, {s.path})")
            for c in s.changes:
                tag = p("BREAKING  ", "red") if c.breaking(mode) else p("compatible", "green")
                lines.append(f"    {tag} {c.detail}")
                lines.append(p(f"               {c.reason(mode)}", "dim"))
    if report.files:
        lines += ["", p("Templates, masking rules, configuration and lock", "bold")]
        for f in report.files:
            lines.append(f"  {f.path} ({f.status})")
            lines.extend(f"    {c}" for c in f.changes)
    if report.datasets:
        lines += ["", p("Datasets", "bold")]
        for d in report.datasets:
            lines.append(f"  {d.name}: {_dataset_headline(d)}")
            r = d.rows
            lines.extend(p(f"    note: {n}", "yellow") for n in r.notes)
            if r.fields:
                lines.append(f"    fields changed: {_field_freq(r)}")
            for row in r.changed_sample:
                lines.append(f"    ~ {d.primary_key}={_key(row.key)}")
                lines.extend(f"        {c}" for c in _change_lines(row))
            lines.extend(p(f"    + {_row_label(d, row)}", "green") for row in r.added_sample)
            lines.extend(p(f"    - {_row_label(d, row)}", "red") for row in r.removed_sample)
    lines.append("")
    summary = f"{len(breaking)} breaking schema change{'s' if len(breaking) != 1 else ''} ({mode})"
    lines.append(p(summary, "red" if breaking else "green"))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- Markdown


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    """Inline code that survives backticks in the text."""
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{_cell(text)}{pad}{fence}"


def render_markdown(report: DiffReport) -> str:
    mode = report.compat
    breaking = report.breaking()
    out = [f"## tdm diff {_code(report.base.label)} → {_code(report.head.label)}", ""]
    if not report.differs:
        out.append("No changes to schemas, templates, masking rules or datasets.")
        return "\n".join(out) + "\n"
    verdict = (
        f"**{len(breaking)} breaking schema change{'s' if len(breaking) != 1 else ''}**"
        if breaking
        else "**No breaking schema changes**"
    )
    out.append(
        f"{verdict} (compatibility mode: {mode}) · {len(report.schemas)} schema(s), "
        f"{len(report.files)} other file(s), {len(report.datasets)} dataset(s) changed"
    )
    if report.schemas:
        out += [
            "",
            "### Schemas",
            "",
            "| Schema | Change | Compatibility | Reason |",
            "|---|---|---|---|",
        ]
        for s in report.schemas:
            for c in s.changes:
                verdict_cell = "❌ breaking" if c.breaking(mode) else "✅ compatible"
                out.append(
                    f"| {_code(s.name)} | {_cell(c.detail)} | {verdict_cell} | {_cell(c.reason(mode))} |"
                )
    if report.files:
        out += ["", "### Templates, masking rules, configuration and lock", ""]
        for f in report.files:
            out.append(f"- {_code(f.path)} ({f.status})")
            out.extend(f"  - {_cell(c)}" for c in f.changes)
    if report.datasets:
        out += [
            "",
            "### Datasets",
            "",
            "| Dataset | Status | Rows before | Rows after | Added | Removed | Changed | Fields changed |",
            "|---|---|--:|--:|--:|--:|--:|---|",
        ]
        for d in report.datasets:
            r = d.rows
            out.append(
                f"| {_code(d.name)} | {d.status} | {r.rows_before:,} | {r.rows_after:,} | "
                f"{r.added:,} | {r.removed:,} | {r.changed:,} | {_cell(_field_freq(r)) or '-'} |"
            )
        for d in report.datasets:
            out.extend(_markdown_details(d))
    return "\n".join(out) + "\n"


def _markdown_details(d: DatasetDiff) -> list[str]:
    r = d.rows
    if d.status != "modified":
        return []
    out = ["", f"<details><summary>{d.name}: {_dataset_headline(d)}</summary>", ""]
    for note in r.notes:
        out.append(f"> {_cell(note)}")
        out.append("")
    if r.changed_sample:
        out += [
            f"Changed rows ({len(r.changed_sample)} of {r.changed:,}):",
            "",
            "| Key | Field | Old | New |",
            "|---|---|---|---|",
        ]
        for row in r.changed_sample:
            for c in row.fields:
                old = _code(_value(c.old)) if c.had_old else "(absent)"
                new = _code(_value(c.new)) if c.had_new else "(absent)"
                out.append(f"| {_code(_key(row.key))} | {_code(c.name)} | {old} | {new} |")
        out.append("")
    for title, sample, total in (
        ("Added rows", r.added_sample, r.added),
        ("Removed rows", r.removed_sample, r.removed),
    ):
        if sample:
            out += [f"{title} ({len(sample)} of {total:,}):", "", "```json"]
            out.extend(orjson.dumps(row).decode() for row in sample)
            out += ["```", ""]
    out.append("</details>")
    return out
