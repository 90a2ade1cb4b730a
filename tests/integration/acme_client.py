"""A small ACME client written for the test suite (RFC 8555), for what the packaged clients
(certbot 2.1, lego 4.9) do not do: renewal information (RFC 9773), `replaces`, profiles, key
rollover, account deactivation, orders waiting for approval, and malformed requests on purpose.

It signs with python3-cryptography and speaks HTTP through urllib; nothing else."""
import base64
import json
import ssl
import urllib.error
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.x509.oid import NameOID


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_int(n, length=None):
    length = length or (n.bit_length() + 7) // 8
    return b64u(n.to_bytes(length, "big"))


class Key:
    """An account (or certificate) key: its JWK, RFC 7638 thumbprint, and JWS signatures."""

    def __init__(self, kind="ec256"):
        if kind == "ec256":
            self.priv, self.alg, self.size = ec.generate_private_key(ec.SECP256R1()), "ES256", 32
        elif kind == "ec384":
            self.priv, self.alg, self.size = ec.generate_private_key(ec.SECP384R1()), "ES384", 48
        elif kind == "rsa":
            self.priv, self.alg = rsa.generate_private_key(65537, 2048), "RS256"
        elif kind == "ed25519":
            self.priv, self.alg = ed25519.Ed25519PrivateKey.generate(), "EdDSA"
        self.kind = kind

    def jwk(self):
        pub = self.priv.public_key()
        if self.kind.startswith("ec"):
            n = pub.public_numbers()
            crv = "P-256" if self.kind == "ec256" else "P-384"
            return {"crv": crv, "kty": "EC", "x": b64u_int(n.x, self.size),
                    "y": b64u_int(n.y, self.size)}
        if self.kind == "rsa":
            n = pub.public_numbers()
            return {"e": b64u_int(n.e), "kty": "RSA", "n": b64u_int(n.n)}
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": b64u(raw)}

    def thumbprint(self):
        canon = json.dumps(self.jwk(), sort_keys=True, separators=(",", ":"))
        h = hashes.Hash(hashes.SHA256())
        h.update(canon.encode())
        return b64u(h.finalize())

    def sign(self, data):
        if self.kind.startswith("ec"):
            algo = hashes.SHA256() if self.kind == "ec256" else hashes.SHA384()
            r, s = utils.decode_dss_signature(self.priv.sign(data, ec.ECDSA(algo)))
            return r.to_bytes(self.size, "big") + s.to_bytes(self.size, "big")
        if self.kind == "rsa":
            return self.priv.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.priv.sign(data)


def jws(key, url, payload, nonce=None, kid=None, alg=None, extra=None):
    """A flattened JWS; payload None is POST-as-GET (the empty string)."""
    protected = {"alg": alg or key.alg, "url": url}
    if nonce is not None:
        protected["nonce"] = nonce
    if kid is not None:
        protected["kid"] = kid
    else:
        protected["jwk"] = key.jwk()
    protected.update(extra or {})
    p64 = b64u(json.dumps(protected))
    body = "" if payload is None else b64u(json.dumps(payload))
    sig = key.sign(f"{p64}.{body}".encode())
    return {"protected": p64, "payload": body, "signature": b64u(sig)}


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def problem(self):
        """The error type's suffix of a problem document."""
        return self.json()["type"].rsplit(":", 1)[-1]


class Client:
    def __init__(self, directory_url, cafile, key=None):
        self.ctx = ssl.create_default_context(cafile=cafile)
        self.directory_url = directory_url
        self.key = key or Key()
        self.kid = None
        self.nonce = None
        self.dir = self.get(directory_url).json()

    def request(self, method, url, body=None, content_type="application/jose+json"):
        data = None if body is None else (body if isinstance(body, bytes) else
                                          json.dumps(body).encode())
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
                ans = Answer(r.status, r.headers, r.read())
        except urllib.error.HTTPError as err:
            ans = Answer(err.code, err.headers, err.read())
        if ans.headers.get("Replay-Nonce"):
            self.nonce = ans.headers["Replay-Nonce"]
        return ans

    def get(self, url):
        return self.request("GET", url)

    def new_nonce(self):
        ans = self.request("HEAD", self.dir["newNonce"])
        assert ans.status == 200 and ans.headers["Cache-Control"] == "no-store"
        return self.nonce

    def post(self, url, payload, key=None, kid=True, nonce=None, alg=None, extra=None):
        """A signed POST (payload None: POST-as-GET); retries once on badNonce."""
        for _ in range(2):
            if nonce is None and self.nonce is None:
                self.new_nonce()
            body = jws(key or self.key, url, payload, nonce or self.nonce,
                       kid=self.kid if kid else None, alg=alg, extra=extra)
            self.nonce = None
            ans = self.request("POST", url, body)
            if nonce is not None or ans.status != 400 or ans.problem() != "badNonce":
                return ans
        return ans

    def new_account(self, contact=None, eab=None, only_existing=False, expect=(200, 201)):
        payload = {"termsOfServiceAgreed": True}
        if contact:
            payload["contact"] = contact
        if only_existing:
            payload["onlyReturnExisting"] = True
        if eab:
            kid, hmac_key = eab
            payload["externalAccountBinding"] = eab_jws(kid, hmac_key, self.dir["newAccount"],
                                                        self.key.jwk())
        ans = self.post(self.dir["newAccount"], payload, kid=False)
        if ans.status in (200, 201):
            self.kid = ans.headers["Location"]
        assert ans.status in ((expect,) if isinstance(expect, int) else expect), ans.body
        return ans

    def new_order(self, names, profile=None, replaces=None):
        ids = [{"type": "ip" if all(c in "0123456789.:" for c in n) else "dns", "value": n}
               for n in names]
        payload = {"identifiers": ids}
        if profile:
            payload["profile"] = profile
        if replaces:
            payload["replaces"] = replaces
        return self.post(self.dir["newOrder"], payload)

    def key_authorization(self, token):
        return f"{token}.{self.key.thumbprint()}"

    def finalize(self, order, names, key=None):
        key = key or ec.generate_private_key(ec.SECP256R1())
        sans = [x509.DNSName(n) for n in names]
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
               .add_extension(x509.SubjectAlternativeName(sans), critical=False)
               .sign(key, hashes.SHA256()))
        der = csr.public_bytes(serialization.Encoding.DER)
        return self.post(order["finalize"], {"csr": b64u(der)}), key


def eab_jws(kid, hmac_key_b64u, url, jwk):
    """The externalAccountBinding JWS (RFC 8555 section 7.3.4), HS256."""
    import hmac as hmac_mod
    key = base64.urlsafe_b64decode(hmac_key_b64u + "=" * (-len(hmac_key_b64u) % 4))
    protected = b64u(json.dumps({"alg": "HS256", "kid": kid, "url": url}))
    payload = b64u(json.dumps(jwk))
    mac = hmac_mod.new(key, f"{protected}.{payload}".encode(), "sha256").digest()
    return {"protected": protected, "payload": payload, "signature": b64u(mac)}


def ari_cert_id(cert):
    """The RFC 9773 certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial)."""
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    serial = cert.serial_number
    raw = serial.to_bytes((serial.bit_length() + 8) // 8, "big")  # DER INTEGER content
    return f"{b64u(aki.key_identifier)}.{b64u(raw)}"
