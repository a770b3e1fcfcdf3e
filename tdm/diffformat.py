"""The three shapes of a :class:`tdm.diff.DiffReport`: JSON, text and Markdown.

The JSON document is tdm's stable interface (``format_version`` 1, documented in the
README); text and Markdown are for people and may change wording between releases.
Values are shown as they are in the files: masked fields stay masked.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

from tdm import canon
from tdm.datadiff import ChangedRow, RowDiff

if TYPE_CHECKING:
    from tdm.diff import DatasetDiff, DiffReport

# ---------------------------------------------------------------------- JSON

#: the JSON document's schema version; bump it on any incompatible change
FORMAT_VERSION = 2


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
        "format_version": FORMAT_VERSION,
        "base": _side(report.base),
        "head": _side(report.head),
        "compat": report.compat,
        "rules": report.rules,
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
                        "type": c.type,
                        "path": c.path,
                        "direction": c.direction,
                        "version": c.version,
                        "detail": c.detail,
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
    return canon.encode(report_json(report), sort_keys=False, indent=True).decode() + "\n"


# ---------------------------------------------------------------------- safe text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe(text: str) -> str:
    """Control characters (terminal escapes, bidi overrides) from data shown as \\xNN:
    a dataset must not be able to drive the reviewer's terminal."""
    return _CONTROL.sub(
        lambda m: (
            f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 256 else f"\\u{ord(m.group(0)):04x}"
        ),
        text,
    )


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


# ---------------------------------------------------------------------- text

_COLOURS = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}


class _Paint:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, style: str) -> str:
        text = safe(text)
        if not self.colour:
            return text
        return f"\033[{_COLOURS[style]}m{text}\033[0m"


def _key(value: Any) -> str:
    return canon.show(value)


def _dataset_headline(d: DatasetDiff) -> str:
    r = d.rows
    if d.status == "added":
        return f"added, {_plural(r.rows_after, 'row')}"
    if d.status == "removed":
        return f"removed, had {_plural(r.rows_before, 'row')}"
    return (
        f"{r.rows_before:,} -> {_plural(r.rows_after, 'row')}: "
        f"+{r.added:,} added, -{r.removed:,} removed, ~{r.changed:,} changed"
    )


