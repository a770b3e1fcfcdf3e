"""The closed catalogue of generator names.

A repository file names a generator by a plain string looked up here; nothing
in a schema or template can name a Python module, class or callable.  Faker
methods are reached only through :data:`FAKER_METHODS`; values that could
belong to a real person (e-mail, phone, card, IP address, host) come from
tdm's own safe-by-construction generators instead of Faker's.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from tdm import rng
from tdm._version import ENGINE_VERSION, __version__, faker_version
from tdm.fsutil import write_bytes_atomic

if TYPE_CHECKING:
    from faker import Faker

#: pool size per Faker method: values are drawn from a pool built once per run
POOL_SIZE = 2048

#: Faker methods a schema may name, all producing strings
FAKER_METHODS: frozenset[str] = frozenset(
    [
        "name",
        "first_name",
        "last_name",
        "first_name_male",
        "first_name_female",
        "prefix",
        "suffix",
        "user_name",
        "company",
        "company_suffix",
        "job",
        "catch_phrase",
        "bs",
        "street_address",
        "street_name",
        "building_number",
        "secondary_address",
        "city",
        "state",
        "state_abbr",
        "postcode",
        "zipcode",
        "country",
        "country_code",
        "address",
        "word",
        "sentence",
        "paragraph",
        "text",
        "color_name",
        "safe_color_name",
        "currency_code",
        "currency_name",
        "file_name",
        "file_extension",
        "mime_type",
        "language_name",
        "license_plate",
        "ean13",
        "ean8",
        "isbn10",
        "isbn13",
        "slug",
        "user_agent",
    ]
)

#: built-in generators and what JSON type each produces (None: depends on params)
BUILTINS: dict[str, str | None] = {
    "sequence": None,
    "uuid": "string",
    "choice": None,
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "date": "string",
    "datetime": "string",
    "time": "string",
    "regex": "string",
    "constant": None,
    "ref": None,
    "text": "string",
    "name": "string",
    "email": "string",
    "phone": "string",
    "credit_card_number": "string",
    "ipv4": "string",
    "ipv6": "string",
    "hostname": "string",
    "domain": "string",
    "uri": "string",
    "iban": "string",
    "sku": "string",
    "status": "string",
    "amount": None,
    "latitude": "number",
    "longitude": "number",
}

#: aliases: Faker's own names for things tdm makes safely
ALIASES = {
    "safe_email": "email",
    "free_email": "email",
    "company_email": "email",
    "phone_number": "phone",
    "msisdn": "phone",
    "card_number": "credit_card_number",
    "ipv4_public": "ipv4",
    "ipv4_private": "ipv4",
    "url": "uri",
    "domain_name": "domain",
    "full_name": "name",
    "date_time": "datetime",
}


def all_generator_names() -> list[str]:
    return sorted(set(BUILTINS) | FAKER_METHODS | set(ALIASES))


def canonical(name: str) -> str | None:
    """The catalogue's name for ``name``, or None when it is not in the catalogue."""
    name = ALIASES.get(name, name)
    if name in BUILTINS or name in FAKER_METHODS:
        return name
    return None


# ------------------------------------------------------------------ Faker, lazily

#: where built pools are kept between runs (see :func:`keep_pools_in`); None: nowhere
_pool_folder: Callable[[], Path | None] | None = None


def keep_pools_in(folder: Callable[[], Path | None] | None) -> None:
    """Keep built Faker pools (and Faker's list of locales) as files in the folder
    ``folder()`` names, asked for the first time a pool is needed (``tdm generate`` passes
    ``.git/tdm/pools``): a later run reads them instead of importing Faker and calling
    it thousands of times.  A file is keyed by the tdm and Faker versions, this module's
    source, the locale, the method and its parameters, so it holds exactly what Faker
    would give; an unreadable file is rebuilt."""
    global _pool_folder
    _pool_folder = folder


@functools.cache
def _pool_salt() -> str:
    source = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    return f"{__version__}\0{ENGINE_VERSION}\0{faker_version()}\0{source}"


def _kept(what: str, build: Callable[[], list[str]]) -> list[str]:
    folder = _pool_folder() if _pool_folder is not None else None
    if folder is None or folder.is_symlink():  # tdm writes nothing through a link
        return build()
    # one sub-folder per tdm/Faker/catalogue version: what older versions kept is removed
    # when this version keeps its first pool, so the folder holds one version's pools
    version = folder / hashlib.sha256(_pool_salt().encode()).hexdigest()[:16]
    name = hashlib.sha256(f"{_pool_salt()}\0{what}".encode()).hexdigest()
    path = version / f"{name}.json"
    with contextlib.suppress(OSError, orjson.JSONDecodeError):
        doc = orjson.loads(path.read_bytes())
        if isinstance(doc, dict) and doc.get("what") == what:
            values = doc.get("values")
            if isinstance(values, list) and all(isinstance(v, str) for v in values):
                return values
    values = build()
    with contextlib.suppress(OSError):  # a read-only folder: built again next time
        if not version.is_dir():
            _forget_other_versions(folder)
            version.mkdir(parents=True)
        write_bytes_atomic(path, orjson.dumps({"what": what, "values": values}))
    return values


def _forget_other_versions(folder: Path) -> None:
    """Remove the pools other tdm, Faker or catalogue versions kept in ``folder``."""
    if folder.is_symlink() or not folder.is_dir():
        return
    for entry in folder.iterdir():
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def _available_locales() -> list[str]:
    from faker.config import AVAILABLE_LOCALES

    return list(AVAILABLE_LOCALES)


@functools.cache
def _locales() -> frozenset[str]:
    return frozenset(_kept("locales", _available_locales))


def check_locale(locale: str) -> bool:
    return locale in _locales()


