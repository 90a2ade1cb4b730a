"""The web console (docs/console.md): its files served by vouchd at /ui/ on the TLS API listener,
compiled into the binary, each answer with the console's security headers; and the page itself
loaded by a real browser (headless Chromium driven by Selenium) with no console error and no
Content-Security-Policy violation."""
import hashlib
import http.client
import os
import re
import tempfile

import pytest

from conftest import Server, make_csr, other_tenant, own_token

FILES = os.path.join(os.path.dirname(__file__), "..", "..", "src", "console")
CSP_REQUIRED = ["default-src 'self'", "frame-ancestors 'none'", "form-action 'self'",
                "base-uri 'none'", "object-src 'none'"]


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("vouch")), tls=True)
    yield s
    s.stop()


def csp_of(r):
    return [d.strip() for d in r.headers["Content-Security-Policy"].split(";")]


def assert_console_headers(r):
    csp = csp_of(r)
    for d in CSP_REQUIRED:
        assert d in csp, (d, csp)
    # nothing that would let inline script or style, or eval, through
    for d in csp:
        assert "unsafe-" not in d and "data:" not in d and "*" not in d, d
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["X-Frame-Options"] == "DENY"


def test_page_is_served_with_its_headers_and_never_stored(tls_server):
    r = tls_server.request("GET", "/ui/", token=None)
    assert r.status == 200, r.body[:300]
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Cache-Control"] == "no-store"
    assert_console_headers(r)
    assert r.body == open(os.path.join(FILES, "index.html"), "rb").read()
    # no inline script or style in the page: every script and stylesheet is a file of /ui/
    text = r.body.decode()
    assert "style=" not in text and "<style" not in text
    for m in re.finditer(r"<script([^>]*)>(.*?)</script>", text, re.S):
        assert m.group(2).strip() == "" and 'src="/ui/' in m.group(1), m.group(0)
    assert not re.search(r'(src|href)="(https?:)?//', text), "nothing fetched from elsewhere"


@pytest.mark.parametrize("name,ctype", [("console.js", "text/javascript; charset=utf-8"),
                                        ("console.css", "text/css; charset=utf-8")])
def test_files_are_served_revalidated_by_etag(tls_server, name, ctype):
    body = open(os.path.join(FILES, name), "rb").read()
    r = tls_server.request("GET", "/ui/" + name, token=None)
    assert r.status == 200
    assert r.body == body
    assert r.headers["Content-Type"] == ctype
    assert r.headers["Cache-Control"] == "no-cache"
    assert_console_headers(r)
    etag = r.headers["ETag"]
    assert etag == '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    again = tls_server.request("GET", "/ui/" + name, token=None,
                               headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    assert again.headers["ETag"] == etag
    other = tls_server.request("GET", "/ui/" + name, token=None,
                               headers={"If-None-Match": '"0123"'})
    assert other.status == 200 and other.body == body


def test_bare_path_redirects_and_unknown_files_are_not_found(tls_server):
    conn = http.client.HTTPSConnection("127.0.0.1", tls_server.api_port, context=tls_server.ctx,
                                       timeout=60)
    conn.request("GET", "/ui")
    r = conn.getresponse()
    assert r.status == 308 and r.headers["Location"] == "/ui/"
    conn.close()
    for path in ["/ui/nope.js", "/ui/index.html", "/ui/console.js/", "/ui/..%2Fvouchd.conf",
                 "/ui/%2e%2e"]:
        r = tls_server.request("GET", path, token=None)
        assert r.status in (400, 404), (path, r.status)
        assert b"vouch_" not in r.body and b"BEGIN" not in r.body
        assert r.json()["error"]
        if path in ("/ui/nope.js", "/ui/index.html"):  # the console's own refusal
            assert r.status == 404
            assert_console_headers(r)


def test_only_get_is_answered(tls_server):
    r = tls_server.request("POST", "/ui/", body={}, token=None)
    assert r.status == 405


