#!/usr/bin/env python3
"""Writes docs/openapi.json, the OpenAPI 3.1 description of vouchd's routes, from two sources that
sit side by side in src/api/ and that the test suite holds together:

- the route table itself (`vouchd --routes`, from api_routes.c): every path and method, its
  listener, the permission it needs, the request body's media type and size limit;
- src/api/api_routes.json: under "routes", for each route ("METHOD /path" exactly as `vouchd --routes` prints
  it) its operationId, summary, the JSON schema of its request body (JSON routes) and, per
  success status, the schema or media types of its answer.

The error statuses come from what the HTTP layer and the route table decide for every route
(401/403/429 with a permission, 404 with a path parameter, 400/413/415 with a body, 409 for a
change, 422 for an operation that may wait for approval, 500/503 for all) plus a route's own
"errors" (a list of statuses).  tests/integration/test_openapi.py fails when a route has no entry
(naming the route and what to add), when an entry names no route, when the checked-in file is
stale, when a real call answers what the description does not say, and when Redocly's linter
(tools/openapi, recommended rules) reports a problem.

    python3 scripts/dev/gen-openapi.py [build/vouchd] [docs/openapi.json]
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DESCRIPTIONS = os.path.join(ROOT, "src", "api", "api_routes.json")

REASON = {200: "OK", 201: "Created", 202: "Accepted: waiting for approval (the request)",
          204: "No Content", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized",
          403: "Forbidden", 404: "Not Found", 409: "Conflict", 413: "Content Too Large",
          415: "Unsupported Media Type", 422: "Unprocessable Content (a policy refused it)",
          429: "Too Many Requests (a tenant's limit)", 500: "Internal Server Error",
          503: "Service Unavailable (Retry-After)"}

# What each family of protocol routes answers an error with (docs/api.md).
ERROR_MEDIA = [
    ("/acme/", "application/problem+json", {"$ref": "#/components/schemas/Problem"}),
    ("/.well-known/est", "text/plain", {"type": "string"}),
    ("/est/", "text/plain", {"type": "string"}),
    ("/scep/", "text/plain", {"type": "string"}),
    ("", "application/json", {"$ref": "#/components/schemas/Error"}),
]

# The listeners at their defaults (docs/operations.md: api_address/api_port, public_*).
API_SERVER = {"url": "https://127.0.0.1:8443", "description": "the API listener"}
PUBLIC_SERVER = {"url": "http://127.0.0.1:8080",
                 "description": "the public listener (CRLs, CA certificates, OCSP, TSA, CMP, "
                                "SCEP; the API listener serves the enrollment protocols too)"}

TEMPLATE = {"operationId": "camelCaseName", "summary": "What it does, in a few words",
            "request": {"type": "object", "properties": {"FIELD": {"type": "string"}},
                        "required": ["FIELD"]},
            "responses": {"200": {"type": "object", "properties": {"FIELD": {"type": "string"}},
                                  "required": ["FIELD"]},
                          "202": {"$ref": "#/components/schemas/Request"}}}


def key(route):
    return route["method"] + " " + route["path"]


def described(route):
    """Whether the route belongs in the API's description: the web console's page and files
    (/ui, docs/console.md) are for browsers, not API clients."""
    return route["path"] != "/ui" and not route["path"].startswith("/ui/")


def load_descriptions(path=DESCRIPTIONS):
    """The routes' descriptions ("METHOD /path": {...})."""
    with open(path) as f:
        return json.load(f)["routes"]


def load_schemas(path=DESCRIPTIONS):
    """The schemas the descriptions refer to (#/components/schemas/NAME)."""
    with open(path) as f:
        return json.load(f)["schemas"]


def missing(routes, descriptions):
    """Messages for routes without a description and descriptions without a route."""
    routes = [r for r in routes if described(r)]
    keys = {key(r) for r in routes}
    out = []
    for r in routes:
        k = key(r)
        d = descriptions.get(k)
        if d is None:
            t = dict(TEMPLATE)
            if r["content_type"] != "application/json":
                del t["request"]
            out.append("route %s has no description: add to src/api/api_routes.json\n  %s: %s"
                       % (k, json.dumps(k), json.dumps(t)))
            continue
        for field in ("operationId", "summary", "responses"):
            if not d.get(field):
                out.append("route %s: %s is missing in src/api/api_routes.json" % (k, field))
        if r["content_type"] == "application/json" and "request" not in d:
            out.append("route %s takes a JSON body: give its schema as \"request\" in "
                       "src/api/api_routes.json" % k)
    for k in descriptions:
        if k not in keys:
            out.append("src/api/api_routes.json describes %s, which is no route of vouchd" % k)
    return out


def openapi_path(path):
    # {req*} (the rest of the path, OCSP GET) is one parameter in OpenAPI.  OCSP's GET and its
    # POST to a CA have the same shape: one parameter name for both (no identical paths).
    path = re.sub(r"\{(\w+)\*\}", r"{\1}", path)
    if re.fullmatch(r"/ocsp/\{tenant\}/\{(ca|req)\}", path):
        path = "/ocsp/{tenant}/{ca_or_request}"
    return path


