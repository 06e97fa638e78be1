"""A fault-injecting HTTP proxy to put between a registry client and a real registry
(support.registry_fixture.Registry), plus an S3-like "redirect target" server, both run in
threads of the test process.

    with Registry() as reg, FaultProxy(reg.host, blob_path=reg.blob_path) as proxy:
        reg.push(..., "demo:latest")
        proxy.set_faults([{"match": r"/blobs/sha256:", "method": "GET", "times": 1,
                           "action": "reset", "after_bytes": 1000}])
        ... run the client against proxy.host ...
        assert ("reset", ...) in proxy.faults_applied

FaultProxy(upstream_host, blob_path=None, upstream_timeout=60)
    upstream_host   "HOST:PORT" of the registry (plain HTTP)
    blob_path       callable(digest) -> path of the blob's bytes (Registry.blob_path); needed
                    only by "redirect" rules (the redirect target serves blobs from disk)
    Context manager; start() / stop(). stop() closes every connection, wakes stalled
    responses and joins the server threads.

Properties
    host            "127.0.0.1:PORT" of the proxy (HTTP/1.1, keep-alive)
    url             "http://" + host
    redirect_host   "127.0.0.1:PORT" of the redirect target server
    upstream_host
    requests        snapshot list of dicts, one per request to the proxy, in arrival order:
                    {"method", "path" (path + query), "headers", "status", "time"}
                    headers: dict with lower-case keys and case-insensitive lookups
                    (headers["Authorization"] works); status: what the proxy answered (the
                    upstream status for forwarded answers, even when the body was cut);
                    time: time.monotonic() when the request arrived
    redirect_requests  snapshot list of dicts, one per request reaching a redirect target
                    (the redirect server, or /redirected/ on the proxy itself):
                    {"method", "path", "headers", "status", "time"}
    faults_applied  snapshot list of (action, path) tuples, one per fault applied, in order;
                    the redirect target adds ("expired", path) for each 403 it gives
Methods
    set_faults(rules)   replace the rules (each rule's count starts afresh)
    clear_faults()
    clear_log()         empty requests, redirect_requests and faults_applied

Forwarding: each request (method, path + query, headers, body) goes upstream unchanged except
for hop-by-hop headers; Host is kept, so the registry's Location headers name the proxy.
Request bodies sent chunked are forwarded with a Content-Length. Redirects are not followed.
The answer's status and headers (WWW-Authenticate, Location, Content-Range,
Docker-Content-Digest, Content-Length...) come back unchanged and the body is streamed in
chunks; an upstream answer without Content-Length is read whole and given one. An upstream that
can't be reached gives 502.

Rules: the first rule (in list order) that matches a request and has uses left applies; at most
one rule applies to a request. A rule is a dict:
    "match":   regex searched in the path + query (default: any)
    "method":  only this method (optional), e.g. "GET" so a HEAD doesn't use up the rule
    "times":   apply to the first N matching requests, then let them pass (default 1; -1: always)
    "action":  one of the following, with its parameters:
      "reset"       after_bytes: forward the answer, but after that many body bytes reset the
                    TCP connection (SO_LINGER 0 + close: the client gets ECONNRESET; the proxy
                    first waits up to 2 s for the peer to acknowledge the bytes sent)
      "truncate"    after_bytes: full headers (original Content-Length), that many body bytes,
                    then a clean close (the client sees a short body)
      "status"      code (e.g. 429, 503, 408, 500), optional retry_after (seconds, sent as
                    Retry-After), optional body (str/bytes; default a registry-style JSON error),
                    optional content_type (default application/json):
                    answered by the proxy without contacting upstream
      "stall"       after_bytes, seconds: that many body bytes, a pause, then a clean close
      "ignore_range"  the Range (and If-Range) header is dropped before forwarding: a ranged
                    request gets 200 and the whole blob
      "bad_content_range"  optional shift (default 1): the 206 answer's Content-Range
                    "bytes a-b/n" becomes "bytes a+shift-b+shift/n"; status and body unchanged
      "corrupt"     offset: absolute byte offset in the blob whose bits are flipped (xor 0xff) as
                    the body passes (a 206 answer's Content-Range start is taken into account;
                    nothing happens if the offset is outside the bytes sent)
      "absolute_link"  a relative Link header target ("</v2/_catalog?...>") is rewritten to an
                    absolute URL on the proxy, to exercise clients' handling of both forms
      "redirect"    answer 307 with Location
                    http://REDIRECT_HOST/s3/<digest>?X-Amz-Signature=<random hex>&n=<counter>
                    (the digest is taken from the request path). Options:
                    relative: True  -> Location "/redirected/<digest>?X-Amz-Signature=..&n=.."
                                       (path only), served by the proxy itself
                    expire_once: True, expired_requests: K (default 1) -> the first K requests
                                       reaching the redirect target with a URL this rule issued
                                       get 403 and an S3 XML "Request has expired" error
                    reject_authorization: True -> the target answers 400 (S3's "Only one auth
                                       mechanism allowed") to requests carrying Authorization
Rules also apply to requests reaching the redirect target (paths /s3/<digest>... and
/redirected/<digest>...); anchor the regex (r"^/v2/") to keep a rule to registry requests.

The redirect target serves the bytes of blob_path(digest) with Content-Length,
Accept-Ranges: bytes and Content-Type: application/octet-stream; a single "Range: bytes=a-b",
"bytes=a-" or "bytes=-n" gives 206 with Content-Range, an unsatisfiable one 416 with
"Content-Range: bytes */SIZE", anything else 200 with the whole blob. A missing blob gives 404.
"""
import binascii
import fcntl
import http.client
import json
import os
import re
import socket
import struct
import termios
import threading
import time
import urllib.parse

