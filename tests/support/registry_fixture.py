"""A real local OCI registry for end-to-end tests: CNCF distribution 2.8 (`docker-registry`, from
Debian's docker-registry package) with images pushed by `skopeo`. tools/setup.sh installs both.

    from support.registry_fixture import Registry

    with Registry(auth="token") as reg:
        reg.push(os.path.join(corpus, "oci-demo") + ":demo", "demo:latest")
        body, content_type = reg.manifest("demo", "latest")
        ... run the client against reg.host ...

Registry(auth="none", token_expires_in=300, token_field="token", jwt_header="x5c",
         token_hard_expiry=False, start_timeout=20)
    auth               "none": anonymous access for everything
                       "basic": HTTP Basic (htpasswd file made with `htpasswd -Bbn`)
                       "token": Docker Bearer tokens from a support.token_server.TokenServer
                       run in threads of the test process; HTTP Basic with username/password
                       is required to get a token
    token_expires_in   "expires_in" of token answers (None: the field is omitted)
    token_field        "token", "access_token" or "both": the field(s) carrying the token
    jwt_header         "x5c" (certificate chain in the JWT header) or "kid" (libtrust key id)
    token_hard_expiry  make the registry refuse tokens once token_expires_in seconds have passed
                       (distribution otherwise accepts them for 60 s more)
    tls                serve HTTPS with a self-signed certificate for 127.0.0.1 (tls_cert_path);
                       the registry then also speaks HTTP/2 to clients that offer it

    Context manager; start() / stop() (stop is idempotent and also kills the registry process
    if the test process exits without calling it). Each instance has its own temporary
    directory (removed by stop(); set LAYERSIFT_KEEP_REGISTRY=1 to keep it) holding the config,
    the filesystem storage, the log and, for auth, the htpasswd file or token certificate.

Properties
    host          "127.0.0.1:PORT" (plain HTTP)
    url           "http://127.0.0.1:PORT" ("https://..." with tls=True)
    auth          the auth mode
    username      fixed test user name for basic/token (None for auth="none")
    password      fixed test password for basic/token (None for auth="none")
    storage_dir   root directory of the filesystem storage
    log_path      the registry's log (stdout and stderr)
    config_path   the registry's config YAML
    pid           the registry process id
    token_server  the TokenServer (auth="token"), else None
    token_requests  token_server.token_requests (auth="token"), else []

Methods
    blob_path(digest)   path of the blob's data file in the storage:
                        STORAGE/docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data
    push(oci_dir_ref, dest_repo_tag, zstd=False, all_platforms=False) -> None
        `skopeo copy [--all] oci:DIR[:TAG] docker://HOST/REPO:TAG` (with the credentials).
        oci_dir_ref is "DIR" or "DIR:TAG" (TAG = an org.opencontainers.image.ref.name of the
        layout's index.json). Without zstd compressed blobs keep their digests, but skopeo
        gzip-compresses uncompressed layers, which changes the manifest (and its digest): the
        oci-demo manifest pushed is not the corpus one (use upload_layout for exact bytes).
        zstd=True recompresses every layer to zstd (see the quirks below) and checks that the
        pushed manifest(s) really list only tar+zstd layers. Raises RuntimeError with skopeo's
        stderr on failure. Without all_platforms an index is resolved to the instance for
        this machine's platform (linux/amd64 here), pushed as a single manifest.
    upload_layout(oci_dir_ref, dest_repo_tag) -> digest of the tagged manifest/index
        Uploads the image byte for byte with the registry API instead (no skopeo): every
        manifest, index and blob reachable from the layout's descriptor keeps its digest
        (uncompressed layers stay uncompressed; indexes, nested ones too, keep all entries).
    manifest(repo, ref, accept=MANIFEST_ACCEPT) -> (bytes, content_type)
    blob(repo, digest, headers=None) -> (status, headers, bytes)
    request(method, path, headers=None, body=None, scope=None) -> (status, headers, bytes)
        urllib request to http://HOST + path with the credentials this auth mode needs
        (Basic, or a Bearer token fetched for `scope`, default derived from the path; none
        added when `headers` has an Authorization); HTTP error statuses are returned, not
        raised. Redirects are not followed. In token mode each call asks the token server for
        a token: clear token_server's log (clear_token_requests()) before counting a client's.
    token(scopes) -> str   a token from the token server for these scope strings (auth="token")
    set_user_password(user, password)   (auth="basic") gives `user` this password (bcrypt,
        `htpasswd -nBi -C 4`), replacing its previous one; the test user and any other users
        set this way keep theirs. The htpasswd file is rewritten atomically (temporary file in
        the same directory, then os.replace) with a strictly increasing mtime: distribution
        2.8 re-reads it when its mtime changes, so the change holds from the next request on,
        without a restart. Thread-safe.
    auth_headers(scope=None) -> dict   the Authorization header for a request (may be empty)
    log_tail(n=4000) -> str

Quirks found with skopeo 1.9.3 / distribution 2.8.2:
  * `--dest-compress-format zstd` alone makes skopeo recompress gzip and compress uncompressed
    layers to zstd (`--dest-compress` only matters for the dir: transport; it is passed anyway).
    But skopeo reuses a blob instead of recompressing it when the destination repository
    already has the source digest, or when its blob-info cache (/var/lib/containers/cache for
    root) knows another repository of the same registry has it (it then mounts that blob).
    push() therefore gives skopeo a fresh private blob-info cache per call (through
    XDG_DATA_HOME and _CONTAINERS_ROOTLESS_UID), and a zstd push must go to a repository that
    doesn't already hold the gzip blobs (push() raises if the result isn't all zstd).
  * In an index pushed with all_platforms=True and zstd=True the instance digests change, but
    an attestation manifest's "vnd.docker.reference.digest" annotation keeps the old digest.
  * distribution accepts a token until 60 s after its "exp" claim (leeway): see hard_expiry.
  * The catalog (GET /v2/_catalog) needs the token scope "registry:catalog:*".
  * distribution builds Location URLs (uploads) from the request's Host header.
"""
import atexit
import base64
import json
import os
import re
import shutil
import signal
import ssl
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from . import token_server as _token_server
from .http_server import Service

