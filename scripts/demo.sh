#!/usr/bin/env bash
# `make demo`: tdm's main job on the sample repository, end to end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tdm="$here/.venv/bin/tdm"
demo="$here/demo-shop"
export TDM_NO_PROGRESS="${TDM_NO_PROGRESS:-}"
# an identity for the demo's commits when the machine has none (git's own variables)
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-tdm demo}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-demo@example.com}"
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-tdm demo}" GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-demo@example.com}"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

rm -rf "$demo"
# its own git repository, not a folder of tdm's checkout (the checkout ignores demo-shop/)
git init -q -b main "$demo"
step tdm init demo-shop --sample
"$tdm" init "$demo" --sample
cd "$demo"
test "$(git rev-parse --show-toplevel)" = "$demo"  # never commit into the surrounding checkout

step tdm generate --jobs 2
"$tdm" generate --jobs 2

step tdm validate
"$tdm" validate

step tdm status
"$tdm" status

step 'tdm commit -m "sample data" && tdm tag v1.0 -m "baseline"'
"$tdm" commit -m "sample data" | head -4
"$tdm" tag v1.0 -m "baseline"

step "break row 3 of datasets/smoke/customers.jsonl by hand; tdm validate"
python3 - <<'PY'
import json, pathlib
p = pathlib.Path("datasets/smoke/customers.jsonl")
lines = p.read_text().splitlines()
row = json.loads(lines[2]); row["loyalty_points"] = "lots"
lines[2] = json.dumps(row)
p.write_text("\n".join(lines) + "\n")
PY
set +e; "$tdm" validate; rc=$?; set -e
echo "exit code: $rc (1 = findings)"
git checkout -q -- datasets/smoke/customers.jsonl

step "add a property to schemas/customers.yaml; tdm status"
printf '  nickname:         {type: string, maxLength: 20, x-tdm: {presence: 0.3}}\n' >> schemas/customers.yaml
"$tdm" status

step "tdm generate --check   # the CI gate"
set +e; "$tdm" generate --check; rc=$?; set -e
echo "exit code: $rc (1 = committed data no longer matches its recipe)"

step tdm generate smoke
"$tdm" generate smoke
step "git diff --stat   # only the column that changed, and tdm.lock"
git --no-pager diff --stat

step "tdm diff --rows 2   # the review: schema change classified, rows by primary key"
"$tdm" diff --rows 2

step 'tdm commit -m "nickname" && tdm tag v1.1 && tdm versions'
"$tdm" commit -m "nickname" | tail -1
"$tdm" tag v1.1 >/dev/null
"$tdm" versions

step "tdm show smoke/customers@v1.0 --limit 2 --where country=DE   # no checkout"
"$tdm" show smoke/customers@v1.0 --limit 2 --where country=DE

step "tdm diff v1.0 v1.1 --format markdown --rows 1   # a pull-request comment"
"$tdm" diff v1.0 v1.1 --format markdown --rows 1 | head -30

step "tdm diff v1.0 v1.1 --fail-on breaking   # the CI gate (adding an optional property to a closed object is compatible)"
"$tdm" diff v1.0 v1.1 --fail-on breaking >/dev/null && echo "exit code: 0 (no breaking schema change)"

step "tdm mask prod_customers.csv -r customers -o datasets/prod-sample/customers.jsonl   # real records in, masked"
keydir=$(mktemp -d)
trap 'rm -rf "$keydir"' EXIT
python3 -c 'import secrets; print(secrets.token_hex(32))' > "$keydir/masking.key"   # outside the repository
python3 - "$keydir/prod_customers.csv" <<'PY'
import csv, json, sys
rows = [json.loads(line) for line in open("datasets/smoke/customers.jsonl")][:50]
with open(sys.argv[1], "w", newline="") as fh:   # "production" rows: real-looking addresses
    out = csv.DictWriter(fh, fieldnames=[k for k in rows[0] if k != "referrer_id"], extrasaction="ignore")
    out.writeheader()
    for r in rows:
        r["email"] = r["email"].split("@")[0] + "@gmail.com"
        r["phone"] = "+1-415-73%02d-%04d" % (r["id"] % 100, 1000 + r["id"])
        out.writerow({k: "" if v is None else str(v).lower() if isinstance(v, bool) else v for k, v in r.items()})
PY
head -2 "$keydir/prod_customers.csv"
"$tdm" mask "$keydir/prod_customers.csv" -r customers -o datasets/prod-sample/customers.jsonl --key-file "$keydir/masking.key"
head -1 datasets/prod-sample/customers.jsonl

step "tdm scan   # personal data in the clear? (a leaked row is planted first)"
cp datasets/prod-sample/customers.jsonl "$keydir/keep.jsonl"
printf '{"id":999,"email":"jane.roe@gmail.com","card":"4539 1488 0343 6467"}\n' >> datasets/prod-sample/customers.jsonl
set +e; "$tdm" scan; rc=$?; set -e
echo "exit code: $rc (1 = findings; values are never printed)"
cp "$keydir/keep.jsonl" datasets/prod-sample/customers.jsonl

step "tdm hooks install && git commit   # the hook validates and scans what is staged"
"$tdm" hooks install
git add -A
git commit -q -m "masked production sample" && echo "committed: $(git log -1 --format=%s)"

step "tdm env create dev && tdm env create staging --from dev   # environments are branches"
"$tdm" env create dev                     # from HEAD, as `git branch` does
"$tdm" env create staging --from dev      # declared in the sample's tdm.yaml (protected)
"$tdm" env list

step "two branches change neighbouring rows of one dataset; git merge merges them by key"
edit_row() {  # row index, loyalty points
  python3 - "$1" "$2" <<'PY'
import json, sys
p = "datasets/smoke/customers.jsonl"
rows = [json.loads(line) for line in open(p)]
rows[int(sys.argv[1])]["loyalty_points"] = int(sys.argv[2])
open(p, "w").write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))
PY
}
"$tdm" env switch staging
edit_row 30 11 && "$tdm" resolve tdm.lock >/dev/null && git commit -q -am "staging: row 31"
"$tdm" env switch dev
edit_row 31 22 && "$tdm" resolve tdm.lock >/dev/null && git commit -q -am "dev: row 32"
git merge -q --no-edit env/staging && echo "git merge: clean ($(git log -1 --format=%s))"
"$tdm" validate | tail -1

step "tdm env promote dev staging   # fast-forward or merge, validated first"
"$tdm" env promote dev staging
git checkout -q main

step "tdm checkout v1.0 && tdm checkout main"
"$tdm" checkout v1.0
"$tdm" checkout main

printf '\nDemo repository left in %s\n' "$demo"