def test_not_served_by_a_plain_http_api_listener(server):
    r = server.request("GET", "/ui/", token=None)
    assert r.status == 404
    assert "TLS" in r.json()["detail"]
    assert_console_headers(r)
    r = server.request("GET", "/ui/console.js", token=None)
    assert r.status == 404 and b"import" not in r.body


def test_not_served_by_the_public_listener(tls_server):
    r = tls_server.request("GET", "/ui/", token=None, base=tls_server.public_url)
    assert r.status == 404


# ---- in a real browser -----------------------------------------------------------------------

def browser(artifacts):
    webdriver = pytest.importorskip("selenium.webdriver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,800", "--no-first-run", "--disable-extensions",
              "--disable-background-networking", "--disable-component-update",
              # the test instance's own CA is not in Chromium's store; loopback only
              "--ignore-certificate-errors", "--user-data-dir=" + tempfile.mkdtemp(prefix="profile-", dir=artifacts)]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    from selenium.webdriver.chrome.service import Service  # selenium 4.8 (Debian 12)
    service = Service(executable_path="/usr/bin/chromedriver",
                      log_path=os.path.join(artifacts, "chromedriver.log"))
    return webdriver.Chrome(options=opts, service=service)


def console_problems(driver):
    """The browser console's errors and warnings (CSP violations are logged there)."""
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


BROWSER = pytest.mark.runs_in("integration", why="one browser run is enough: the console's "
                              "files do not depend on the database, the key store or a sanitizer "
                              "build")
PAYLOAD = "<img src=x onerror=document.title=1><script>alert(1)</script>"  # CN: 64 at most


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return str(tmp_path_factory.mktemp("console-artifacts"))


@pytest.fixture(scope="module")
def pki(tls_server):
    """A root and an issuing CA, and a certificate whose subject carries a script payload."""
    tls_server.api("POST", "/cas", {"name": "ui-root", "subject": "/CN=UI Root",
                                    "key_type": "ec-p256"}, expect=201)
    tls_server.api("POST", "/cas", {"name": "ui-issuing", "subject": "/CN=UI Issuing",
                                    "parent": "ui-root", "key_type": "ec-p256"}, expect=201)
    csr, _ = make_csr(cn=PAYLOAD)
    cert = tls_server.api("POST", "/certificates", {"ca": "ui-issuing", "profile": "tls-client",
                                                    "csr": csr}, expect=201)
    return {"serial": cert["serial"], "subject": cert["subject"]}


@pytest.fixture(scope="module")
def browser_once(artifacts):
    d = browser(artifacts)
    d.set_page_load_timeout(60)
    yield d
    d.quit()


@pytest.fixture
def driver(browser_once):
    """The module's browser, on a blank page at its usual size with its console log drained: a
    test starts signed out (the page keeps the token in memory only; loading it again forgets
    it)."""
    browser_once.get("about:blank")
    browser_once.set_window_size(1280, 800)
    browser_once.get_log("browser")
    return browser_once


def wait(driver, condition, what):
    from selenium.common.exceptions import (NoAlertPresentException, NoSuchElementException,
                                            StaleElementReferenceException)
    from selenium.webdriver.support.ui import WebDriverWait
    # the page re-renders what it changed: an element found a moment ago may be gone
    ignored = [NoSuchElementException, StaleElementReferenceException, NoAlertPresentException]
    return WebDriverWait(driver, 30, ignored_exceptions=ignored).until(condition, message=what)


def by_id(driver, id_):
    from selenium.webdriver.common.by import By
    return wait(driver, lambda d: d.find_element(By.ID, id_), f"#{id_}")


def sign_in(driver, server, token):
    driver.get(server.url + "/ui/")
    by_id(driver, "token").send_keys(token)
    driver.find_element("css selector", "#signin button[type=submit]").click()
    by_id(driver, "who")


def shot(driver, artifacts, name):
    driver.save_screenshot(os.path.join(artifacts, name + ".png"))