def _field_freq(rows: RowDiff) -> str:
    items = sorted(rows.fields.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{name} ({n:,})" for name, n in items)


def _change_lines(row: ChangedRow) -> list[str]:
    out = []
    for c in row.fields:
        old = canon.show(c.old) if c.had_old else "(absent)"
        new = canon.show(c.new) if c.had_new else "(absent)"
        out.append(f"{c.name}: {old} -> {new}")
    return out


def _row_label(d: DatasetDiff, row: Any) -> str:
    if d.primary_key and isinstance(row, dict) and d.primary_key in row:
        return f"{d.primary_key}={_key(row[d.primary_key])}"
    return canon.show(row, 100)


def render_text(report: DiffReport, *, colour: bool = False) -> str:
    p = _Paint(colour)
    mode = report.compat
    lines = [p(f"tdm diff {report.base.label} -> {report.head.label}", "bold")]
    if not report.differs:
        lines.append("no changes")
        return "\n".join(lines) + "\n"
    breaking = report.breaking()
    if report.schemas:
        lines += ["", p(f"Schemas (compatibility: {mode}, rules: {report.rules})", "bold")]
        for s in report.schemas:
            lines.append(safe(f"  {s.name} ({s.status}, {s.path})"))
            for c in s.changes:
                tag = p("BREAKING  ", "red") if c.breaking(mode) else p("compatible", "green")
                lines.append(f"    {tag} {safe(c.detail)} [{c.type}]")
                lines.append(p(f"               {c.reason(mode)}", "dim"))
    if report.files:
        lines += ["", p("Templates, masking rules, configuration and lock", "bold")]
        for f in report.files:
            lines.append(safe(f"  {f.path} ({f.status})"))
            lines.extend(safe(f"    {c}") for c in f.changes)
    if report.datasets:
        lines += ["", p("Datasets", "bold")]
        for d in report.datasets:
            lines.append(safe(f"  {d.name}: {_dataset_headline(d)}"))
            r = d.rows
            lines.extend(p(f"    note: {n}", "yellow") for n in r.notes)
            if r.fields:
                lines.append(safe(f"    fields changed: {_field_freq(r)}"))
            for row in r.changed_sample:
                lines.append(safe(f"    ~ {d.primary_key}={_key(row.key)}"))
                lines.extend(safe(f"        {c}") for c in _change_lines(row))
            lines.extend(p(f"    + {_row_label(d, row)}", "green") for row in r.added_sample)
            lines.extend(p(f"    - {_row_label(d, row)}", "red") for row in r.removed_sample)
    lines.append("")
    summary = f"{len(breaking)} breaking schema change{'s' if len(breaking) != 1 else ''} ({mode})"
    lines.append(p(summary, "red" if breaking else "green"))
    # every piece of data went through safe(): the only escapes are our colours
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- Markdown

#: GitHub refuses comments over 65,536 characters; details are dropped to stay under
MARKDOWN_LIMIT = 60_000
#: the first line of the comment, to find and update it on the next push
MARKER = "<!-- tdm diff -->"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def _md(text: str) -> str:
    """Untrusted text as Markdown that renders as itself: no HTML, no emphasis, no links."""
    text = safe(text).replace("\r", " ").replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _code(text: str) -> str:
    """Inline code, safe in a table cell: the fence is longer than any backtick run in
    the text; only the pipe needs escaping inside (GitHub's table rule)."""
    text = safe(text).replace("\r", " ").replace("\n", " ")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    body = text.replace("|", "\\|")
    return f"{fence}{pad}{body}{pad}{fence}"


def _fenced(lines: list[str], info: str = "") -> list[str]:
    body = [safe(line) for line in lines]
    longest = max((len(m) for line in body for m in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", *body, fence]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_markdown(report: DiffReport) -> str:
    mode = report.compat
    breaking = report.breaking()
    out = [MARKER, f"## tdm diff {_code(report.base.label)} → {_code(report.head.label)}", ""]
    if not report.differs:
        out.append("No changes to schemas, templates, masking rules or datasets.")
        return "\n".join(out) + "\n"
    verdict = (
        f"**{len(breaking)} breaking schema change{'s' if len(breaking) != 1 else ''}**"
        if breaking
        else "**No breaking schema changes**"
    )
    out.append(
        f"{verdict} (compatibility mode: {mode}, rules: {report.rules}) · {len(report.schemas)} schema(s), "
        f"{len(report.files)} other file(s), {len(report.datasets)} dataset(s) changed"
    )
    if report.schemas:
        out += [
            "",
            "### Schemas",
            "",
            "| Schema | Change | Type | Compatibility | Reason |",
            "|---|---|---|---|---|",
        ]
        for sd in report.schemas:
            for c in sd.changes:
                verdict_cell = "❌ breaking" if c.breaking(mode) else "✅ compatible"
                out.append(
                    f"| {_code(sd.name)} | {_md(c.detail)} | {_code(c.type)} | {verdict_cell} "
                    f"| {_md(c.reason(mode))} |"
                )
    if report.files:
        out += ["", "### Templates, masking rules, configuration and lock", ""]
        for f in report.files:
            out.append(f"- {_code(f.path)} ({f.status})")
            out.extend(f"  - {_md(c)}" for c in f.changes)
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
            fields = ", ".join(
                f"{_code(name)} ({n:,})"
                for name, n in sorted(r.fields.items(), key=lambda kv: (-kv[1], kv[0]))
            )
            out.append(
                f"| {_code(d.name)} | {d.status} | {r.rows_before:,} | {r.rows_after:,} | "
                f"{r.added:,} | {r.removed:,} | {r.changed:,} | {fields or '-'} |"
            )
    text = "\n".join(out) + "\n"
    omitted = 0
    for d in report.datasets:
        details = "\n".join(_markdown_details(d)) + "\n" if d.status == "modified" else ""
        if len(text) + len(details) > MARKDOWN_LIMIT:
            omitted += 1 if details else 0
            continue
        text += details
    if omitted:
        text += (
            f"\n_{omitted} dataset detail section(s) left out to fit a comment; "
            "run `tdm diff` locally or use `--format json`._\n"
        )
    return text


def _markdown_details(d: DatasetDiff) -> list[str]:
    r = d.rows
    out = [
        "",
        f"<details><summary>{html.escape(safe(d.name))}: {html.escape(_dataset_headline(d))}</summary>",
        "",
    ]
    for note in r.notes:
        out.append(f"> {_md(_clip(note, 300))}")
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
                old = _code(canon.show(c.old, 200)) if c.had_old else "(absent)"
                new = _code(canon.show(c.new, 200)) if c.had_new else "(absent)"
                out.append(
                    f"| {_code(_key(row.key))} | {_code(_clip(c.name, 100))} | {old} | {new} |"
                )
        out.append("")
    for title, sample, total in (
        ("Added rows", r.added_sample, r.added),
        ("Removed rows", r.removed_sample, r.removed),
    ):
        if sample:
            out += [f"{title} ({len(sample)} of {total:,}):", ""]
            out += _fenced([_clip(canon.dumps(row).decode(), 1000) for row in sample], "json")
            out.append("")
    out.append("</details>")
    return out