from .http_server import RequestLog, Service, TrackingHandler, TrackingServer

__all__ = ["FaultProxy", "ACTIONS"]

ACTIONS = ("reset", "truncate", "status", "stall", "ignore_range", "bad_content_range",
           "corrupt", "redirect", "absolute_link")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
              "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding", "upgrade"}
CHUNK = 64 * 1024
DIGEST_RE = re.compile(r"(sha256:[0-9a-f]{64})")
TARGET_RE = re.compile(r"^/(s3|redirected)/(sha256:[0-9a-f]{64})(?:\?|$)")
CONTENT_RANGE_RE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")
STATUS_ERROR_CODES = {401: "UNAUTHORIZED", 403: "DENIED", 404: "NOT_FOUND",
                      408: "REQUEST_TIMEOUT", 429: "TOOMANYREQUESTS", 503: "UNAVAILABLE"}


class Headers(dict):
    """Request headers: lower-case keys, case-insensitive lookups; repeated headers joined
    with ", "."""

    def __init__(self, pairs=()):
        super().__init__()
        for name, value in pairs:
            name = name.lower()
            if super().__contains__(name):
                value = super().__getitem__(name) + ", " + value
            super().__setitem__(name, value)

    def __getitem__(self, name):
        return super().__getitem__(name.lower())

    def __contains__(self, name):
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name, default=None):
        return super().get(name.lower(), default)


class _Rule:
    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise TypeError(f"a fault rule is a dict: {spec!r}")
        self.spec = dict(spec)
        self.action = spec.get("action")
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r} (one of {ACTIONS})")
        self.pattern = re.compile(spec.get("match") or "")
        self.method = spec.get("method")
        self.remaining = int(spec.get("times", 1))
        if self.action in ("reset", "truncate", "stall"):
            self.after_bytes = int(spec["after_bytes"])
        if self.action == "stall":
            self.seconds = float(spec["seconds"])
        if self.action == "status":
            self.code = int(spec["code"])
        if self.action == "corrupt":
            self.offset = int(spec["offset"])
        self.expired_left = int(spec.get("expired_requests", 1)) if spec.get("expire_once") \
            else 0

    def get(self, key, default=None):
        return self.spec.get(key, default)


class _Server(TrackingServer):
    def __init__(self, owner, role):
        self.owner, self.role = owner, role
        super().__init__(_Handler)


