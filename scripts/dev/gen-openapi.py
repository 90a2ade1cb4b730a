#!/usr/bin/env python3
"""Writes docs/openapi.json, the OpenAPI 3.1 description of vouchd's routes, from the route table
itself (`vouchd --routes`): every path and method, its listener, the permission it needs, the
request body's media type and size limit, the path parameters, and the error document every route
answers with.  docs/api.md describes the bodies and answers in prose.  tests/integration/
test_openapi.py fails when the checked-in file and the route table disagree: rerun this after a
change of api_routes.c.

    python3 scripts/dev/gen-openapi.py [build/vouchd] [docs/openapi.json]
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def document(routes):
    paths = {}
    for r in routes:
        # {req*} (the rest of the path, OCSP GET) is one parameter in OpenAPI.
        path = re.sub(r"\{(\w+)\*\}", r"{\1}", r["path"])
        params = re.findall(r"\{(\w+)\}", path)
        op = {
            "operationId": (r["method"].lower() + "_" + re.sub(r"[^a-z0-9]+", "_",
                                                              path.lower()).strip("_")),
            "tags": [r["listener"]],
            "x-vouch-permission": r["permission"],
            "responses": {
                "default": {"description": "an error (see docs/api.md)",
                            "content": {"application/json": {
                                "schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }
        if r["listener"] == "api" and r["permission"] != "public":
            op["security"] = [{"bearer": []}, {"clientCertificate": []}]
        if params:
            op["parameters"] = [{"name": p, "in": "path", "required": True,
                                 "schema": {"type": "string"}} for p in params]
        if r["content_type"]:
            schema = ({"type": "object"} if r["content_type"] == "application/json"
                      else {"type": "string", "format": "binary"})
            op["requestBody"] = {"required": True, "x-vouch-body-limit": r["body_limit"],
                                 "content": {r["content_type"]: {"schema": schema}}}
        same = paths.setdefault(path, {}).get(r["method"].lower())
        if same is not None:  # /healthz and /readyz: on both listeners
            same["tags"].append(r["listener"])
            continue
        paths[path][r["method"].lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "vouch", "version": "1",
                 "description": "vouchd's REST API and public endpoints, generated from its route "
                                "table (scripts/dev/gen-openapi.py); bodies and answers: "
                                "docs/api.md."},
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "vt_<id>_<secret> (or an older vouch_ token)"},
                "clientCertificate": {"type": "mutualTLS",
                                      "description": "a certificate of an issuer the tenant "
                                                     "trusts (POST /client-cas)"},
            },
            "schemas": {"Error": {"type": "object", "required": ["error", "detail"],
                                  "properties": {"error": {"type": "string"},
                                                 "detail": {"type": "string"}}}},
        },
    }


def main():
    vouchd = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "vouchd")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "docs", "openapi.json")
    routes = json.loads(subprocess.run([vouchd, "--routes"], capture_output=True, text=True,
                                       check=True).stdout)["routes"]
    with open(out, "w") as f:
        json.dump(document(routes), f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
