"""A Docker registry token server (the "Bearer" token protocol) for tests, run in threads of the
test process. Normally used through registry_fixture.Registry(auth="token"), which starts one and
configures the registry to trust it; it can also be used alone.

    TokenServer(username, password, service="layersift-test-registry", expires_in=300,
                token_field="token", jwt_header="x5c", hard_expiry=False)
        Context manager (start()/stop()). Generates (with the `openssl` command line) an RSA key
        and a self-signed certificate in a fresh temporary directory.

    Properties:
        host           "127.0.0.1:PORT" of the token server
        realm          "http://127.0.0.1:PORT/token" (the registry's auth.token.realm)
        service, issuer
        cert_path      PEM certificate to give the registry as auth.token.rootcertbundle
        token_requests snapshot list of dicts, one per GET /token (thread-safe), with keys:
                       path, service, account, scopes (list of scope strings as requested),
                       had_credentials (an Authorization: Basic header was sent),
                       authorized (the credentials were right), status (200/401/400)
    Attributes tests may change while running:
        expires_in     seconds put in "expires_in" (None: the field is omitted, the JWT lives 60 s)
        token_field    "token", "access_token" or "both": which field(s) of the answer carry it
        grant          callable(type, name, actions) -> list of actions granted to valid
                       credentials; default grants everything requested
    Methods:
        issue(scopes)          -> a signed JWT for these scope strings (no HTTP involved)
        clear_token_requests()

Protocol: GET /token?service=S&scope=repository:REPO:pull,push[&scope=...][&account=A]
(several scopes may also be space-separated in one parameter). HTTP Basic with the right
username/password is required: without it, or with wrong credentials, the answer is 401 with
a `WWW-Authenticate: Basic realm=...` challenge. With it, every requested action is granted
(`registry:catalog:*` included). The answer is JSON:
    {"token"|"access_token": JWT, "expires_in": N, "issued_at": RFC 3339 time}

The JWT is RS256 signed. jwt_header="x5c" (default) puts the DER certificate in the header's
"x5c" chain: distribution 2.8 verifies that chain against its rootcertbundle and uses the leaf's
key. jwt_header="kid" instead names the key with its libtrust key id (base32 of the first 240
bits of SHA-256 of the DER SubjectPublicKeyInfo, in 4-character groups joined by ':'), which
distribution matches against the keys of the certificates in the bundle.

Claims: iss, sub (the account or username), aud (= service), exp, nbf, iat, jti, access=[{type,
name, actions}]. distribution 2.8 accepts tokens for 60 s past "exp" (its leeway); with
hard_expiry=True "exp" is moved 60 s earlier so that the registry really refuses a token once
expires_in seconds have passed (to test that a client fetches a new one).
"""
import base64
import datetime
import hashlib
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

from .http_server import RequestLog, Service, TrackingHandler, TrackingServer

DISTRIBUTION_LEEWAY_S = 60


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def libtrust_key_id(spki_der):
    """The key id distribution (docker/libtrust) gives a public key: the first 240 bits of the
    SHA-256 of its DER SubjectPublicKeyInfo, base32, in groups of 4 joined by ':'."""
    b32 = base64.b32encode(hashlib.sha256(spki_der).digest()[:30]).decode("ascii").rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


def _run_openssl(args, input_bytes=None):
    proc = subprocess.run(["openssl", *args], input=input_bytes, capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: "
                           f"{proc.stderr.decode(errors='replace')}")
    return proc.stdout


def parse_scope(scope):
    """'repository:a/b:pull,push' -> ('repository', 'a/b', ['pull', 'push'])."""
    kind, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not kind or not name:
        raise ValueError(f"malformed scope {scope!r}")
    return kind, name, [a for a in actions.split(",") if a]