class FaultProxy(Service):
    def __init__(self, upstream_host, blob_path=None, upstream_timeout=60):
        self.upstream_host = upstream_host
        self.blob_path = blob_path
        self.upstream_timeout = upstream_timeout
        self._lock = threading.Lock()
        self._rules = []
        self._requests, self._redirect_requests, self._faults = RequestLog(), RequestLog(), []
        self._issued = {}  # redirect counter n -> the _Rule that issued it
        self._counter = 0
        self._stopping = threading.Event()
        self._servers, self._threads = [], []

    # -- lifecycle -------------------------------------------------------------------------
    def start(self):
        if self._servers:
            return self
        self._stopping.clear()
        try:
            for role in ("proxy", "redirect"):
                server = _Server(self, role)
                thread = threading.Thread(target=server.serve_forever,
                                          kwargs={"poll_interval": 0.1},
                                          name=f"fault-proxy-{role}", daemon=True)
                self._servers.append(server)
                self._threads.append(thread)
                thread.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        self._stopping.set()
        for server, thread in zip(self._servers, self._threads):
            if thread.is_alive():
                server.shutdown()
        for server in self._servers:
            server.close_all()
            server.server_close()
        for thread in self._threads:
            if thread.ident is not None:
                thread.join(10)
        self._servers, self._threads = [], []

    # -- properties --------------------------------------------------------------------------
    @property
    def host(self):
        return "127.0.0.1:%d" % self._servers[0].server_address[1]

    @property
    def url(self):
        return "http://" + self.host

    @property
    def redirect_host(self):
        return "127.0.0.1:%d" % self._servers[1].server_address[1]

    @property
    def requests(self):
        return self._requests.snapshot()

    @property
    def redirect_requests(self):
        return self._redirect_requests.snapshot()

    @property
    def faults_applied(self):
        with self._lock:
            return list(self._faults)

    # -- rules -------------------------------------------------------------------------------
    def set_faults(self, rules):
        compiled = [_Rule(r) for r in rules]
        if any(r.action == "redirect" for r in compiled) and self.blob_path is None:
            raise ValueError("redirect rules need FaultProxy(..., blob_path=registry.blob_path)")
        with self._lock:
            self._rules = compiled

    def clear_faults(self):
        with self._lock:
            self._rules = []

    def clear_log(self):
        with self._lock:
            self._requests.clear()
            self._redirect_requests.clear()
            self._faults.clear()

    # -- used by the handler -----------------------------------------------------------------
    def _take_rule(self, method, path):
        with self._lock:
            for rule in self._rules:
                if rule.remaining == 0:
                    continue
                if rule.method and rule.method.upper() != method:
                    continue
                if not rule.pattern.search(path):
                    continue
                if rule.remaining > 0:
                    rule.remaining -= 1
                self._faults.append((rule.action, path))
                return rule
        return None

    def _record(self, entry, redirect_target=False, also_proxy=False):
        if redirect_target:
            self._redirect_requests.add(entry)
        if also_proxy or not redirect_target:
            self._requests.add(entry)

    def _note_fault(self, action, path):
        with self._lock:
            self._faults.append((action, path))

    def _issue_redirect(self, rule):
        with self._lock:
            self._counter += 1
            self._issued[self._counter] = rule
            return self._counter

    def _expired(self, n):
        """True if the redirect URL number n should get a 403 'expired' answer (uses one)."""
        with self._lock:
            rule = self._issued.get(n)
            if rule is not None and rule.expired_left > 0:
                rule.expired_left -= 1
                return True
            return False

    def _issuer(self, n):
        with self._lock:
            return self._issued.get(n)


