"""What tdm knows about a schema's fields: walking them, their subschemas, which hold
personal data, and the one vocabulary of property names that says what kind of value
a field holds (``email``, ``phone``, ``name``...).

Generation infers a generator from a name, masking a kind of fake value, scan and
validate which fields are personal: all of them read this module, so they agree.
"""

from __future__ import annotations

import re
from typing import Any

# ---------------------------------------------------------------------- walking fields


def property_schema(schema: dict[str, Any], field: str) -> dict[str, Any] | None:
    """The subschema of a (dotted) field, following properties, local $refs and allOf."""
    node: Any = schema
    for part in field.split("."):
        node = _properties(schema, node).get(part)
        if node is None:
            return None
    if node is True:
        return {}
    return node if isinstance(node, dict) else None


def _properties(root: dict[str, Any], node: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(node, dict):
        return out
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        out.update(_properties(root, target))
    for sub in node.get("allOf", []) if isinstance(node.get("allOf"), list) else []:
        out.update(_properties(root, sub))
    props = node.get("properties")
    if isinstance(props, dict):
        out.update(props)
    if isinstance(node.get("items"), dict):  # an array's items: items.<field> reads as <field>
        out.update(_properties(root, node["items"]))
    return out


def all_fields(schema: dict[str, Any], node: Any = None, prefix: str = "") -> list[str]:
    """Every (dotted) property path of a schema, objects' inner fields included."""
    node = schema if node is None else node
    out = []
    for name, sub in _properties(schema, node).items():
        path = f"{prefix}{name}"
        out.append(path)
        types = sub.get("type") if isinstance(sub, dict) else None
        if isinstance(sub, dict) and (
            "properties" in sub
            or "$ref" in sub
            or "allOf" in sub
            or types == "object"
            or (isinstance(types, list) and "object" in types)
        ):
            out.extend(all_fields(schema, sub, path + "."))
        elif isinstance(sub, dict) and isinstance(sub.get("items"), dict):
            out.extend(all_fields(schema, sub, path + "."))  # the fields of array items
    return out


# ---------------------------------------------------------------------- what a name says

#: property names (lower case, '-' and ' ' as '_') -> the kind of value they hold; a
#: generator name of :mod:`tdm.catalogue`.  Generation reads it for a string property
#: without a format, pattern or generator: an entry added here changes the bytes
#: generated for a property of that name, so new entries need care.
NAME_KINDS: dict[str, str] = {
    "first_name": "first_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "name": "name",
    "full_name": "name",
    "fullname": "name",
    "customer_name": "name",
    "contact_name": "name",
    "email": "email",
    "email_address": "email",
    "customer_email": "email",
    "phone": "phone",
    "phone_number": "phone",
    "mobile": "phone",
    "telephone": "phone",
    "city": "city",
    "town": "city",
    "state": "state",
    "region": "state",
    "country": "country",
    "country_code": "country_code",
    "zip": "postcode",
    "zipcode": "postcode",
    "zip_code": "postcode",
    "postcode": "postcode",
    "postal_code": "postcode",
    "street": "street_address",
    "street_address": "street_address",
    "address_line1": "street_address",
    "line1": "street_address",
    "address_line2": "secondary_address",
    "line2": "secondary_address",
    "company": "company",
    "company_name": "company",
    "job": "job",
    "job_title": "job",
    "username": "user_name",
    "user_name": "user_name",
    "login": "user_name",
    "website": "uri",
    "url": "uri",
    "homepage": "uri",
    "hostname": "hostname",
    "host": "hostname",
    "domain": "domain",
    "ip": "ipv4",
    "ip_address": "ipv4",
    "ipv4": "ipv4",
    "ipv6": "ipv6",
    "uuid": "uuid",
    "guid": "uuid",
    "card_number": "credit_card_number",
    "credit_card_number": "credit_card_number",
    "pan": "credit_card_number",
    "description": "sentence",
    "notes": "sentence",
    "comment": "sentence",
    "summary": "sentence",
    "color": "color_name",
    "colour": "color_name",
    "currency": "currency_code",
    "currency_code": "currency_code",
    "language": "language_name",
    "file_name": "file_name",
    "filename": "file_name",
    "company_suffix": "company_suffix",
    # masking has always read these; generation agrees since they moved here
    "forename": "first_name",
    "holder": "name",
    "recipient": "name",
    "msisdn": "phone",
    "fax": "phone",
    "employer": "company",
    # names common in real APIs (generation's inference; x-tdm overrides them)
    "created_at": "datetime",
    "updated_at": "datetime",
    "deleted_at": "datetime",
    "avatar_url": "uri",
    "image_url": "uri",
    "html_url": "uri",
    "amount": "amount",
    "price": "amount",
    "status": "status",
    "slug": "slug",
    "user_agent": "user_agent",
    "useragent": "user_agent",
    "sku": "sku",
    "iban": "iban",
    "latitude": "latitude",
    "lat": "latitude",
    "longitude": "longitude",
    "lng": "longitude",
    "lon": "longitude",
}
#: names above whose generator makes numbers: inferred for number/integer properties
#: without bounds (the schema's bounds always win)
NUMERIC_NAMES = frozenset({"amount", "latitude", "longitude"})


#: endings that name a kind whatever comes before them (``billing_email``)
_KIND_SUFFIXES = (("_email", "email"), ("_phone", "phone"))


def name_kind(name: str, *, compound: bool = False) -> str | None:
    """The kind of value a property called ``name`` holds, None when the name says
    nothing.  With ``compound`` a known name at the end of a longer one counts too
    (``billing_city`` -> city, ``card_holder`` -> name); generation, whose bytes are
    pinned, matches whole names only."""
    leaf = name.lower().replace("-", "_").replace(" ", "_")
    kind = _whole_name_kind(leaf)
    if kind is None and compound:
        parts = leaf.split("_")
        for i in range(1, len(parts)):
            kind = NAME_KINDS.get("_".join(parts[i:]))
            if kind is not None:
                break
    return kind


def _whole_name_kind(leaf: str) -> str | None:
    kind = NAME_KINDS.get(leaf)
    if kind is None:
        for suffix, suffix_kind in _KIND_SUFFIXES:
            if leaf.endswith(suffix):
                return suffix_kind
    return kind


# ---------------------------------------------------------------------- personal data fields

#: words that make a name personal, matched anywhere in it: wider than NAME_KINDS (birth
#: dates, national ids, IBANs...) because a miss here lets personal data through `tdm mask`
_PII_NAMES = re.compile(
    r"e_?mail|phone|mobile|msisdn|first_?name|last_?name|full_?name|surname|given_?name|"
    r"family_?name|^name$|holder|recipient|birth|(^|_)dob$|ssn|social_security|passport|"
    r"iban|card_?number|(^|_)card$|^number$|street|address_?line|(^|_)ip(_?address)?$|ipv[46]|"
    r"tax_?id|national_?id|license_?number"
)
_PII_FORMATS = frozenset({"email", "ipv4", "ipv6", "idn-email"})


def pii_fields(schema: dict[str, Any]) -> dict[str, str]:
    """Fields holding personal data -> why: declared ``x-tdm: {pii: true}``, or detected
    by format or name; ``pii: false`` or ``pii: synthetic`` opts a field out."""
    out: dict[str, str] = {}
    for field in all_fields(schema):
        prop = property_schema(schema, field) or {}
        hint = prop.get("x-tdm") if isinstance(prop.get("x-tdm"), dict) else {}
        assert isinstance(hint, dict)
        declared = hint.get("pii")
        if declared is True:
            out[field] = "declared pii: true"
        elif declared in (False, "synthetic"):
            continue
        elif prop.get("format") in _PII_FORMATS:
            out[field] = f"format {prop['format']}"
        elif _PII_NAMES.search(field.rsplit(".", 1)[-1].lower()) and _holds_text(prop):
            out[field] = "its name"
    return out


def _holds_text(prop: dict[str, Any]) -> bool:
    t = prop.get("type")
    types = {t} if isinstance(t, str) else set(t) if isinstance(t, list) else {"string"}
    return bool(types & {"string", "integer"})
