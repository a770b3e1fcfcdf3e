"""The Mimesis baseline of bench_generate.py: the sample customer record, as a script.

    python bench/mimesis_customers.py ROWS OUT.jsonl

The same record shape as the sample's ``customers`` schema (id, email, first and last
name, phone, birth date, signup time, weighted country, nullable tier, opt-in flag,
loyalty points, and an optional nullable ``referrer_id`` pointing at an earlier id),
written as JSON Lines with the standard ``json`` module.  It runs as a child process
like the tdm CLI, so both figures include interpreter start-up and imports.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

from mimesis import Datetime, Person
from mimesis.locales import Locale
from mimesis.random import Random


def main() -> int:
    rows, out = int(sys.argv[1]), sys.argv[2]
    person = Person(Locale.EN, seed=1)
    dates = Datetime(seed=1)
    rnd = Random(1)
    countries = ["US", "DE", "FR", "GB", "IN"]
    tiers = ["bronze", "silver", "gold"]
    start_birth, birth_days = (
        dt.date(1940, 1, 1),
        (dt.date(2006, 12, 31) - dt.date(1940, 1, 1)).days,
    )
    dumps = json.dumps
    with open(out, "w", encoding="utf-8") as fh:
        for i in range(1, rows + 1):
            row = {
                "id": i,
                "email": person.email(),
                "first_name": person.first_name(),
                "last_name": person.last_name(),
                "phone": person.phone_number(),
                "birth_date": (
                    start_birth + dt.timedelta(days=rnd.randint(0, birth_days))
                ).isoformat(),
                "signup_at": dates.datetime(2019, 2025).isoformat(),
                "country": rnd.choices(countries, weights=[6, 2, 2, 2, 1])[0],
                "tier": None if rnd.random() < 0.3 else rnd.choices(tiers, weights=[6, 3, 1])[0],
                "marketing_opt_in": rnd.random() < 0.5,
                "loyalty_points": rnd.randint(0, 50_000),
            }
            if rnd.random() < 0.5:
                row["referrer_id"] = None if rnd.random() < 0.7 else rnd.randint(1, i)
            fh.write(dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