class _Handler(TrackingHandler):
    timeout = 120

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, socket.timeout, OSError):
            self.close_connection = True

    # Every method goes through _handle.
    def do_GET(self):
        self._handle()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    # -- request ---------------------------------------------------------------------------
    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else None

    def _handle(self):
        owner = self.server.owner
        method, path = self.command, self.path
        body = self._read_body()
        self.entry = {"method": method, "path": path, "headers": Headers(self.headers.items()),
                      "status": None, "time": time.monotonic()}
        target = TARGET_RE.match(path)
        is_target = self.server.role == "redirect" or (target and target.group(1) == "redirected")
        rule = owner._take_rule(method, path)
        action = rule.action if rule else None
        if is_target:
            self.record = lambda: owner._record(self.entry, redirect_target=True,
                                                also_proxy=self.server.role == "proxy")
        else:
            self.record = lambda: owner._record(self.entry)
        if action == "status":
            return self._send_status(rule)
        if action == "redirect":
            return self._send_redirect(rule)
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP and k.lower() not in ("expect", "content-length")]
        if action == "ignore_range":
            headers = [(k, v) for k, v in headers if k.lower() not in ("range", "if-range")]
        if is_target:
            return self._serve_target(target, headers, rule)
        return self._forward(method, path, headers, body, rule)

    # -- answers made here ---------------------------------------------------------------------
    def _send_simple(self, code, body, content_type, extra=()):
        self.entry["status"] = code
        self.record()
        self.send_response_only(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_status(self, rule):
        body = rule.get("body")
        if body is None:
            body = json.dumps({"errors": [{
                "code": STATUS_ERROR_CODES.get(rule.code, "UNKNOWN"),
                "message": f"fault injected by FaultProxy: status {rule.code}"}]}).encode()
        elif isinstance(body, str):
            body = body.encode()
        extra = []
        if rule.get("retry_after") is not None:
            extra.append(("Retry-After", str(rule.get("retry_after"))))
        self._send_simple(rule.code, body, rule.get("content_type", "application/json"), extra)

    def _send_redirect(self, rule):
        m = DIGEST_RE.search(self.path)
        if not m:
            return self._send_simple(400, b"redirect fault rule matched a path without a "
                                     b"sha256 digest\n", "text/plain")
        n = self.server.owner._issue_redirect(rule)
        query = f"X-Amz-Signature={binascii.hexlify(os.urandom(16)).decode()}&n={n}"
        if rule.get("relative"):
            location = f"/redirected/{m.group(1)}?{query}"
        else:
            location = f"http://{self.server.owner.redirect_host}/s3/{m.group(1)}?{query}"
        self._send_simple(307, b"", "text/plain", [("Location", location)])

    def _s3_error(self, code, s3_code, message):
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{s3_code}</Code>'
                f"<Message>{message}</Message></Error>").encode()
        self._send_simple(code, body, "application/xml")

    # -- redirect target ---------------------------------------------------------------------
    def _serve_target(self, target, headers, rule):
        owner = self.server.owner
        if not target:
            return self._s3_error(404, "NoSuchKey", "The specified key does not exist.")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        try:
            n = int(query.get("n", ["0"])[0])
        except ValueError:
            n = 0
        issuer = owner._issuer(n)
        if owner._expired(n):
            owner._note_fault("expired", self.path)
            return self._s3_error(403, "AccessDenied", "Request has expired")
        if issuer is not None and issuer.get("reject_authorization") and \
                "authorization" in self.entry["headers"]:
            owner._note_fault("rejected_authorization", self.path)
            return self._s3_error(400, "InvalidArgument",
                                  "Only one auth mechanism allowed; only the X-Amz-Algorithm "
                                  "query parameter, Signature query string parameter or the "
                                  "Authorization header should be specified")
        try:
            path = owner.blob_path(target.group(2))
            f = open(path, "rb")
        except (OSError, ValueError, TypeError):
            return self._s3_error(404, "NoSuchKey", "The specified key does not exist.")
        with f:
            size = os.fstat(f.fileno()).st_size
            range_header = None
            for name, value in headers:
                if name.lower() == "range":
                    range_header = value
            start, end = 0, size - 1
            status = 200
            if range_header is not None:
                parsed = _parse_range(range_header, size)
                if parsed == "unsatisfiable":
                    return self._send_simple(416, b"", "application/octet-stream",
                                             [("Content-Range", f"bytes */{size}")])
                if parsed is not None:
                    start, end = parsed
                    status = 206
            length = max(0, end - start + 1)
            out = [("Content-Type", "application/octet-stream"), ("Accept-Ranges", "bytes"),
                   ("ETag", '"%s"' % target.group(2).split(":")[1][:32]),
                   ("Content-Length", str(length))]
            if status == 206:
                out.append(("Content-Range", f"bytes {start}-{end}/{size}"))
            f.seek(start)

            def chunks(remaining=length):
                while remaining > 0:
                    data = f.read(min(CHUNK, remaining))
                    if not data:
                        return
                    remaining -= len(data)
                    yield data

            self._respond(status, None, out, chunks() if self.command != "HEAD" else iter(()),
                          rule)

    # -- forwarding ----------------------------------------------------------------------------
    def _forward(self, method, path, headers, body, rule):
        owner = self.server.owner
        conn = http.client.HTTPConnection(owner.upstream_host, timeout=owner.upstream_timeout)
        try:
            try:
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                if not any(k.lower() == "host" for k, _ in headers):
                    conn.putheader("Host", owner.upstream_host)
                for name, value in headers:
                    conn.putheader(name, value)
                if body is not None or method in ("POST", "PUT", "PATCH"):
                    conn.putheader("Content-Length", str(len(body or b"")))
                conn.endheaders(body)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                return self._send_simple(502, f"upstream {owner.upstream_host}: {e}\n".encode(),
                                         "text/plain")
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            has_length = any(k.lower() == "content-length" for k, _ in out)
            no_body = method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200

            def chunks():
                while True:
                    data = resp.read(CHUNK)
                    if not data:
                        return
                    yield data

            if no_body:
                body_iter = iter(())
            elif has_length:
                body_iter = chunks()
            else:
                whole = resp.read()
                out.append(("Content-Length", str(len(whole))))
                body_iter = iter([whole])
            self._respond(resp.status, resp.reason, out, body_iter, rule)
        finally:
            conn.close()

    # -- the answer, with the body faults ------------------------------------------------------
    def _respond(self, status, reason, headers, body_iter, rule):
        action = rule.action if rule else None
        base = 0
        for i, (name, value) in enumerate(headers):
            if name.lower() != "content-range":
                continue
            m = CONTENT_RANGE_RE.match(value)
            if m and status == 206:
                base = int(m.group(1))
                if action == "bad_content_range":
                    shift = int(rule.get("shift", 1))
                    headers[i] = (name, "bytes %d-%d/%s" % (int(m.group(1)) + shift,
                                                           int(m.group(2)) + shift, m.group(3)))
        if action == "absolute_link":
            host = self.server.owner.host
            headers = [(name, re.sub(r"<(/[^>]*)>", lambda m: f"<http://{host}{m.group(1)}>", value)
                        if name.lower() == "link" else value) for name, value in headers]
        self.entry["status"] = status
        self.record()
        self.send_response_only(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

        limit = rule.after_bytes if action in ("reset", "truncate", "stall") else None
        sent = 0
        for chunk in body_iter:
            if action == "corrupt" and sent <= rule.offset - base < sent + len(chunk):
                i = rule.offset - base - sent
                chunk = chunk[:i] + bytes([chunk[i] ^ 0xFF]) + chunk[i + 1:]
            if limit is not None and sent + len(chunk) >= limit:
                self.wfile.write(chunk[:limit - sent])
                sent = limit
                break
            self.wfile.write(chunk)
            sent += len(chunk)
        else:
            if limit is None or sent < limit:
                return  # the whole body went out
        if action == "reset":
            self._reset_connection()
        elif action == "truncate":
            self.close_connection = True
        elif action == "stall":
            self.server.owner._stopping.wait(rule.seconds)
            self.close_connection = True

    def _reset_connection(self):
        """Abort the client connection with a TCP RST once the peer has the bytes sent."""
        self.close_connection = True
        sock = self.connection
        self.wfile.flush()
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                unacked = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ,
                                                         struct.pack("i", 0)))[0]
            except OSError:
                break
            if unacked == 0:
                break
            time.sleep(0.005)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The descriptor closes when the last user (the socket object and rfile) lets go.
        sock.close()
        self.rfile.close()


def _parse_range(value, size):
    """(start, end) for one satisfiable byte range, "unsatisfiable", or None (ignore the
    header: malformed or several ranges)."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", value)
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None
    if m.group(1) == "":
        suffix = int(m.group(2))
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else size - 1
    if m.group(2) and end < start:
        return None
    if start >= size:
        return "unsatisfiable"
    return start, min(end, size - 1)
