"""docs/openapi.json: every route described (src/api/api_routes.json), the checked-in file what the
route table and the descriptions make, Redocly's linter content with it, and real calls answered
as it says (status, media type, request and answer bodies against their schemas)."""
import importlib.util
import json
import os
import re
import subprocess

import jsonschema
import pytest

from conftest import VOUCHD, Server, make_csr, own_token

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
TOOLS = os.path.join(ROOT, "tools", "openapi")


def _gen():
    spec = importlib.util.spec_from_file_location(
        "gen_openapi", os.path.join(ROOT, "scripts", "dev", "gen-openapi.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


gen = _gen()


@pytest.fixture(scope="module")
def routes():
    return gen.routes_of(VOUCHD)


@pytest.fixture(scope="module")
def doc():
    with open(os.path.join(ROOT, "docs", "openapi.json")) as f:
        return json.load(f)


def test_every_route_is_described(routes):
    problems = gen.missing(routes, gen.load_descriptions())
    assert not problems, "\n".join(problems)


def test_a_route_without_a_description_is_named_with_what_to_add(routes):
    descriptions = gen.load_descriptions()
    route = next(r for r in routes if r["content_type"] == "application/json")
    del descriptions[gen.key(route)]
    descriptions["GET /no/such/route"] = {}
    problems = gen.missing(routes, descriptions)
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"route {gen.key(route)} has no description: add to "
                                  "src/api/api_routes.json"), problems
    assert '"request"' in problems[0] and '"operationId"' in problems[0]
    assert "GET /no/such/route, which is no route" in problems[1]


def test_the_openapi_document_matches_the_route_table(routes, doc):
    assert doc == gen.document(routes, gen.load_descriptions()), \
        "docs/openapi.json is stale: run python3 scripts/dev/gen-openapi.py"
    # Every operation of every route is there, with each path parameter declared, a success
    # answer and error answers.
    ops = sum(len(v) for v in doc["paths"].values())
    assert ops == len({(r["method"], r["path"]) for r in routes if gen.described(r)})
    ids = [op["operationId"] for m in doc["paths"].values() for op in m.values()]
    assert len(ids) == len(set(ids))
    for path, methods in doc["paths"].items():
        for op in methods.values():
            names = [p["name"] for p in op.get("parameters", [])]
            assert names == re.findall(r"\{(\w+)\}", path), path
            assert op["x-vouch-permission"] and op["summary"]
            codes = [int(c) for c in op["responses"]]
            assert any(200 <= c < 400 for c in codes) and any(400 <= c < 600 for c in codes)
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                assert body["schema"].get("properties") is not None, \
                    f"{path}: a JSON body needs its fields described"
            for status, answer in op["responses"].items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema")
                if path.startswith("/api/") and schema is not None:
                    assert "properties" in schema or "$ref" in schema, \
                        f"{path} {status}: a JSON answer needs its fields described"


@pytest.mark.runs_in("integration", why="the document and the linter are the same whatever the "
                     "storage, key store or sanitizer: one run is enough")
def test_redocly_lint_with_the_recommended_rules_finds_nothing():
    redocly = os.path.join(TOOLS, "node_modules", ".bin", "redocly")
    assert os.path.exists(redocly), \
        "no Redocly CLI: run `npm ci` in tools/openapi (scripts/install-deps.sh does)"
    out = subprocess.run([redocly, "lint", "--config", os.path.join(TOOLS, "redocly.yaml"),
                          "--format", "stylish", "--max-problems", "1000",
                          os.path.join(ROOT, "docs", "openapi.json")],
                         capture_output=True, text=True, timeout=300, cwd=TOOLS,
                         env=dict(os.environ, REDOCLY_TELEMETRY="off",
                                  REDOCLY_SUPPRESS_UPDATE_NOTICE="true"))
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr[-2000:]
    assert "warning" not in out.stdout and "error" not in out.stdout, out.stdout[-5000:]


class Checker:
    """Calls the server and checks each answer against docs/openapi.json."""

    def __init__(self, server, doc):
        self.server, self.doc = server, doc
        self.seen = set()

    def operation(self, method, path):
        for template, methods in self.doc["paths"].items():
            pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(pattern, path) and method.lower() in methods:
                # a literal segment wins over a parameter (/certificates/expiring)
                yield template, methods[method.lower()]

    def validator(self, schema):
        return jsonschema.Draft202012Validator(dict(schema, components=self.doc["components"]))

    def validate(self, schema, instance, what):
        error = jsonschema.exceptions.best_match(self.validator(schema).iter_errors(instance))
        assert error is None, f"{what}: {error.message} at {list(error.absolute_path)}"

    def __call__(self, method, path, body=None, token="admin", expect=None, base=None):
        ops = sorted(self.operation(method, path.split("?")[0]), key=lambda t: t[0].count("{"))
        assert ops, f"{method} {path}: not in docs/openapi.json"
        template, op = ops[0]
        r = self.server.request(method, path, body, token=token, base=base)
        if body is not None:
            # A body the schema refuses is refused (400); one it accepts is not refused as bad.
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            errors = list(self.validator(schema).iter_errors(body))
            if errors:
                assert r.status == 400, (method, template, body, errors[0].message, r.status)
            else:
                assert r.status != 400, (method, template, body, r.body[:300])
        assert str(r.status) in op["responses"], \
            f"{method} {template} answered {r.status}, documented {list(op['responses'])}"
        if expect is not None:
            assert r.status == expect, (method, path, r.status, r.body[:300])
        documented = op["responses"][str(r.status)].get("content")
        if documented is None:
            assert not r.body, f"{method} {template} {r.status}: a body the document omits"
        else:
            media = (r.headers.get("Content-Type") or "").split(";")[0]
            assert media in documented, (method, template, r.status, media, list(documented))
            if media == "application/json" or media.endswith("+json"):
                self.validate(documented[media]["schema"], json.loads(r.body),
                              f"{method} {template} {r.status}")
        self.seen.add((method, template))
        return json.loads(r.body) if r.body and (r.headers.get("Content-Type") or "").startswith(
            "application/json") else r


def test_real_calls_answer_as_the_document_says(server, doc):
    call = Checker(server, doc)
    T = "/api/v1/t/default"
    call("GET", "/healthz", expect=200)
    call("GET", "/readyz", expect=200)
    call("POST", "/api/v1/tenants", {"name": "oapi-t"}, token="system", expect=201)
    call("POST", "/api/v1/tenants", {"name": "oapi-t"}, token="system", expect=409)
    call("POST", "/api/v1/tenants", {"nom": "x"}, token="system", expect=400)
    call("GET", "/api/v1/tenants", token="system", expect=200)
    call("GET", "/api/v1/tenants/oapi-t", token="system", expect=200)
    call("GET", "/api/v1/tenants/oapi-t", token=None, expect=401)
    call("POST", T + "/cas", {"name": "oapi-root", "subject": "/CN=OAPI Root"}, expect=201)
    call("GET", T + "/cas", expect=200)
    call("GET", T + "/cas/oapi-root", expect=200)
    call("GET", T + "/cas/no-such-ca", expect=404)
    csr, _ = make_csr("oapi.example.com", dns=["oapi.example.com"])
    cert = call("POST", T + "/certificates", {"ca": "issuing", "profile": "tls-server",
                                              "csr": csr}, expect=201)
    serial = cert["serial"]
    call("GET", T + "/certificates", expect=200)
    call("GET", T + "/certificates/expiring", expect=200)
    call("GET", T + f"/certificates/{serial}", expect=200)
    call("POST", T + f"/certificates/{serial}/renew", {"csr": csr}, expect=201)
    call("POST", T + f"/certificates/{serial}/suspend", {}, expect=200)
    call("POST", T + f"/certificates/{serial}/reinstate", {}, expect=200)
    call("POST", T + f"/certificates/{serial}/revoke", {"reason": "keyCompromise"}, expect=200)
    call("POST", T + "/certificates/keygen", {"ca": "issuing", "profile": "tls-server",
                                              "subject": "/CN=kg.example.com",
                                              "sans": ["dns:kg.example.com"],
                                              "password": "a long pass phrase"}, expect=201)
    for p in ("/keys", "/profiles", "/entities", "/audit/checkpoints", "/tsa", "/requests",
              "/workflows", "/notices", "/acme/endpoints", "/enroll/endpoints", "/cmp/endpoints",
              "/tokens", "/principals", "/roles", "/client-cas"):
        call("GET", T + p, expect=200)
    # Each route with a JSON body this test sends, and each answer, was checked above.
    assert len(call.seen) >= 30, sorted(call.seen)


# Routes with a JSON body this module does not call, each with the reason and where a test calls
# it: the others must all be called below.
NOT_CALLED = {
    "POST /api/v1/t/{tenant}/cas/import": "a CA's key and certificate as PKCS#12 (test_ca_import)",
    "POST /api/v1/t/{tenant}/cas/{ca}/certificate": "an external CA's signed certificate",
    "POST /api/v1/t/{tenant}/offline/import": "an offline CA's signed bundle (test_offline)",
    "POST /api/v1/t/{tenant}/cas/{ca}/offline-request": "an offline root (test_offline)",
}


def own_person(server, name, role):
    """A token of a principal of its own (approvals want a requester and a second person, and
    no one standing behind both)."""
    who = server.api("POST", "/principals", {"name": name, "kind": "user"}, expect=201)
    server.api("POST", "/roles/bind", {"principal": who["id"], "role": role}, expect=201)
    return own_token(server, who["id"], name)


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    """An instance where tenants may name a webhook and a SIEM of their own."""
    s = Server(str(tmp_path_factory.mktemp("vouch")),
               conf="webhooks_enabled = yes\nsyslog_tenant_targets = yes\n")
    yield s
    s.stop()


def test_every_route_with_a_json_body_answers_as_the_document_says(open_server, doc, routes):
    server = open_server
    call = Checker(server, doc)
    T = "/api/v1/t/default"
    S = "/api/v1/tenants/oapi-b"
    call("POST", "/api/v1/tenants", {"name": "oapi-b"}, token="system", expect=201)
    call("PUT", S + "/limits", {"certs_per_hour": 100, "requests_per_second": 50},
         token="system", expect=200)
    tok = call("POST", S + "/tokens", {"name": "oapi-b admin"}, token="system", expect=201)
    call("POST", S + "/suspend", {"reason": "unpaid"}, token="system", expect=200)
    call("POST", S + "/reactivate", {}, token="system", expect=200)
    for p in ("/api/v1/audit", "/api/v1/audit/verify", "/api/v1/audit/export"):
        call("GET", p, token="system", expect=200)
    call("POST", "/api/v1/tokens/rotate", {}, token=server.system_token, expect=201)
    assert tok

    call("POST", T + "/cas", {"name": "oapi-sub", "subject": "/CN=OAPI Sub",
                              "parent": "root"}, expect=201)
    call("POST", T + "/cas/oapi-sub/crl", {}, expect=201)
    call("POST", T + "/cas/oapi-sub/disable", {}, expect=200)
    call("POST", T + "/keys", {"key_type": "ec-p256"}, expect=201)
    prof = call("GET", T + "/profiles/tls-server", expect=200)
    call("POST", T + "/profiles", {"name": "oapi-tls", "document": prof["document"]},
         expect=201)
    call("PUT", T + "/profiles/oapi-tls", {"document": prof["document"]}, expect=200)
    call("POST", T + "/profiles/oapi-tls/clone", {"name": "oapi-tls-2"}, expect=201)
    csr, _ = make_csr("rw.example.com", dns=["rw.example.com"])
    serial = call("POST", T + "/certificates", {"ca": "issuing", "profile": "tls-server",
                                                "csr": csr}, expect=201)["serial"]
    call("PUT", T + f"/certificates/{serial}/renewal-window",
         {"start": "2027-01-01T00:00:00Z", "end": "2027-01-02T00:00:00Z",
          "reason": "key rotation"}, expect=200)
    call("POST", T + f"/certificates/{serial}/suspend", {}, expect=200)
    call("POST", T + f"/certificates/{serial}/reinstate", {}, expect=200)
    call("POST", T + f"/certificates/{serial}/renew", {}, expect=201)
    call("POST", T + f"/certificates/{serial}/revoke", {"reason": "superseded"}, expect=200)
    call("POST", T + "/certificates/keygen", {"ca": "issuing", "profile": "tls-server"},
         expect=400)  # the password is required
    call("POST", T + "/certificates/keygen", {"ca": "issuing", "profile": "tls-server",
                                              "subject": "/CN=kg2.example.com",
                                              "sans": ["dns:kg2.example.com"],
                                              "password": "another pass phrase"}, expect=201)
    ent = call("POST", T + "/entities", {"name": "oapi-dev", "kind": "device"}, expect=201)
    call("PUT", T + f"/entities/{ent['id']}", {"name": "oapi-dev", "kind": "device",
                                               "email": "dev@example.com"}, expect=200)
    call("POST", T + "/audit/checkpoints", {}, expect=200)
    call("PUT", T + "/audit/forwarding", {"host": "127.0.0.1", "port": 6514,
                                          "transport": "tcp"}, expect=200)
    call("POST", T + "/tsa", {"name": "oapi-ts", "ca": "issuing",
                              "policy": "1.3.6.1.4.1.99999.7"}, expect=201)
    call("PUT", T + "/tsa/oapi-ts", {"accuracy_ms": 100, "include_chain": True}, expect=200)
    call("PUT", T + "/webhook", {"url": "http://127.0.0.1:9/hook"}, expect=200)
    call("PUT", T + "/notices/settings", {"enabled": True, "thresholds": [30, 7],
                                          "recipients": ["ops@example.com"]}, expect=200)
    call("POST", T + "/acme/endpoints", {"name": "oapi-acme", "ca": "issuing"}, expect=400)
    call("POST", T + "/acme/endpoints", {"name": "oapi-acme", "ca": "issuing",
                                         "caa_identities": ["oapi.example"]}, expect=201)
    call("PUT", T + "/acme/endpoints/oapi-acme", {"eab_required": True}, expect=200)
    call("POST", T + "/acme/endpoints/oapi-acme/eab", {"kid": "oapi-kid"}, expect=201)
    call("POST", T + "/acme/endpoints/oapi-acme/eab/oapi-kid/revoke", {}, expect=200)
    call("POST", T + "/enroll/endpoints", {"name": "oapi-est", "ca": "issuing",
                                           "profile": "tls-server"}, expect=201)
    call("PUT", T + "/enroll/endpoints/oapi-est", {"retry_after": 60}, expect=200)
    cred = call("POST", T + "/enroll/endpoints/oapi-est/credentials", {"id": "oapi-cred"},
                expect=201)
    call("POST", T + f"/enroll/endpoints/oapi-est/credentials/{cred['id']}/revoke", {},
         expect=200)
    call("POST", T + "/cmp/endpoints", {"name": "oapi-cmp", "ca": "issuing"}, expect=201)
    call("PUT", T + "/cmp/endpoints/oapi-cmp", {"confirm_seconds": 60}, expect=200)
    sec = call("POST", T + "/cmp/endpoints/oapi-cmp/secrets", {"reference": "oapi-ref"},
               expect=201)
    call("POST", T + f"/cmp/endpoints/oapi-cmp/secrets/{sec['reference']}/revoke", {},
         expect=200)
    who = call("POST", T + "/principals", {"name": "oapi-officer", "kind": "user"}, expect=201)
    call("POST", T + "/roles/bind", {"principal": who["id"], "role": "ra-officer"}, expect=201)
    call("POST", T + "/roles/unbind", {"principal": who["id"], "role": "ra-officer"},
         expect=200)
    call("POST", T + f"/principals/{who['id']}/disable", {}, expect=200)
    call("POST", T + f"/principals/{who['id']}/enable", {}, expect=200)
    made = call("POST", T + "/tokens", {"name": "oapi-tok", "principal": who["id"]}, expect=201)
    call("POST", T + "/tokens/rotate", {"name": "oapi-tok"}, token=made["token"], expect=201)
    call("POST", T + "/client-cas", {"name": "oapi-cc", "ca": "issuing"}, expect=201)
    # An approval: a workflow on a profile, a request waiting (202), approved and rejected.
    call("PUT", T + "/workflows/profile:oapi-tls", {"required": 1}, expect=200)
    requester = own_person(server, "oapi-requester", "requester")
    officer = own_person(server, "oapi-approver", "ra-officer")
    waiting = [call("POST", T + "/certificates", {"ca": "issuing", "profile": "oapi-tls",
                                                  "csr": csr}, token=requester, expect=202)
               for _ in range(2)]
    call("POST", T + f"/requests/{waiting[0]['id']}/approve", {}, token=officer, expect=200)
    call("POST", T + f"/requests/{waiting[1]['id']}/reject", {"reason": "no"}, token=officer,
         expect=200)

    # What was made above, read back.
    for p in (f"/certificates/{serial}/renewal-window", f"/entities/{ent['id']}",
              "/tsa/oapi-ts", "/tsa/oapi-ts/tokens", f"/requests/{waiting[0]['id']}",
              "/workflows/profile:oapi-tls", "/webhook", "/notices/settings",
              "/acme/endpoints/oapi-acme", "/acme/endpoints/oapi-acme/eab",
              "/enroll/endpoints/oapi-est", "/enroll/endpoints/oapi-est/credentials",
              "/cmp/endpoints/oapi-cmp", "/cmp/endpoints/oapi-cmp/secrets",
              f"/principals/{who['id']}", "/audit/forwarding", "/audit", "/audit/verify",
              "/audit/export", "/cas/oapi-sub/crl", "/reports/certificates",
              "/reports/certificates?format=csv"):
        call("GET", T + p, expect=200)
    # The public listener and the protocols' first steps, with their media types.
    pub = server.public_url
    call("GET", "/ca/default/issuing.crt", token=None, base=pub, expect=200)
    call("GET", "/crl/default/issuing.crl", token=None, base=pub, expect=200)
    call("GET", "/crl/default/no-such-ca.crl", token=None, base=pub, expect=404)
    call("GET", "/acme/default/oapi-acme/directory", token=None, expect=200)
    call("GET", "/acme/default/oapi-acme/new-nonce", token=None, expect=204)
    call("GET", "/.well-known/est/default~oapi-est/cacerts", token=None, expect=200)
    call("GET", "/est/default/oapi-est/.well-known/est/cacerts", token=None, expect=200)
    call("POST", T + "/enroll/endpoints", {"name": "oapi-scep", "protocol": "scep",
                                           "ca": "issuing", "profile": "tls-server"}, expect=201)
    call("GET", "/scep/default/oapi-scep?operation=GetCACaps", token=None, expect=200)
    call("GET", "/scep/default/oapi-scep?operation=GetCACert", token=None, expect=200)
    call("GET", "/scep/default/oapi-scep?operation=Nonsense", token=None, expect=400)

    json_routes = {gen.key(r) for r in routes if r["content_type"] == "application/json"}
    called = {m + " " + t for m, t in call.seen}
    left = json_routes - called - set(NOT_CALLED)
    assert not left, f"routes with a JSON body no real call checks: {sorted(left)}"