TEST_USERNAME = "layersift-test"
TEST_PASSWORD = "Pa55-w0rd-for-tests"
REGISTRY_BINARY = "docker-registry"
SETUP_HINT = "run tools/setup.sh to install the registry test tools (docker-registry, skopeo, " \
             "apache2-utils)"

MANIFEST_ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")

_live = set()  # started and not stopped yet: stopped at exit


def require_tools(*names):
    """Raises RuntimeError naming tools/setup.sh if one of the commands is missing."""
    names = names or (REGISTRY_BINARY, "skopeo", "htpasswd", "openssl", "curl")
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)}: {SETUP_HINT}")


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


try:  # resolved here: importing in the forked child could deadlock on the import lock
    import ctypes
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (ImportError, OSError, AttributeError):
    _PRCTL = None


def _die_with_parent():
    """preexec_fn: the registry gets SIGTERM if the test process dies (Linux prctl)."""
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# The fixture talks to its own registries only: a TLS one has a self-signed certificate.
_OPENER = urllib.request.build_opener(
    _NoRedirect, urllib.request.ProxyHandler({}),
    urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))


def http_request(url, method="GET", headers=None, body=None, timeout=30):
    """(status, headers (http.client.HTTPMessage), body bytes); error statuses are returned,
    redirects not followed, environment proxies ignored."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, e.read()


def _scope_for(path, method):
    m = re.match(r"^/v2/(.+?)/(manifests|blobs|tags)/", path)
    if m:
        actions = "pull" if method in ("GET", "HEAD") else "pull,push"
        return f"repository:{m.group(1)}:{actions}"
    if path.startswith("/v2/_catalog"):
        return "registry:catalog:*"
    return None


class Registry(Service):
    def __init__(self, auth="none", token_expires_in=300, token_field="token",
                 jwt_header="x5c", token_hard_expiry=False, start_timeout=20, tls=False):
        if auth not in ("none", "basic", "token"):
            raise ValueError(f"auth must be none, basic or token: {auth!r}")
        self.auth = auth
        self.tls = tls
        self.start_timeout = start_timeout
        self._token_args = dict(expires_in=token_expires_in, token_field=token_field,
                                jwt_header=jwt_header, hard_expiry=token_hard_expiry)
        self._proc = None
        self._dir = None
        self._port = None
        self._log_file = None
        self.token_server = None
        self._token_cache = {}
        self._token_lock = threading.Lock()
        self._htpasswd_lock = threading.Lock()
        self._htpasswd_mtime_ns = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self):
        if self._proc is not None:
            return self
        require_tools(REGISTRY_BINARY, "skopeo", "htpasswd", "openssl")
        self._dir = tempfile.mkdtemp(prefix="layersift-registry-")
        _live.add(self)
        try:
            os.makedirs(self.storage_dir)
            auth_yaml = self._prepare_auth()
            if self.tls:
                self._make_certificate()
            last_error = None
            for _ in range(3):  # the port picked may be taken before the registry binds it
                self._port = free_port()
                self._write_config(auth_yaml)
                try:
                    self._launch()
                    return self
                except _PortTaken as e:
                    last_error = e
            raise RuntimeError(f"docker-registry could not bind a port: {last_error}")
        except BaseException:
            self.stop()
            raise

    def stop(self):
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self.token_server is not None:
            self.token_server.stop()
        if self._dir is not None and not os.environ.get("LAYERSIFT_KEEP_REGISTRY"):
            shutil.rmtree(self._dir, ignore_errors=True)
        _live.discard(self)

    def _prepare_auth(self):
        if self.auth == "basic":
            proc = subprocess.run(["htpasswd", "-Bbn", TEST_USERNAME, TEST_PASSWORD],
                                  capture_output=True, text=True, timeout=60)
            if proc.returncode != 0:
                raise RuntimeError(f"htpasswd failed: {proc.stderr}")
            path = os.path.join(self._dir, "htpasswd")
            with open(path, "w") as f:
                f.write(proc.stdout.strip() + "\n")
            return ("auth:\n  htpasswd:\n    realm: layersift-test-realm\n"
                    f"    path: {path}\n")
        if self.auth == "token":
            self.token_server = _token_server.TokenServer(TEST_USERNAME, TEST_PASSWORD,
                                                          **self._token_args)
            self.token_server.start()
            ts = self.token_server
            return ("auth:\n  token:\n"
                    f"    realm: {ts.realm}\n    service: {ts.service}\n"
                    f"    issuer: {ts.issuer}\n    rootcertbundle: {ts.cert_path}\n")
        return ""

    def _make_certificate(self):
        """A self-signed certificate for 127.0.0.1 (the registry then serves HTTPS, and HTTP/2
        to clients that offer it)."""
        proc = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", self.tls_key_path, "-out", self.tls_cert_path],
            capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"openssl req failed: {proc.stderr}")

    @property
    def tls_cert_path(self):
        return os.path.join(self._dir, "registry.crt")

    @property
    def tls_key_path(self):
        return os.path.join(self._dir, "registry.key")

    def _write_config(self, auth_yaml):
        tls_yaml = (f"  tls:\n    certificate: {self.tls_cert_path}\n    key: {self.tls_key_path}\n"
                    if self.tls else "")
        config = f"""version: 0.1
