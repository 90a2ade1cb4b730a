"""The layering the code must keep (docs/architecture.md, "One door"): transport code parses,
calls svc and maps the answer to its protocol. It never reads or writes the store, writes audit
events or talks to the signer itself, and below the API errors are kinds, not HTTP statuses."""
import glob
import os
import re

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


def code_of(path):
    """The file's text without comments or string literals (a word in a comment is no call)."""
    text = open(path).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', text)


def offenders(pattern, *dirs):
    found = []
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(SRC, d, "*.[ch]"))):
            for n, line in enumerate(code_of(path).splitlines(), 1):
                if re.search(pattern, line):
                    found.append(f"{os.path.relpath(path, SRC)}:{n}: {line.strip()}")
    return found


def test_the_api_and_http_layers_never_call_the_store():
    assert offenders(r"\bstore_\w+\s*\(|\bstruct\s+store_tx\b|->store\b", "api", "http") == []


def test_the_api_layer_writes_no_audit_event_and_talks_to_no_signer():
    assert offenders(r"\baudit_(append|write|event)\w*\s*\(|\bsvc_audit_ok\s*\(|\bsigner_\w+\s*\(",
                     "api", "http") == []


def test_no_http_status_below_the_api():
    """core, keys, store, audit and svc report error kinds; only src/http and src/api (and the
    signer's wire mapping, which carries kind words) know HTTP statuses."""
    assert offenders(r"\b(err_set|err_setc|err_ossl|err_osslc)\s*\(\s*[^,]+,\s*[0-9]{3}\b",
                     "core", "keys", "store", "audit", "svc", "lib") == []
    assert offenders(r"(kind|status)\s*[=!]=\s*(4[0-9]{2}|5[0-9]{2})\b",
                     "core", "keys", "store", "audit", "svc") == []
