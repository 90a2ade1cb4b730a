"""docs/openapi.json is the route table: regenerated from `vouchd --routes`, it is unchanged."""
import importlib.util
import json
import os
import re
import subprocess

from conftest import VOUCHD

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_the_openapi_document_matches_the_route_table():
    spec = importlib.util.spec_from_file_location(
        "gen_openapi", os.path.join(ROOT, "scripts", "dev", "gen-openapi.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    routes = json.loads(subprocess.run([VOUCHD, "--routes"], capture_output=True, text=True,
                                       check=True, timeout=30).stdout)["routes"]
    with open(os.path.join(ROOT, "docs", "openapi.json")) as f:
        checked_in = json.load(f)
    assert checked_in == gen.document(routes), \
        "docs/openapi.json is stale: run python3 scripts/dev/gen-openapi.py"
    # Every operation of every route is there, with each path parameter declared.
    ops = sum(len(v) for v in checked_in["paths"].values())
    assert ops == len({(r["method"], r["path"]) for r in routes})
    for path, methods in checked_in["paths"].items():
        for op in methods.values():
            names = [p["name"] for p in op.get("parameters", [])]
            assert names == re.findall(r"\{(\w+)\}", path), path
            assert op["x-vouch-permission"]
