"""Issue 21 point 4: a CLI (and API) people can rely on — serials in any common notation,
RFC 3339 times, no "(null)", errors as JSON with --json, approvers that are principals, a config
file that gives its token away refused, and the CLI configuration `vouchd init` writes."""
import json
import os
import re
import stat
import subprocess

from cryptography import x509

from conftest import VOUCH, make_csr


def issue(server, cn):
    csr, _ = make_csr(cn, dns=[cn])
    return server.api("POST", "/certificates", {"ca": "issuing", "profile": "tls-server",
                                                "csr": csr}, expect=201)


def notations(serial):
    """The serial as openssl x509 -serial prints it (upper case, even length), with colons as a
    browser shows it, with a leading 0x, and with extra leading zeros."""
    even = serial.upper().rjust(len(serial) + len(serial) % 2, "0")
    colons = ":".join(even[i:i + 2] for i in range(0, len(even), 2))
    return [even, colons, "0x" + serial, "0000" + serial, colons.lower()]


def test_a_serial_in_any_common_notation_names_the_same_certificate(server, tmp_path):
    cert = issue(server, "notation.example")
    serial = cert["serial"]
    # The form openssl prints for this very certificate is one of them.
    pem = tmp_path / "c.pem"
    pem.write_text(cert["certificate"])
    printed = subprocess.run(["openssl", "x509", "-in", str(pem), "-noout", "-serial"],
                             capture_output=True, text=True, check=True).stdout
    openssl_form = printed.strip().split("=", 1)[1]
    assert openssl_form != serial  # upper case (and maybe a leading zero): not vouch's form
    for form in notations(serial) + [openssl_form]:
        shown = server.api("GET", "/certificates/" + form.replace(":", "%3A"))
        assert shown["serial"] == serial, form
        p = server.cli("cert", "show", form, "--json")
        assert json.loads(p.stdout)["serial"] == serial, form
    listed = json.loads(server.cli("cert", "list", "--serial", openssl_form, "--json").stdout)
    assert [c["serial"] for c in listed["certificates"]] == [serial], listed
    # Not a serial at all: 404 as before, nothing else.
    server.api("GET", "/certificates/not-a-serial", expect=404)
    # Revoking through the CLI with openssl's form revokes that certificate.
    server.cli("cert", "revoke", openssl_form, "--reason", "superseded")
    assert server.api("GET", f"/certificates/{serial}")["status"] == "revoked"


def test_request_times_are_rfc3339_and_approvers_must_be_principals(server):
    rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
    principal = server.api("POST", "/principals", {"name": "officer-r", "kind": "user"},
                           expect=201)["id"]
    token_id = server.api("GET", "/tokens")["tokens"][0]["id"]
    r = server.api("PUT", "/workflows/cert.suspend", {"required": 1, "approvers": [token_id]},
                   expect=400)
    assert "not a principal" in r["detail"] and token_id in r["detail"], r
    p = server.cli("workflow", "set", "cert.suspend", "--required", "1", "--approver",
                   "nobody-such", check=False)
    assert p.returncode == 1 and "not a principal" in p.stderr, p.stderr
    server.api("PUT", "/workflows/cert.suspend", {"required": 1, "approvers": [principal]})
    serial = issue(server, "times.example")["serial"]
    req = server.api("POST", f"/certificates/{serial}/suspend", {}, expect=202)
    assert rfc3339.match(req["created"]) and rfc3339.match(req["expires"]), req
    assert req["decided"] is None, req
    shown = server.api("GET", f"/requests/{req['id']}")
    assert rfc3339.match(shown["created"]) and rfc3339.match(shown["expires"]), shown
    # The CLI's pending line reads the RFC 3339 expiry.
    p = server.cli("request", "show", req["id"])
    assert req["expires"] in p.stdout or "expires" in p.stdout, p.stdout
    server.api("DELETE", "/workflows/cert.suspend", expect=204)


def test_deletes_name_what_they_deleted_and_json_errors_are_json(server):
    key = server.api("POST", "/keys", {"key_type": "ec-p256"}, expect=201)["key_id"]
    p = server.cli("key", "delete", key)
    assert p.stdout.strip() == f"deleted key {key}", p.stdout
    assert "(null)" not in p.stdout + p.stderr
    server.api("PUT", "/workflows/cert.revoke", {"required": 1})
    p = server.cli("workflow", "delete", "cert.revoke")
    assert p.stdout.strip() == "deleted workflow cert.revoke", p.stdout
    # --json: the server's refusal as JSON on stderr, nothing on stdout, exit 1.
    p = server.cli("--json", "cert", "show", "abcdef0123", check=False)
    assert p.returncode == 1 and p.stdout == "", (p.stdout, p.stderr)
    err = json.loads(p.stderr)
    assert err["error"] == "not_found" and err["status"] == 404 and err["detail"], err
    # A usage error too.
    p = server.cli("--json", "cert", "revoke", check=False)
    assert p.returncode == 2
    assert json.loads(p.stderr.splitlines()[0])["error"] == "usage", p.stderr


def test_init_writes_the_cli_config_and_a_readable_token_file_is_refused(server, tmp_path):
    conf = os.path.join(server.dir, "cli.conf")
    mode = stat.S_IMODE(os.stat(conf).st_mode)
    assert mode == 0o600, oct(mode)
    text = open(conf).read()
    assert f"token = {server.token}" in text and f":{server.api_port}" in text
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCH_")}
    p = subprocess.run([VOUCH, "ca", "list"], capture_output=True, text=True, timeout=60,
                       env=dict(env, VOUCH_CONFIG=conf))
    assert p.returncode == 0 and "issuing" in p.stdout, p.stderr
    # Found as ./var/cli.conf from the directory above an instance in ./var.
    var = tmp_path / "var"
    var.mkdir()
    (var / "cli.conf").write_text(text)
    os.chmod(var / "cli.conf", 0o600)
    p = subprocess.run([VOUCH, "ca", "list"], capture_output=True, text=True, timeout=60,
                       env=dict(env, HOME=str(tmp_path)), cwd=tmp_path)
    assert p.returncode == 0 and "issuing" in p.stdout, p.stderr
    os.chmod(var / "cli.conf", 0o644)
    p = subprocess.run([VOUCH, "ca", "list"], capture_output=True, text=True, timeout=60,
                       env=dict(env, HOME=str(tmp_path)), cwd=tmp_path)
    assert p.returncode == 2 and "chmod 600" in p.stderr and "var/cli.conf" in p.stderr, p.stderr
    assert "issuing" not in p.stdout


def test_lists_say_how_many_there_are_and_where_the_next_page_starts(server):
    for i in range(3):
        issue(server, f"page{i}.example")
    everything = server.api("GET", "/certificates?limit=1000")
    total = everything["total"]
    assert total == len(everything["certificates"]) and total >= 3
    assert everything["next_offset"] is None
    first = server.api("GET", "/certificates?limit=2")
    assert len(first["certificates"]) == 2 and first["total"] == total
    assert first["next_offset"] == 2
    last = server.api("GET", f"/certificates?limit=2&offset={total - 1}")
    assert len(last["certificates"]) == 1 and last["next_offset"] is None
    # Filters count too: one certificate of this name.
    one = server.api("GET", "/certificates?san=page1.example")
    assert one["total"] == 1 and one["next_offset"] is None, one
    p = server.cli("cert", "list", "--limit", "2")
    assert f"(2 of {total}; next page: --offset 2)" in p.stdout, p.stdout