def assert_no_console_problems(driver):
    assert console_problems(driver) == []


@BROWSER
def test_page_loads_in_a_browser_without_errors(tls_server, driver, artifacts):
    from selenium.webdriver.common.by import By
    driver.get(tls_server.url + "/ui/")
    # the module ran (script-src 'self' lets it) and put up the sign-in form
    wait(driver, lambda d: d.find_element(By.TAG_NAME, "h1").text == "Sign in", "sign-in page")
    # the stylesheet applied (style-src 'self' lets it)
    bar = driver.find_element(By.CSS_SELECTOR, "header.bar")
    assert bar.value_of_css_property("display") == "flex"
    shot(driver, artifacts, "signin-1280x800")
    driver.set_window_size(390, 844)
    shot(driver, artifacts, "signin-phone")
    assert_no_console_problems(driver)
    # nothing of the sign-in is kept in the browser's storage
    assert driver.execute_script("return localStorage.length + sessionStorage.length") == 0
    # an inline script the page did not bring is refused by the policy, and said so
    driver.execute_script("""
        const s = document.createElement('script');
        s.textContent = 'document.title = "inline ran"';
        document.head.appendChild(s);""")
    assert driver.title == "vouch console"
    problems = console_problems(driver)
    assert problems and "Content Security Policy" in problems[0]["message"], problems


@BROWSER
def test_a_bad_token_is_refused_in_place(tls_server, driver, artifacts):
    driver.get(tls_server.url + "/ui/")
    by_id(driver, "token").send_keys("vt_not_a_token")
    driver.find_element("css selector", "#signin button[type=submit]").click()
    msg = wait(driver, lambda d: d.find_element("css selector", "#signin-status .error"),
               "the refusal")
    assert "401" in msg.text
    assert driver.execute_script("return localStorage.length + sessionStorage.length") == 0
    # the refused fetch is the only thing the browser logs
    assert all("401" in p["message"] for p in console_problems(driver))


@BROWSER
def test_admin_sees_the_dashboard_and_revokes_a_certificate(tls_server, pki, driver, artifacts):
    from selenium.webdriver.common.by import By
    sign_in(driver, tls_server, tls_server.token)
    wait(driver, lambda d: "ui-issuing" in d.find_element(By.ID, "main").text, "the CA table")
    main = driver.find_element(By.ID, "main")
    assert "Expiring in 30 days" in main.text and "Pending approvals" in main.text
    assert "CRL and OCSP freshness" in main.text
    # times in the browser's zone, the UTC value on hover
    t = driver.find_element(By.CSS_SELECTOR, "#main time")
    assert t.get_attribute("title").endswith("Z")
    shot(driver, artifacts, "dashboard-admin")
    assert_no_console_problems(driver)

    driver.find_element(By.ID, "nav-certificates").click()
    by_id(driver, "q-serial").send_keys(pki["serial"].upper())
    driver.find_element(By.CSS_SELECTOR, "#cert-search button[type=submit]").click()
    link = wait(driver, lambda d: d.find_element(By.LINK_TEXT, pki["serial"]), "the result")
    # the payload in the subject is text: no element made of it, no script ran
    results = driver.find_element(By.ID, "cert-results")
    assert pki["subject"] in results.text and "<script" in pki["subject"]
    assert results.find_elements(By.TAG_NAME, "img") == []
    assert results.find_elements(By.TAG_NAME, "script") == []
    shot(driver, artifacts, "certificates-admin")
    link.click()
    by_id(driver, "cert-detail")
    assert pki["subject"] in driver.find_element(By.ID, "cert-detail").text
    shot(driver, artifacts, "certificate-admin")
    from selenium.webdriver.support.ui import Select
    Select(by_id(driver, "revoke-reason")).select_by_value("keyCompromise")
    by_id(driver, "revoke-button").click()
    wait(driver, lambda d: d.switch_to.alert, "the confirmation").accept()
    wait(driver, lambda d: "Revoke: done" in d.find_element(By.ID, "cert-action-status").text,
         "the revocation")
    got = tls_server.api("GET", "/certificates/" + pki["serial"])
    assert got["status"] == "revoked" and got["reason"] == "keyCompromise"
    assert driver.find_elements(By.ID, "revoke-button") == []
    shot(driver, artifacts, "certificate-revoked")
    assert driver.title == "vouch console"
    assert_no_console_problems(driver)


