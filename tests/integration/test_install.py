"""make install: the programs with their version, and man pages and a bash completion generated
from the programs' own tables, so that neither can miss a command or a setting.

One `make install DESTDIR=<temporary directory>` for the module; the checks read what landed
there with tools no one here wrote: mandoc (lint and rendering) and bash."""
import json
import os
import re
import shlex
import shutil
import subprocess

import pytest

from conftest import BUILD, ROOT, VOUCH, VOUCHD

PREFIX = "/usr"


def tool_json(program, flag):
    return json.loads(subprocess.run([program, flag], capture_output=True, text=True,
                                     check=True, timeout=30).stdout)


@pytest.fixture(scope="module")
def commands():
    return tool_json(VOUCH, "--commands-json")


@pytest.fixture(scope="module")
def settings():
    return tool_json(VOUCHD, "--settings-json")["settings"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The DESTDIR of `make install`, made from the binaries under test (the ASan build's too)."""
    dest = str(tmp_path_factory.mktemp("destdir"))
    cmd = ["make", "-C", ROOT, "install", "DESTDIR=" + dest, "PREFIX=" + PREFIX, "BUILD=" + BUILD]
    if os.path.basename(BUILD) == "build-asan":  # make integration-asan: keep its flags
        cmd.append("SANITIZE=address,undefined")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return dest + PREFIX


def version_line(program):
    out = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def expected_commit():
    """The commit the Makefile names: this tree's HEAD, or "unknown" outside git."""
    try:
        out = subprocess.run(["git", "-C", ROOT, "rev-parse", "--show-toplevel", "--short",
                              "HEAD"], capture_output=True, text=True)
    except FileNotFoundError:
        return "unknown"
    lines = out.stdout.split()
    if out.returncode != 0 or os.path.realpath(lines[0]) != os.path.realpath(ROOT):
        return "unknown"
    return lines[1]


def test_both_programs_print_the_version_file_and_the_commit():
    with open(os.path.join(ROOT, "VERSION")) as f:
        version = f.read().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    for name, program in (("vouch", VOUCH), ("vouchd", VOUCHD)):
        assert version_line(program) == f"{name} {version} (commit {expected_commit()})\n", \
            "not built from this commit? (make bins)"


def test_the_version_header_follows_the_commit_and_is_rewritten_only_when_it_changes(tmp_path):
    """The Makefile's build/gen/version.h, in a copy of the Makefile and VERSION: "unknown"
    outside git; in a repository, its HEAD, the file untouched while HEAD stays, renewed by a
    new commit (so the programs relink)."""
    for name in ("Makefile", "VERSION"):
        shutil.copy(os.path.join(ROOT, name), tmp_path / name)
    header = tmp_path / "build" / "gen" / "version.h"

    def make_header():
        out = subprocess.run(["make", "-s", "-C", str(tmp_path), "build/gen/version.h"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return header.read_text(), header.stat().st_mtime_ns

    with open(os.path.join(ROOT, "VERSION")) as f:
        version = f.read().strip()
    text, _ = make_header()
    assert text == f'#define VOUCH_VERSION "{version}"\n#define VOUCH_COMMIT "unknown"\n'

    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t",
                               "-c", "user.email=t@example.com", *args], capture_output=True,
                              text=True, check=True).stdout.strip()
    git("init", "-q")
    git("add", "Makefile", "VERSION")
    git("commit", "-qm", "one")
    first, _ = make_header()
    assert f'"{git("rev-parse", "--short", "HEAD")}"' in first
    os.utime(header, ns=(1, 1))  # an old file: a rewrite would show
    assert make_header() == (first, 1)
    git("commit", "-q", "--allow-empty", "-m", "two")
    second, stamp = make_header()
    assert second != first and f'"{git("rev-parse", "--short", "HEAD")}"' in second
    assert stamp > 1


def test_make_install_puts_every_file_under_destdir_and_prefix(installed):
    for path, mode in (("bin/vouch", 0o755), ("sbin/vouchd", 0o755),
                       ("share/man/man1/vouch.1", 0o644), ("share/man/man8/vouchd.8", 0o644),
                       ("share/man/man5/vouchd.conf.5", 0o644),
                       ("share/bash-completion/completions/vouch", 0o644),
                       ("share/doc/vouch/vouchd.conf.example", 0o644),
                       ("lib/systemd/system/vouchd.service", 0o644)):
        full = os.path.join(installed, path)
        assert os.path.isfile(full), path
        assert os.stat(full).st_mode & 0o777 == mode, path
    # The unit starts the vouchd installed beside it.
    unit = open(os.path.join(installed, "lib/systemd/system/vouchd.service")).read()
    assert f"\nExecStart={PREFIX}/sbin/vouchd -c " in unit, unit
    # The installed programs are the ones built, and run from where they landed.
    assert version_line(os.path.join(installed, "bin", "vouch")) == version_line(VOUCH)
    assert version_line(os.path.join(installed, "sbin", "vouchd")) == version_line(VOUCHD)


def man_page(installed, section, name):
    return os.path.join(installed, "share", "man", "man" + section, f"{name}.{section}")


def man_text(path):
    """The page as a reader sees it, on lines long enough that no synopsis is broken, with
    runs of white space made one space."""
    out = subprocess.run(["mandoc", "-T", "ascii", "-O", "width=1000", path],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return re.sub(r"\s+", " ", re.sub(r".\x08", "", out.stdout))


@pytest.mark.parametrize("section,name", [("1", "vouch"), ("8", "vouchd"), ("5", "vouchd.conf")])
def test_each_man_page_is_clean_for_mandoc_and_man(installed, section, name):
    page = man_page(installed, section, name)
    lint = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", page], capture_output=True,
                          text=True, timeout=30)
    assert lint.returncode == 0 and lint.stdout == "" and lint.stderr == "", lint.stdout
    shown = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                           timeout=30, env=dict(os.environ, MANPAGER="cat", MANWIDTH="80"))
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    assert name.upper() + "(" + section + ")" in shown.stdout


def test_vouch_1_shows_every_command_of_the_table_with_its_arguments(installed, commands):
    text = man_text(man_page(installed, "1", "vouch"))
    assert len(commands["commands"]) > 50
    for c in commands["commands"]:
        words = ["vouch", c["group"]] + ([c["verb"]] if c["verb"] else [])
        synopsis = " ".join(words + [a["usage"] for a in c["args"]])
        assert synopsis in text, synopsis
    for o in commands["offline"]:
        assert f"vouch offline {o['verb']} {o['usage']}" in text
    for g in commands["globals"]:
        assert f"{g['flag']} {g['metavar']} Environment {g['env']}" in text
    assert "--version Print the version" in text


def test_vouchd_conf_5_and_the_example_show_every_setting(installed, settings):
    text = man_text(man_page(installed, "5", "vouchd.conf"))
    with open(os.path.join(installed, "share", "doc", "vouch", "vouchd.conf.example")) as f:
        example = f.read()
    assert len(settings) > 50
    for s in settings:
        assert f"{s['name']} = {s['type']} " in text, s["name"]
        assert re.sub(r"\s+", " ", s["help"])[1:] in text, s["name"]
        default = s["default"]
        assert f"\n#{s['name']} ={' ' + default if default is not None else ''}\n" in example
    # The example, uncommented, is a configuration vouchd accepts as it is.
    conf = os.path.join(os.path.dirname(installed), "vouchd.conf")
    with open(conf, "w") as f:
        f.write("".join(line[1:] for line in example.splitlines(True)
                        if re.match(r"#\w+ = ", line)))
    out = subprocess.run([VOUCHD, "-c", conf, "--check"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr


def complete(completion, lines):
    """Runs the completion for each command line (the word under the cursor last) in one bash;
    returns the candidates of each."""
    script = [f". {shlex.quote(completion)}"]
    for words in lines:
        script.append("COMP_WORDS=(" + " ".join(shlex.quote(w) for w in words) + ")")
        script.append("COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _vouch")
        script.append('echo "${COMPREPLY[*]}"')
    out = subprocess.run(["bash", "--norc", "-c", "\n".join(script)], capture_output=True,
                         text=True, timeout=60, cwd=os.path.dirname(completion))
    assert out.returncode == 0 and out.stderr == "", out.stderr
    results = out.stdout.split("\n")[:-1]
    assert len(results) == len(lines)
    return [set(r.split()) for r in results]


def test_bash_completion_offers_every_command_and_its_options(installed, commands):
    completion = os.path.join(installed, "share", "bash-completion", "completions", "vouch")
    lines, expected = [], []
    for c in commands["commands"]:
        words = ["vouch"] + c["group"].split() + ([c["verb"]] if c["verb"] else [])
        lines.append(words[:-1] + [""])  # the command's last word is offered after the others
        expected.append({words[-1]})
        lines.append(words + ["--"])  # then every option of its row
        expected.append({a["name"] for a in c["args"] if a["name"].startswith("--")} |
                        {"--json", "--help"})
    for o in commands["offline"]:
        lines.append(["vouch", "offline", ""])
        expected.append({o["verb"]})
    lines.append(["vouch", "--url", "x", "c"])  # past a global option and its value
    expected.append({"ca", "cert", "crl"})
    lines.append(["vouch", "acme", "endpoint", "create", "--caa-check", ""])
    expected.append({"yes", "no"})
    lines.append(["vouch", "cert", "issue", "--csr", "vouc"])  # a file: the completion itself
    expected.append({"vouch"})
    got = complete(completion, lines)
    for words, want, have in zip(lines, expected, got):
        if words[-1] == "--":
            assert have == want, words
        else:
            assert want <= have, words
