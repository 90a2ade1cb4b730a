#!/usr/bin/env python3
"""Renders the man pages vouch(1), vouchd(8) and vouchd.conf(5), and an example configuration,
from the tables the programs use themselves: the CLI's command table (`vouch --commands-json`,
src/cli/cli_commands.c) and vouchd's settings table (`vouchd --settings-json`,
src/daemon/config.c).  The prose around them is hand-written roff in docs/man/*.in; a line that
is only @NAME@ there is replaced by the generated part of that name, and @VERSION@ and @DATE@
anywhere by the version and date given.  `make man` runs this into build/man;
tests/integration/test_install.py checks the pages with mandoc and looks for every command and
setting in them.

    gen-man.py --vouch build/vouch --vouchd build/vouchd --version 0.1.0 --date 2026-12-07 \
        --templates docs/man --out build/man
"""
import argparse
import json
import os
import re
import subprocess
import sys
import textwrap

PAGES = ("vouch.1", "vouchd.8", "vouchd.conf.5")


def text(s):
    """Plain text for roff: backslashes and hyphens escaped, no line starting a request."""
    s = s.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", s, flags=re.M)


def bold(s):
    return "\\fB" + text(s) + "\\fR"


def breakable(s):
    """A long value without spaces (a TLS priority string) may break after its colons."""
    return s.replace(":", ":\\:")


def italic(s):
    return "\\fI" + text(s) + "\\fR"


def arg_roff(a):
    """One argument of a synopsis: options bold, placeholders italic, brackets for optional."""
    if not a["option"]:
        word = italic(a["name"])
    else:
        word = bold(a["name"])
        if a.get("metavar"):
            word += " " + italic(a["metavar"])
    if a["repeats"]:
        word += " ..."
    return word if a["required"] else "[" + word + "]"


def command_name(c):
    return c["group"] + (" " + c["verb"] if c.get("verb") else "")


def command_what(c):
    """What a command does, in the terms of the table: the request it sends."""
    if c["scope"] == "local":
        return "Works on local files; needs no server."
    path = c["path"] if c["scope"] == "system" else "/api/v1/t/{TENANT}" + c["path"]
    for a in c["args"]:
        if a["dest"] == "path":
            path = path.replace("{}", "{" + a["name"] + "}", 1)
    who = "a system token" if c["scope"] == "system" else "a token of the tenant"
    return "Sends %s %s (%s)." % (c["method"], text(path), who)


def groups_in_order(commands):
    seen = []
    for c in commands:
        top = c["group"].split()[0]
        if top not in seen:
            seen.append(top)
    return seen


def vouch_commands(doc):
    out = []
    commands = doc["commands"]
    for top in groups_in_order(commands):
        out.append(".SS " + text(top))
        for c in commands:
            if c["group"].split()[0] != top:
                continue
            out.append(".TP")
            out.append(" ".join([bold("vouch " + command_name(c))] +
                                [arg_roff(a) for a in c["args"]]))
            if c.get("summary"):
                out.append(text(c["summary"][0].upper() + c["summary"][1:]) + ".")
            out.append(command_what(c))
            helped = [a for a in c["args"] if a.get("help")]
            if helped:
                out.append(".RS")
                for a in helped:
                    out.append(".TP")
                    out.append(bold(a["name"]) if a["option"] else italic(a["name"]))
                    out.append(text(a["help"]))
                out.append(".RE")
    out.append(".SS offline")
    for o in doc["offline"]:
        out.append(".TP")
        out.append(bold("vouch offline " + o["verb"]) + " " + text(o["usage"]))
        out.append("The offline CA on a local store (see OFFLINE CA below).")
    return out


def vouch_globals(doc):
    out = []
    for g in doc["globals"]:
        out.append(".TP")
        out.append(bold(g["flag"]) + " " + italic(g["metavar"]))
        line = "Environment " + bold(g["env"]) + ", config key " + bold(g["key"])
        if g.get("default"):
            line += "; default " + text(g["default"])
        out.append(line + ".")
    return out


def vouch_synopsis_commands(doc):
    names = [command_name(c) for c in doc["commands"]] + \
        ["offline " + o["verb"] for o in doc["offline"]]
    groups = []
    for n in names:
        g = n.split()[0]
        if g not in groups:
            groups.append(g)
    return [".PP", "Commands: " + ", ".join(bold(g) for g in groups) + "."]


def setting_kind(s):
    if s["type"] == "int":
        return "an integer from %d to %d" % (s["min"], s["max"])
    return {"bool": "yes or no", "path": "a path (relative: from the file's directory)",
            "string": "a string"}[s["type"]]


def conf_settings(doc):
    out = []
    for s in doc["settings"]:
        out.append(".TP")
        out.append(bold(s["name"]) + " = " + italic(s["type"]))
        line = text(s["help"][0].upper() + s["help"][1:]) + "."
        line += " " + text(setting_kind(s)[0].upper() + setting_kind(s)[1:])
        line += "; default " + (breakable(bold(s["default"])) if s.get("default") is not None
                                else "unset")
        line += ". " + ("SIGHUP applies a change" if s.get("reload")
                        else "A change takes effect at the next start")
        out.append(line + ".")
    return out


def conf_example(doc, version):
    """A configuration file with every setting at its default, commented out."""
    lines = ["# vouchd configuration (vouchd.conf(5)), vouch %s." % version,
             "# Every setting at its default, commented out; `vouchd -c FILE --check` checks",
             "# a file.  Relative paths are taken from the file's directory.", ""]
    for s in doc["settings"]:
        kind = "%d to %d" % (s["min"], s["max"]) if s["type"] == "int" else \
            {"bool": "yes or no", "path": "a path", "string": "a string"}[s["type"]]
        lines += textwrap.wrap(s["help"] + " [" + kind + "]", 78, initial_indent="# ",
                               subsequent_indent="# ")
        default = s.get("default")
        lines.append("#%s =%s" % (s["name"], " " + default if default is not None else ""))
        lines.append("")
    return "\n".join(lines)


def render(template, parts, version, date):
    out = []
    for line in template.splitlines():
        m = re.fullmatch(r"@([A-Z_]+)@", line.strip())
        if m:
            if m.group(1) not in parts:
                sys.exit("gen-man: unknown part @%s@" % m.group(1))
            out.extend(parts[m.group(1)])
        else:
            out.append(line.replace("@VERSION@", version).replace("@DATE@", date))
    return "\n".join(out) + "\n"


def program_json(path, flag):
    return json.loads(subprocess.run([path, flag], check=True, capture_output=True,
                                     text=True).stdout)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vouch", required=True)
    p.add_argument("--vouchd", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--date", required=True)
    p.add_argument("--templates", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    cli = program_json(a.vouch, "--commands-json")
    conf = program_json(a.vouchd, "--settings-json")
    parts = {"COMMANDS": vouch_commands(cli), "GLOBALS": vouch_globals(cli),
             "COMMAND_GROUPS": vouch_synopsis_commands(cli), "SETTINGS": conf_settings(conf)}
    os.makedirs(a.out, exist_ok=True)
    for page in PAGES:
        with open(os.path.join(a.templates, page + ".in")) as f:
            roff = render(f.read(), parts, a.version, a.date)
        with open(os.path.join(a.out, page), "w") as f:
            f.write(roff)
    with open(os.path.join(a.out, "vouchd.conf.example"), "w") as f:
        f.write(conf_example(conf, a.version))


if __name__ == "__main__":
    main()