log:
  level: warn
  formatter: text
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {self.storage_dir}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{self._port}
  secret: {base64.b16encode(os.urandom(16)).decode().lower()}
  headers:
    X-Content-Type-Options: [nosniff]
{tls_yaml}{auth_yaml}"""
        with open(self.config_path, "w") as f:
            f.write(config)

    def _launch(self):
        if self._log_file is not None:
            self._log_file.close()
        self._log_file = open(self.log_path, "ab")
        self._proc = subprocess.Popen([REGISTRY_BINARY, "serve", self.config_path],
                                      stdin=subprocess.DEVNULL, stdout=self._log_file,
                                      stderr=subprocess.STDOUT, cwd=self._dir,
                                      # PDEATHSIG follows the forking *thread*: only
                                      # safe from the main thread
                                      preexec_fn=_die_with_parent if threading.current_thread()
                                      is threading.main_thread() else None)
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                self._proc = None
                tail = self.log_tail()
                if "address already in use" in tail:
                    raise _PortTaken(tail[-300:])
                raise RuntimeError(f"docker-registry exited with {code} at start; log "
                                   f"{self.log_path}:\n{tail}")
            try:
                status, _, _ = http_request(self.url + "/v2/", timeout=2)
                if status in (200, 401):
                    return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not answer GET {self.url}/v2/ within "
                                   f"{self.start_timeout}s; log {self.log_path}:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.05)

    # -- properties --------------------------------------------------------------------------
    @property
    def host(self):
        return f"127.0.0.1:{self._port}"

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def username(self):
        return None if self.auth == "none" else TEST_USERNAME

    @property
    def password(self):
        return None if self.auth == "none" else TEST_PASSWORD

    @property
    def storage_dir(self):
        return os.path.join(self._dir, "storage")

    @property
    def log_path(self):
        return os.path.join(self._dir, "registry.log")

    @property
    def config_path(self):
        return os.path.join(self._dir, "config.yml")

    @property
    def pid(self):
        return self._proc.pid if self._proc is not None else None

    @property
    def token_requests(self):
        return self.token_server.token_requests if self.token_server is not None else []

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - n))
                return f.read().decode(errors="replace")
        except OSError as e:
            return f"(no log: {e})"

    def blob_path(self, digest):
        algo, _, hexpart = digest.partition(":")
        if algo != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", hexpart):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return os.path.join(self.storage_dir, "docker", "registry", "v2", "blobs", "sha256",
                            hexpart[:2], hexpart, "data")

    # -- pushing -----------------------------------------------------------------------------
    def push(self, oci_dir_ref, dest_repo_tag, zstd=False, all_platforms=False):
        src = oci_dir_ref
        _split_layout_ref(oci_dir_ref)
        if ":" not in dest_repo_tag.rsplit("/", 1)[-1]:
            dest_repo_tag += ":latest"
        work = tempfile.mkdtemp(prefix="skopeo-", dir=self._dir)
        try:
            policy = os.path.join(work, "policy.json")
            with open(policy, "w") as f:
                json.dump({"default": [{"type": "insecureAcceptAnything"}]}, f)
            cmd = ["skopeo", "--policy", policy, "copy", "--retry-times", "0"]
            if all_platforms:
                cmd.append("--all")
            cmd += [f"oci:{src}", f"docker://{self.host}/{dest_repo_tag}",
                    "--dest-tls-verify=false"]
            if self.auth != "none":
                cmd += ["--dest-creds", f"{self.username}:{self.password}"]
            if zstd:
                cmd += ["--dest-compress-format", "zstd", "--dest-compress"]
            env = dict(os.environ)
            # A private blob-info cache: otherwise skopeo reuses (mounts) blobs it remembers from
            # earlier pushes instead of recompressing them.
            env["XDG_DATA_HOME"] = os.path.join(work, "data")
            env["_CONTAINERS_ROOTLESS_UID"] = "4242"
            env["HOME"] = work
            env["REGISTRY_AUTH_FILE"] = os.path.join(work, "auth.json")
            for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                         "ALL_PROXY"):
                env.pop(name, None)
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
            if proc.returncode != 0:
                raise RuntimeError(f"skopeo copy failed ({proc.returncode}): {' '.join(cmd)}\n"
                                   f"{proc.stderr}\nregistry log:\n{self.log_tail(2000)}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if zstd:
            repo, _, tag = dest_repo_tag.rpartition(":")
            self._check_zstd(repo, tag)

    def _check_zstd(self, repo, ref):
        body, content_type = self.manifest(repo, ref)
        doc = json.loads(body)
        if content_type in INDEX_TYPES:
            for child in doc.get("manifests", []):
                self._check_zstd(repo, child["digest"])
            return
        for layer in doc.get("layers", []):
            media_type = layer.get("mediaType", "")
            if "image.layer" in media_type or "image.rootfs" in media_type:
                if media_type != ZSTD_LAYER:
                    raise RuntimeError(
                        f"zstd push of {repo}@{ref} left layer {layer['digest']} as {media_type}:"
                        " skopeo reuses blobs the repository already holds instead of "
                        "recompressing them; push zstd images to a fresh repository")

    # -- HTTP helpers --------------------------------------------------------------------------
    def token(self, scopes):
        if self.token_server is None:
            raise RuntimeError("token() needs Registry(auth='token')")
        if isinstance(scopes, str):
            scopes = [scopes]
        query = urllib.parse.urlencode([("service", self.token_server.service)] +
                                       [("scope", s) for s in scopes])
        basic = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        status, _, body = http_request(f"{self.token_server.realm}?{query}",
                                       headers={"Authorization": "Basic " + basic})
        if status != 200:
            raise RuntimeError(f"token server answered {status}: {body[:500]!r}")
        answer = json.loads(body)
        return answer.get("token") or answer["access_token"]

    def set_user_password(self, user, password):
        if self.auth != "basic":
            raise RuntimeError("set_user_password() needs Registry(auth='basic')")
        if not user or ":" in user or "\n" in user or user == TEST_USERNAME:
            raise ValueError(f"cannot set the password of user {user!r}")
        proc = subprocess.run(["htpasswd", "-nBi", "-C", "4", user], input=password,
                              capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"htpasswd failed: {proc.stderr}")
        line = proc.stdout.strip()
        path = os.path.join(self._dir, "htpasswd")
        with self._htpasswd_lock:
            with open(path) as f:
                kept = [entry for entry in f.read().splitlines()
                        if entry.strip() and entry.split(":", 1)[0] != user]
            fd, tmp = tempfile.mkstemp(prefix=".htpasswd-", dir=self._dir)
            try:
                with os.fdopen(fd, "w") as f:
                    f.write("\n".join(kept + [line]) + "\n")
                # distribution reloads the file when its mtime differs from the one it read:
                # make sure two quick rewrites never share one (file times are coarse)
                mtime = max(time.time_ns(), self._htpasswd_mtime_ns + 1_000_000)
                self._htpasswd_mtime_ns = mtime
                os.utime(tmp, ns=(mtime, mtime))
                os.replace(tmp, path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise

    def auth_headers(self, scope=None):
        if self.auth == "basic":
            basic = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return {"Authorization": "Basic " + basic}
        if self.auth == "token" and scope:
            return {"Authorization": "Bearer " + self.token([scope])}
        return {}

    def request(self, method, path, headers=None, body=None, scope=None):
        headers = dict(headers or {})
        if any(k.lower() == "authorization" for k in headers):
            all_headers = headers
        else:
            all_headers = self.auth_headers(scope or _scope_for(path, method))
            all_headers.update(headers)
        return http_request(self.url + path, method=method, headers=all_headers, body=body)

    def upload_layout(self, oci_dir_ref, dest_repo_tag):
        """Uploads an OCI layout's image byte for byte through the registry API (no skopeo):
        every blob and manifest reachable from the descriptor keeps its digest. Returns the
        digest of the tagged manifest or index."""
        directory, tag = _split_layout_ref(oci_dir_ref)
        repo, _, dest_tag = dest_repo_tag.rpartition(":") if ":" in \
            dest_repo_tag.rsplit("/", 1)[-1] else (dest_repo_tag, ":", "latest")
        with open(os.path.join(directory, "index.json"), "rb") as f:
            layout_index = json.load(f)
        candidates = layout_index.get("manifests", [])
        if tag is not None:
            candidates = [d for d in candidates if d.get("annotations", {}).get(
                "org.opencontainers.image.ref.name") == tag]
        if len(candidates) != 1:
            raise ValueError(f"{oci_dir_ref}: {len(candidates)} descriptors match")
        auth = self.auth_headers(f"repository:{repo}:pull,push")
        top = candidates[0]
        self._upload_manifest_tree(directory, repo, top, auth)
        body = _read_blob(directory, top["digest"])
        self._put_manifest(repo, dest_tag, body, top["mediaType"], auth)
        return top["digest"]

    def _upload_manifest_tree(self, directory, repo, desc, auth):
        body = _read_blob(directory, desc["digest"])
        doc = json.loads(body)
        if desc["mediaType"] in INDEX_TYPES:
            for child in doc.get("manifests", []):
                self._upload_manifest_tree(directory, repo, child, auth)
        else:
            for blob in [doc["config"]] + doc.get("layers", []):
                self._upload_blob(directory, repo, blob["digest"], auth)
        self._put_manifest(repo, desc["digest"], body, desc["mediaType"], auth)

    def _upload_blob(self, directory, repo, digest, auth):
        status, _, _ = http_request(f"{self.url}/v2/{repo}/blobs/{digest}", method="HEAD",
                                    headers=auth)
        if status == 200:
            return
        data = _read_blob(directory, digest)
        status, headers, body = http_request(f"{self.url}/v2/{repo}/blobs/uploads/",
                                             method="POST", headers=auth, body=b"")
        if status != 202:
            raise RuntimeError(f"starting the upload of {digest} answered {status}: {body!r}")
        location = urllib.parse.urljoin(self.url + "/", headers["Location"])
        location += ("&" if "?" in location else "?") + "digest=" + digest
        status, _, body = http_request(location, method="PUT", body=data, headers=dict(
            auth, **{"Content-Type": "application/octet-stream"}))
        if status != 201:
            raise RuntimeError(f"uploading {digest} answered {status}: {body!r}")

    def _put_manifest(self, repo, ref, body, media_type, auth):
        status, _, answer = http_request(f"{self.url}/v2/{repo}/manifests/{ref}", method="PUT",
                                         body=body,
                                         headers=dict(auth, **{"Content-Type": media_type}))
        if status != 201:
            raise RuntimeError(f"PUT manifest {repo}:{ref} answered {status}: {answer!r}")

    def manifest(self, repo, ref, accept=MANIFEST_ACCEPT):
        status, headers, body = self.request("GET", f"/v2/{repo}/manifests/{ref}",
                                             headers={"Accept": accept})
        if status != 200:
            raise RuntimeError(f"GET manifest {repo}:{ref} answered {status}: {body[:500]!r}")
        return body, headers.get("Content-Type")

    def blob(self, repo, digest, headers=None):
        return self.request("GET", f"/v2/{repo}/blobs/{digest}", headers=headers)


def _split_layout_ref(oci_dir_ref):
    """'DIR:TAG' -> (DIR, TAG); 'DIR' -> (DIR, None). Checks DIR is an OCI layout."""
    directory, tag = oci_dir_ref, None
    if ":" in os.path.basename(oci_dir_ref):
        directory, tag = oci_dir_ref.rsplit(":", 1)
    if not os.path.isfile(os.path.join(directory, "index.json")):
        raise ValueError(f"{directory} is not an OCI image layout (no index.json)")
    return directory, tag


def _read_blob(directory, digest):
    algo, _, hexpart = digest.partition(":")
    with open(os.path.join(directory, "blobs", algo, hexpart), "rb") as f:
        return f.read()


class _PortTaken(Exception):
    pass


@atexit.register
def _stop_leftovers():
    for registry in list(_live):
        try:
            registry.stop()
        except Exception:
            pass