@BROWSER
def test_auditor_sees_no_button_that_changes_anything(tls_server, pki, driver, artifacts):
    from selenium.webdriver.common.by import By
    aid = tls_server.api("POST", "/principals", {"name": "ui-auditor", "kind": "user"},
                         expect=201)["id"]
    tls_server.api("POST", "/roles/bind", {"principal": aid, "role": "auditor"}, expect=201)
    tok = own_token(tls_server, aid, "ui-auditor-token")
    csr, _ = make_csr(cn="audited.example", dns=["audited.example"])
    good = tls_server.api("POST", "/certificates", {"ca": "ui-issuing", "profile": "tls-server",
                                                    "csr": csr}, expect=201)["serial"]
    sign_in(driver, tls_server, tok)
    assert "auditor" in by_id(driver, "who").text
    shot(driver, artifacts, "dashboard-auditor")
    driver.execute_script("location.hash = arguments[0]", "#certificates/" + good)
    by_id(driver, "cert-detail")
    assert driver.find_elements(By.CSS_SELECTOR, "#cert-actions button") == []
    shot(driver, artifacts, "certificate-auditor")
    assert_no_console_problems(driver)
    # and the API refuses the auditor if forced
    r = tls_server.request("POST", f"/api/v1/t/default/certificates/{good}/revoke",
                           {"reason": "superseded"}, token=tok)
    assert r.status == 403
    assert tls_server.api("GET", "/certificates/" + good)["status"] == "good"


# ---- GET /api/v1/t/{tenant}/me: what the console shows and hides by ------------------------

def principal_with_role(server, name, role):
    p = server.api("POST", "/principals", {"name": name, "kind": "user"}, expect=201)
    server.api("POST", "/roles/bind", {"principal": p["id"], "role": role}, expect=201)
    return p["id"], own_token(server, p["id"], name + "-token")


def routes_of(me):
    return {(r["method"], r["path"]): r for r in me["routes"]}


def test_me_names_the_caller_its_roles_and_the_routes_it_may_call(server):
    me = server.api("GET", "/me")
    assert me["tenant"] == "default" and me["principal_tenant"] == "default"
    assert "tenant-admin" in me["roles"] and "self.read" in me["permissions"]
    assert len(me["permissions"]) == len(set(me["permissions"]))
    mine = routes_of(me)
    assert ("GET", "/api/v1/t/{tenant}/me") in mine
    assert ("POST", "/api/v1/t/{tenant}/tokens") in mine
    assert all(r["path"].startswith("/api/v1/t/{tenant}/") for r in me["routes"])
    assert not any(r["permission"] in ("public", "system") for r in me["routes"])


def test_me_of_a_requester_and_an_auditor_shows_only_what_they_may_do(server):
    rid, rtok = principal_with_role(server, "me-requester", "requester")
    me = server.api("GET", "/me", token=rtok)
    assert me["principal"] == rid and me["roles"] == ["requester"]
    assert me["credential"].startswith("tok-")
    mine = routes_of(me)
    assert mine[("POST", "/api/v1/t/{tenant}/certificates")]["own_only"] is False
    assert mine[("GET", "/api/v1/t/{tenant}/certificates/{serial}")]["own_only"] is True
    assert ("POST", "/api/v1/t/{tenant}/certificates/{serial}/revoke") not in mine
    assert ("POST", "/api/v1/t/{tenant}/requests/{request}/approve") not in mine
    assert "cert.read:own" in me["permissions"] and "cert.revoke" not in me["permissions"]

    _, atok = principal_with_role(server, "me-auditor", "auditor")
    me = server.api("GET", "/me", token=atok)
    # an auditor reads: every route it may call is a GET
    assert me["routes"] and {r["method"] for r in me["routes"]} == {"GET"}
    assert ("GET", "/api/v1/t/{tenant}/audit/verify") in routes_of(me)
    assert ("POST", "/api/v1/t/{tenant}/audit/checkpoints") not in routes_of(me)


