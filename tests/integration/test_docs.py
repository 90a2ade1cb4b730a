"""Issue 21 point 6: docs/cli.md stays in step with the CLI's command table (vouch
--commands-json, generated from src/cli/cli_commands.c): every command is documented exactly
once, nothing documented is missing from the CLI, and no documented option is one the command
does not take."""
import json
import os
import re
import subprocess

from conftest import VOUCH

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs")


def commands():
    doc = json.loads(subprocess.run([VOUCH, "--commands-json"], capture_output=True, text=True,
                                    check=True).stdout)
    table = {}
    for c in doc["commands"]:
        name = c["group"] + (" " + c["verb"] if c["verb"] else "")
        table[name] = {a["name"] for a in c["args"]} | {"--json", "--help"}
    for o in doc["offline"]:
        table["offline " + o["verb"]] = set(re.findall(r"--[a-z0-9-]+|-o\b", o["usage"])) | {
            "--json", "--help"}
    return table


def documented_rows():
    """(command, the row's first cell) of each table row of docs/cli.md naming a command."""
    table = commands()
    names = sorted(table, key=len, reverse=True)  # "acme endpoint create" before "acme"
    rows = []
    for line in open(os.path.join(DOCS, "cli.md")):
        if not line.startswith("| `") or line.startswith("| `-"):
            continue
        first = re.split(r"(?<!\\)\|", line)[1]  # the first cell ("\|" is a | inside it)
        # A cell may name several: "`webhook show` / `webhook set URL`", "(or `token delete ID`)"
        for cell in re.findall(r"`([^`]+)`", first):
            cell = cell[len("vouch "):] if cell.startswith("vouch ") else cell
            name = next((n for n in names if cell == n or cell.startswith(n + " ")), None)
            rows.append((name, cell))
    return rows


def test_every_command_is_documented_once_and_every_documented_one_exists():
    table = commands()
    rows = documented_rows()
    unknown = [cell for name, cell in rows if name is None]
    assert unknown == [], f"docs/cli.md documents commands the CLI does not have: {unknown}"
    seen = [name for name, _ in rows]
    twice = sorted({n for n in seen if seen.count(n) > 1})
    assert twice == [], f"docs/cli.md documents these more than once: {twice}"
    missing = sorted(set(table) - set(seen))
    assert missing == [], f"docs/cli.md does not document: {missing}"


def test_documented_options_are_options_of_the_command():
    table = commands()
    wrong = []
    for name, cell in documented_rows():
        for opt in re.findall(r"(?<![\w-])(--[a-z0-9-]+|-o)\b", cell):
            if opt not in table[name]:
                wrong.append(f"{name}: {opt}")
    assert wrong == [], f"docs/cli.md shows options the commands do not take: {wrong}"


def test_every_setting_is_in_the_operations_table_once():
    """docs/operations.md's settings table names each setting of vouchd's table (vouchd
    --settings-json, src/daemon/config.c) exactly once, and nothing else."""
    from conftest import VOUCHD
    doc = json.loads(subprocess.run([VOUCHD, "--settings-json"], capture_output=True, text=True,
                                    check=True).stdout)
    settings = {s["name"] for s in doc["settings"]}
    text = open(os.path.join(DOCS, "operations.md")).read()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    table, started = [], False
    for line in section.splitlines():  # the first table of the section, rows until it ends
        if line.startswith("| setting |"):
            started = True
        elif started and line.startswith("| `"):
            table += re.findall(r"`([a-z0-9_]+)`", line.split(" | ")[0])
        elif started and not line.startswith("|"):
            break
    twice = sorted({n for n in table if table.count(n) > 1})
    assert twice == [], f"settings listed twice: {twice}"
    assert sorted(settings - set(table)) == [], "settings missing from docs/operations.md"
    assert sorted(set(table) - settings) == [], "docs/operations.md lists unknown settings"


def test_files_the_docs_name_exist():
    """A source file, test, script or deployment file named in the docs is there (a renamed
    file takes its mentions along)."""
    root = os.path.join(DOCS, "..")
    names = set()
    for doc in [os.path.join(DOCS, f) for f in os.listdir(DOCS) if f.endswith(".md")] + \
            [os.path.join(root, "README.md")]:
        names |= set(re.findall(r"\b((?:src|tests|scripts|bench|deploy|fuzz)/[A-Za-z0-9_/.-]+"
                                r"\.(?:c|h|py|sh|cfg))\b", open(doc).read()))
    missing = sorted(n for n in names if not os.path.exists(os.path.join(root, n)))
    assert missing == [], f"the docs name files that do not exist: {missing}"


def test_the_roles_table_of_api_md_matches_the_role_map():
    """docs/api.md's table of roles (one row per role) names only permissions the role has,
    and every permission a role has beyond reading (writes, approvals, issuance, revocation) —
    reads may be told in words ("reading CAs, ...")."""
    from conftest import VOUCHD
    roles = json.loads(subprocess.run([VOUCHD, "--routes"], capture_output=True, text=True,
                                      check=True).stdout)["roles"]
    rows = {}
    for line in open(os.path.join(DOCS, "api.md")):
        m = re.match(r"^\| `([a-z-]+)` \| (.*) \|$", line)
        if m and m.group(1) in roles:
            assert m.group(1) not in rows, f"docs/api.md has two rows for {m.group(1)}"
            rows[m.group(1)] = m.group(2)
    assert set(rows) == set(roles), (set(roles) - set(rows), set(rows) - set(roles))
    problems = []
    for role, text in rows.items():
        granted = {p.split(":")[0] for p in roles[role]}
        named = set(re.findall(r"`([a-z]+\.(?:\*|[a-z]+))`", text))
        for n in named:
            prefix = n[:-1] if n.endswith("*") else None
            if (prefix and not any(g.startswith(prefix) for g in granted)) or \
                    (not prefix and n not in granted):
                problems.append(f"{role}: names {n}, which it is not granted")
        for g in granted:
            if g.endswith(".read") or g == "system":
                continue
            if g not in named and f"{g.split('.')[0]}.*" not in named:
                problems.append(f"{role}: is granted {g}, which its row does not name")
    assert problems == [], problems
