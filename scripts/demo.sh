#!/usr/bin/env bash
# `make demo`: tdm's main job on the sample repository, end to end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tdm="$here/.venv/bin/tdm"
demo="$here/demo-shop"
export TDM_NO_PROGRESS="${TDM_NO_PROGRESS:-}"

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

step "git add -A && git commit -m 'sample data'"
git add -A >/dev/null
git -c user.name=tdm-demo -c user.email=demo@example.com commit -qm "sample data"
echo "committed $(git rev-parse --short HEAD)"

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
step "git diff --stat"
git --no-pager diff --stat

printf '\nDemo repository left in %s\n' "$demo"