def test_me_in_another_tenant_is_refused(server):
    other = other_tenant(server, "me-other")
    r = server.request("GET", "/api/v1/t/me-other/me")  # default's administrator
    assert r.status == 403 and b"me-other" not in r.body.replace(b"/api/v1/t/me-other/me", b"")
    assert server.api("GET", "/me", tenant="me-other", token=other)["tenant"] == "me-other"
    r = server.request("GET", "/api/v1/t/default/me", token=None)
    assert r.status == 401
    r = server.request("GET", "/api/v1/t/default/me", token="vt_nope")
    assert r.status == 401


# ---- approvals and audit in the browser ------------------------------------------------------

def person(server, name, role):
    pid = server.api("POST", "/principals", {"name": name, "kind": "user"}, expect=201)["id"]
    server.api("POST", "/roles/bind", {"principal": pid, "role": role}, expect=201)
    return pid, own_token(server, pid, name + "-token")


@pytest.fixture(scope="module")
def approvals(tls_server, pki):
    """A workflow on a clone of tls-client (one approval), two requesters and a request of
    each."""
    tls_server.api("POST", "/profiles/tls-client/clone", {"name": "ui-approved"}, expect=201)
    tls_server.api("PUT", "/workflows/profile:ui-approved", {"required": 1})
    made = {}
    for name in ["ui-req-one", "ui-req-two"]:
        pid, tok = person(tls_server, name, "requester")
        csr, _ = make_csr(cn=f"<i>{name}</i>" if name == "ui-req-one" else name)
        r = tls_server.request("POST", "/api/v1/t/default/certificates",
                               {"ca": "ui-issuing", "profile": "ui-approved", "csr": csr},
                               token=tok)
        assert r.status == 202, r.body
        made[name] = {"principal": pid, "token": tok, "request": r.json()["id"]}
    return made


@BROWSER
def test_requester_sees_only_its_own_requests(tls_server, approvals, driver, artifacts):
    from selenium.webdriver.common.by import By
    one, two = approvals["ui-req-one"], approvals["ui-req-two"]
    # its request was refused with a reason that is a script payload
    tls_server.api("POST", f"/requests/{one['request']}/reject", {"reason": PAYLOAD})
    sign_in(driver, tls_server, one["token"])
    by_id(driver, "nav-approvals").click()
    from selenium.webdriver.support.ui import Select
    Select(by_id(driver, "req-status")).select_by_value("")
    driver.find_element(By.CSS_SELECTOR, "#req-search button[type=submit]").click()
    wait(driver, lambda d: d.find_element(By.LINK_TEXT, one["request"]), "its own request")
    assert two["request"] not in driver.find_element(By.ID, "req-results").text
    assert "Your own requests." in driver.find_element(By.ID, "main").text
    shot(driver, artifacts, "approvals-requester")
    driver.find_element(By.LINK_TEXT, one["request"]).click()
    by_id(driver, "req-detail")
    assert driver.find_elements(By.ID, "approve-button") == []
    assert '"profile": "ui-approved"' in driver.find_element(By.ID, "req-params").text
    detail = driver.find_element(By.ID, "req-detail")
    assert PAYLOAD in detail.text and "rejected" in detail.text
    assert by_id(driver, "req-subject").text == "CN=<i>ui-req-one</i>"
    assert detail.find_elements(By.TAG_NAME, "i") == []
    assert detail.find_elements(By.TAG_NAME, "img") == []
    assert detail.find_elements(By.TAG_NAME, "script") == []
    assert driver.title == "vouch console"
    # no audit page for a requester, nor a revoke button anywhere
    assert driver.find_elements(By.ID, "nav-audit") == []
    assert_no_console_problems(driver)