@functools.lru_cache(maxsize=16)
def _faker(locale: str) -> Faker:
    from faker import Faker

    return Faker(locale)


def faker_pool(locale: str, method: str, params: tuple[tuple[str, Any], ...] = ()) -> list[str]:
    """A deterministic pool of values of one Faker method (depends on Faker's version)."""
    return _faker_pool(locale, method, params)  # one cache key however it is called


@functools.lru_cache(maxsize=256)
def _faker_pool(locale: str, method: str, params: tuple[tuple[str, Any], ...]) -> list[str]:
    if method not in FAKER_METHODS:
        raise ValueError(f"{method!r} is not a Faker method in tdm's catalogue")
    what = f"pool\0{locale}\0{method}\0{params!r}"
    return _kept(what, lambda: _build_pool(locale, method, params))


def _build_pool(locale: str, method: str, params: tuple[tuple[str, Any], ...]) -> list[str]:
    fake = _faker(locale)
    key = rng.derive("faker-pool", locale, method, params)
    values = _word_list_pool(fake, method, key) if not params else None
    if values is None:
        # reseeding before each pool makes every pool independent of the order pools are built in
        fake.seed_instance(key & 0xFFFFFFFF)
        fn = getattr(fake, method)
        kwargs = dict(params)
        values = [str(fn(**kwargs)) for _ in range(POOL_SIZE)]
    # order-preserving de-duplication keeps the pool deterministic
    return list(dict.fromkeys(values))


#: Faker methods that are `random_element(self.<list>)` in Faker's base person provider
_WORD_LISTS = {"first_name": "first_names", "last_name": "last_names"}


def _word_list_pool(fake: Faker, method: str, key: int) -> list[str] | None:
    """The pool of a method that only picks from a (weighted) word list of the locale,
    drawn from that list with tdm's own random stream: the same values Faker would pick
    from, in milliseconds instead of thousands of Faker calls.  None where the locale's
    provider does something else (then Faker itself is called)."""
    attr = _WORD_LISTS.get(method)
    if attr is None:
        return None
    from faker.providers import person

    base = getattr(person.Provider, method)
    provider = next((p for p in fake.providers if isinstance(p, person.Provider)), None)
    if provider is None or getattr(type(provider), method) is not base:
        return None
    words = getattr(provider, attr, None)
    if isinstance(words, dict) and words:
        names = [str(w) for w in words]
        weights = [float(v) for v in words.values()]
    elif isinstance(words, list | tuple) and words:
        names, weights = [str(w) for w in words], [1.0] * len(words)
    else:
        return None
    picks = rng.weighted(key, rng.rows(0, POOL_SIZE), weights).tolist()
    return [names[i] for i in picks]


#: IBANs printed as examples in banks' and standards' documentation (valid check digits)
TEST_IBANS = [
    "DE89370400440532013000",
    "GB82WEST12345698765432",
    "GB33BUKB20201555555555",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "CH9300762011623852957",
    "BE68539007547034",
    "ES9121000418450200051332",
    "IT60X0542811101000000123456",
    "AT611904300234573201",
    "IE29AIBK93115212345678",
]
#: values of a 'status' property that has no enum
STATUSES = ["active", "pending", "inactive", "archived"]

#: card numbers the card networks publish for testing: pass Luhn, never charge anyone
TEST_CARD_NUMBERS = [
    "4111111111111111",
    "4012888888881881",
    "4242424242424242",
    "4000056655665556",
    "5555555555554444",
    "5105105105105100",
    "2223003122003222",
    "378282246310005",
    "371449635398431",
    "6011111111111117",
    "6011000990139424",
    "3056930009020004",
    "3566002020360505",
    "6200000000000005",
]

#: documentation address blocks (RFC 5737)
IPV4_DOC_PREFIXES = ["192.0.2.", "198.51.100.", "203.0.113."]

_US_AREAS = [
    201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219,
    301, 302, 303, 304, 305, 307, 308, 309, 310, 312, 313, 314, 315, 316, 317, 318, 319,
    401, 402, 404, 405, 406, 407, 408, 409, 410, 412, 413, 414, 415, 417, 419,
    501, 502, 503, 504, 505, 507, 508, 509, 510, 512, 513, 515, 516, 517, 518,
    601, 602, 603, 605, 606, 607, 608, 609, 610, 612, 614, 615, 616, 617, 618, 619,
    701, 702, 703, 704, 706, 707, 708, 712, 713, 714, 715, 716, 717, 718, 719,
    801, 802, 803, 804, 805, 806, 808, 810, 812, 813, 814, 815, 816, 817, 818,
    901, 903, 904, 906, 907, 908, 909, 910, 912, 913, 914, 915, 916, 917, 918, 919,
]  # fmt: skip

#: (prefixes, number of free digits) of numbers reserved for fiction, by locale
FICTIONAL_PHONES: dict[str, tuple[list[str], int]] = {
    # NANP: 555-0100 to 555-0199 in every area code
    "en_US": ([f"+1-{a}-555-01" for a in _US_AREAS], 2),
    "en_CA": ([f"+1-{a}-555-01" for a in _US_AREAS], 2),
    # Ofcom drama numbers, mobile 07700 900000-900999
    "en_GB": (["+44 7700 900"], 3),
    # Bundesnetzagentur drama numbers
    "de_DE": (["+49 30 23125", "+49 40 66969", "+49 69 90009", "+49 89 99998"], 3),
    # ARCEP numbers reserved for fiction
    "fr_FR": (["+33 1 99 00 ", "+33 2 61 91 ", "+33 3 53 01 ", "+33 6 39 98 "], 4),
}


def fictional_phone_ranges(locale: str) -> tuple[list[str], int]:
    return FICTIONAL_PHONES.get(locale, FICTIONAL_PHONES["en_US"])