class TokenServer(Service):
    def __init__(self, username, password, service="layersift-test-registry", expires_in=300,
                 token_field="token", jwt_header="x5c", hard_expiry=False,
                 issuer="layersift-test-token-issuer"):
        if token_field not in ("token", "access_token", "both"):
            raise ValueError(f"token_field must be token, access_token or both: {token_field!r}")
        if jwt_header not in ("x5c", "kid"):
            raise ValueError(f"jwt_header must be x5c or kid: {jwt_header!r}")
        self.username, self.password = username, password
        self.service, self.issuer = service, issuer
        self.expires_in, self.token_field = expires_in, token_field
        self.jwt_header, self.hard_expiry = jwt_header, hard_expiry
        self.grant = lambda kind, name, actions: list(actions)
        # The refresh token `docker login` stores as "identitytoken" for OAuth2 token services.
        self.identity_token = "layersift-test-identity-" + base64.b16encode(os.urandom(8)).decode().lower()
        self._lock = threading.Lock()
        self._requests = RequestLog()
        self._server = self._thread = None
        self._dir = None
        self.cert_path = self.key_path = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self):
        if self._server is not None:
            return
        self._dir = tempfile.mkdtemp(prefix="layersift-token-")
        try:
            self.key_path = os.path.join(self._dir, "token.key")
            self.cert_path = os.path.join(self._dir, "token.crt")
            _run_openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                          "-keyout", self.key_path, "-out", self.cert_path, "-days", "3650",
                          "-subj", "/CN=layersift test token issuer"])
            with open(self.cert_path) as f:
                self._cert_der = ssl.PEM_cert_to_DER_cert(f.read())
            spki = _run_openssl(["pkey", "-in", self.key_path, "-pubout", "-outform", "DER"])
            self.key_id = libtrust_key_id(spki)
            self._server = TrackingServer(_TokenHandler)
            self._server.owner = self
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.1},
                                            name="token-server", daemon=True)
            self._thread.start()
        except BaseException:
            self.stop()
            raise

    def stop(self):
        if self._server is not None:
            self._server.shut_down(self._thread)
            self._server = self._thread = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    # -- properties --------------------------------------------------------------------------
    @property
    def host(self):
        return "127.0.0.1:%d" % self._server.server_address[1]

    @property
    def realm(self):
        return f"http://{self.host}/token"

    @property
    def token_requests(self):
        return self._requests.snapshot()

    def clear_token_requests(self):
        self._requests.clear()

    def _record(self, entry):
        self._requests.add(entry)

    # -- tokens ------------------------------------------------------------------------------
    def issue(self, scopes, subject=None):
        """A signed JWT granting `scopes` (strings 'type:name:actions'), filtered by self.grant."""
        access = []
        for scope in scopes:
            kind, name, actions = parse_scope(scope)
            granted = self.grant(kind, name, actions)
            if granted:
                access.append({"type": kind, "name": name, "actions": list(granted)})
        now = int(time.time())
        lifetime = self.expires_in if self.expires_in is not None else 60
        exp = now + lifetime
        if self.hard_expiry:
            exp -= DISTRIBUTION_LEEWAY_S
        header = {"typ": "JWT", "alg": "RS256"}
        if self.jwt_header == "x5c":
            header["x5c"] = [base64.b64encode(self._cert_der).decode("ascii")]
        else:
            header["kid"] = self.key_id
        claims = {"iss": self.issuer, "sub": subject or self.username, "aud": self.service,
                  "exp": exp, "nbf": now - 1, "iat": now, "jti": uuid.uuid4().hex,
                  "access": access}
        signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         _b64url(json.dumps(claims, separators=(",", ":")).encode()))
        signature = _run_openssl(["dgst", "-sha256", "-sign", self.key_path],
                                 signing_input.encode("ascii"))
        return signing_input + "." + _b64url(signature)


class _TokenHandler(TrackingHandler):
    timeout = 60


    def _send_json(self, code, obj, extra_headers=()):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_POST(self):
        """The OAuth2 form of the token endpoint: grant_type=refresh_token with the identity
        token (client_id, service and scope as form fields); answers access_token."""
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        field = lambda name: form.get(name, [None])[0]
        scopes = [s for value in form.get("scope", []) for s in value.split(" ") if s]
        entry = {"path": self.path, "service": field("service"), "account": None, "scopes": scopes,
                 "had_credentials": field("refresh_token") is not None, "authorized": False,
                 "status": None, "grant": field("grant_type"), "client_id": field("client_id")}
        try:
            if (urllib.parse.urlsplit(self.path).path.rstrip("/") != "/token"
                    or field("grant_type") != "refresh_token"
                    or field("refresh_token") != owner.identity_token or not field("client_id")):
                entry["status"] = 401
                self._send_json(401, {"error": "invalid_grant"})
                return
            entry["authorized"] = True
            answer = {"access_token": owner.issue(scopes), "scope": " ".join(scopes)}
            if owner.expires_in is not None:
                answer["expires_in"] = owner.expires_in
            entry["status"] = 200
            self._send_json(200, answer)
        finally:
            owner._record(entry)

    def do_GET(self):
        owner = self.server.owner
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
        entry = {"path": self.path, "service": query.get("service", [None])[0],
                 "account": query.get("account", [None])[0], "scopes": scopes,
                 "had_credentials": False, "authorized": False, "status": None}
        try:
            if url.path.rstrip("/") != "/token":
                entry["status"] = 404
                self._send_json(404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
                return
            user = password = None
            auth = self.headers.get("Authorization", "")
            if auth[:6].lower() == "basic ":
                entry["had_credentials"] = True
                try:
                    user, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    user = None
            if user != owner.username or password != owner.password:
                entry["status"] = 401
                self._send_json(401, {"errors": [{"code": "UNAUTHORIZED",
                                                  "message": "authentication required"}]},
                                [("WWW-Authenticate", f'Basic realm="{owner.realm}"')])
                return
            entry["authorized"] = True
            if entry["service"] is not None and entry["service"] != owner.service:
                entry["status"] = 400
                self._send_json(400, {"errors": [{"code": "DENIED",
                                                  "message": "unknown service"}]})
                return
            try:
                token = owner.issue(scopes, subject=entry["account"])
            except ValueError as e:
                entry["status"] = 400
                self._send_json(400, {"errors": [{"code": "DENIED", "message": str(e)}]})
                return
            answer = {}
            if owner.token_field in ("token", "both"):
                answer["token"] = token
            if owner.token_field in ("access_token", "both"):
                answer["access_token"] = token
            if owner.expires_in is not None:
                answer["expires_in"] = owner.expires_in
            answer["issued_at"] = datetime.datetime.now(datetime.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%SZ")
            entry["status"] = 200
            self._send_json(200, answer)
        finally:
            owner._record(entry)