@BROWSER
def test_ra_officer_approves_a_request_and_the_certificate_appears(tls_server, approvals, driver,
                                                                    artifacts):
    from selenium.webdriver.common.by import By
    req = approvals["ui-req-two"]["request"]
    _, tok = person(tls_server, "ui-officer", "ra-officer")
    sign_in(driver, tls_server, tok)
    by_id(driver, "nav-approvals").click()
    wait(driver, lambda d: d.find_element(By.LINK_TEXT, req), "the pending request").click()
    assert "0 of 1" in by_id(driver, "req-detail").text
    assert by_id(driver, "req-subject").text == "CN=ui-req-two"
    shot(driver, artifacts, "request-officer")
    by_id(driver, "approve-button").click()
    wait(driver, lambda d: "Approve: done" in d.find_element(By.ID, "req-action-status").text,
         "the approval")
    got = tls_server.api("GET", "/requests/" + req)
    assert got["status"] == "done", got
    serial = got["result"]["body"]["serial"]
    assert serial in driver.find_element(By.ID, "req-result").text
    shot(driver, artifacts, "request-approved")
    # the certificate is there, found by its serial in the certificates page
    by_id(driver, "nav-certificates").click()
    by_id(driver, "q-serial").send_keys(serial)
    driver.find_element(By.CSS_SELECTOR, "#cert-search button[type=submit]").click()
    wait(driver, lambda d: d.find_element(By.LINK_TEXT, serial), "the new certificate")
    assert_no_console_problems(driver)


@BROWSER
def test_auditor_browses_and_verifies_the_audit_chain(tls_server, approvals, driver, artifacts):
    from selenium.webdriver.common.by import By
    _, tok = person(tls_server, "ui-auditor2", "auditor")
    sign_in(driver, tls_server, tok)
    by_id(driver, "nav-audit").click()
    wait(driver, lambda d: "cert.issue" in d.find_element(By.ID, "audit-results").text or
         "cert" in d.find_element(By.ID, "audit-results").text, "the events")
    by_id(driver, "verify-button").click()
    wait(driver, lambda d: "Chain verified" in d.find_element(By.ID, "verify-result").text,
         "the verification")
    # nothing on the page changes anything: the verify button reads only
    buttons = [b.text for b in driver.find_elements(By.CSS_SELECTOR, "#main button")]
    assert set(buttons) <= {"Verify the chain", "Filter", "Next", "Previous"}, buttons
    shot(driver, artifacts, "audit-auditor")
    assert_no_console_problems(driver)


@BROWSER
def test_signs_in_and_moves_between_pages_by_keyboard_at_a_phone_width(tls_server, pki, driver,
                                                                      artifacts):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    driver.set_window_size(390, 844)
    driver.get(tls_server.url + "/ui/")
    tenant = by_id(driver, "tenant")
    tenant.click()
    tenant.send_keys(Keys.TAB)
    assert driver.switch_to.active_element.get_attribute("id") == "token"
    driver.switch_to.active_element.send_keys(tls_server.token, Keys.ENTER)
    by_id(driver, "who")
    # the page links are the first stops of the tab order, and Enter follows one
    driver.find_element(By.ID, "nav-dashboard").send_keys(Keys.TAB)
    assert driver.switch_to.active_element.get_attribute("id") == "nav-certificates"
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait(driver, lambda d: d.find_element(By.LINK_TEXT, pki["serial"]), "the certificates page")
    # one block per row at a phone's width: nothing wider than the window
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
    shot(driver, artifacts, "certificates-phone")
    assert_no_console_problems(driver)