PARAMETER = {
    "ca_or_request": "POST: the CA's name; GET: the base64 OCSP request (RFC 6960 A.1), "
                     "URL-encoded, optionally after the CA's name and a slash",
    "label": "tenant~endpoint (EST, CMP: the two names in one path segment)",
}


def error_content(path):
    for prefix, media, schema in ERROR_MEDIA:
        if path.startswith(prefix):
            return {media: {"schema": schema}}
    raise AssertionError(path)


def responses(r, d, path, params):
    out = {}
    for status, body in sorted(d["responses"].items()):
        resp = {"description": REASON.get(int(status), status)}
        if body is not None:
            if "content" in body:
                resp["content"] = {m: {"schema": s} for m, s in body["content"].items()}
            else:
                resp["content"] = {"application/json": {"schema": body}}
        out[status] = resp
    errors = set(d.get("errors", []))
    errors |= {400, 500, 503}
    if r["listener"] == "api" and r["permission"] != "public":
        errors |= {401, 403, 429}  # 429: over the API rate (api_auth.c)
    if path.startswith("/api/") and r["method"] != "GET":
        errors.add(409)  # a name taken, or a state the change does not apply to
    if "202" in d["responses"]:
        errors.add(422)  # through svc_submit: a profile's or workflow's policy refused it
    if path.startswith("/acme/"):
        errors |= {403, 404, 429}
    if params:
        errors.add(404)
    if r["content_type"]:
        errors |= {413, 415}
    for status in sorted(errors):
        out[str(status)] = {"description": REASON.get(status, str(status)),
                            "content": error_content(path)}
    return out


def tag_of(path):
    if path.startswith("/api/v1/t/"):
        return path.split("/")[5]
    if path.startswith("/api/v1/"):
        return "system"
    for prefix, tag in (("/acme/", "acme-protocol"), ("/.well-known/est", "est-protocol"),
                        ("/est/", "est-protocol"), ("/.well-known/cmp", "cmp-protocol"),
                        ("/scep/", "scep-protocol"), ("/ocsp/", "ocsp"), ("/tsa/", "tsa-protocol"),
                        ("/crl/", "publication"), ("/ca/", "publication")):
        if path.startswith(prefix):
            return tag
    return "health"


def document(routes, descriptions):
    paths = {}
    tags = set()
    for r in filter(described, routes):
        d = descriptions[key(r)]
        path = openapi_path(r["path"])
        params = re.findall(r"\{(\w+)\}", path)
        same = paths.setdefault(path, {}).get(r["method"].lower())
        if same is not None:  # /healthz and /readyz: on both listeners
            same["x-vouch-listeners"].append(r["listener"])
            same.pop("servers", None)
            continue
        tag = tag_of(path)
        tags.add(tag)
        op = {
            "operationId": d["operationId"],
            "summary": d["summary"],
            "tags": [tag],
            "x-vouch-permission": r["permission"],
            "x-vouch-listeners": [r["listener"]],
        }
        if r["listener"] == "public":
            op["servers"] = [PUBLIC_SERVER]
        if d.get("description"):
            op["description"] = d["description"]
        if r["listener"] == "api" and r["permission"] != "public":
            op["security"] = [{"bearer": []}, {"clientCertificate": []}]
        else:
            op["security"] = []
        if params:
            op["parameters"] = [dict({"name": p, "in": "path", "required": True,
                                      "schema": {"type": "string"}},
                                     **({"description": PARAMETER[p]} if p in PARAMETER else {}))
                                for p in params]
        if r["content_type"]:
            schema = (d["request"] if r["content_type"] == "application/json"
                      else {"type": "string", "format": "binary"})
            op["requestBody"] = {"required": r["content_type"] != "application/json"
                                 or d.get("body_required", True),
                                 "x-vouch-body-limit": r["body_limit"],
                                 "content": {r["content_type"]: {"schema": schema}}}
        op["responses"] = responses(r, d, path, params)
        paths[path][r["method"].lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "vouch", "version": "1",
                 "description": "vouchd's REST API and public endpoints, generated from its route "
                                "table and src/api/api_routes.json (scripts/dev/gen-openapi.py); "
                                "the meaning of each field: docs/api.md."},
        "servers": [API_SERVER, PUBLIC_SERVER],
        "security": [],
        "tags": [{"name": t, "description": "docs/api.md: " + t} for t in sorted(tags)],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "vt_<id>_<secret> (or an older vouch_ token)"},
                "clientCertificate": {"type": "mutualTLS",
                                      "description": "a certificate of an issuer the tenant "
                                                     "trusts (POST /client-cas)"},
            },
            "schemas": load_schemas(),
        },
    }


def routes_of(vouchd):
    return json.loads(subprocess.run([vouchd, "--routes"], capture_output=True, text=True,
                                     check=True, timeout=30).stdout)["routes"]


def main():
    vouchd = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "vouchd")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "docs", "openapi.json")
    routes = routes_of(vouchd)
    descriptions = load_descriptions()
    problems = missing(routes, descriptions)
    if problems:
        sys.exit("\n".join(problems))
    with open(out, "w") as f:
        json.dump(document(routes, descriptions), f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
