"""A local fake of the AWS endpoints a registry client meets (STS, ECR, ECR Public, the EC2
instance metadata service IMDSv2, the ECS/EKS container credential endpoints), run in threads of
the test process on one HTTP server on 127.0.0.1, routed by the shape of each request. Every
signed request is checked with AWS Signature Version 4, computed here independently of the code
under test, and failures answer with the status, error code and message AWS uses for that
protocol. The ECR answers are read, at request time, from a real registry
(support.registry_fixture.Registry), and ECR authorization tokens are real registry passwords.

    with Registry(auth="basic") as reg, FakeAws(registry=reg) as aws:
        reg.upload_layout(os.path.join(corpus, "oci-demo") + ":demo", "demo:latest")
        akid, secret = aws.default_keys
        ... run the client with AWS_ENDPOINT_URL=aws.url, AWS_ACCESS_KEY_ID=akid, ...

FakeAws(registry=None, account="123456789012", region="us-east-1")
    registry   a started registry_fixture.Registry (auth="basic" for GetAuthorizationToken
               passwords to be accepted by it), or None: no repositories, and tokens that
               no registry accepts
    account    the account id of every identity, ARN and registryId
    region     the region of the ECR endpoint (the credential scope of ECR requests must name
               it; ARNs use it) and of the instance identity document
    Context manager; start() / stop() (stop closes every connection and cancels the token
    expiry timer).

Properties
    url, host          "http://127.0.0.1:PORT", "127.0.0.1:PORT": every role below is served here
    default_keys       (access key id, secret) of the IAM user "scanner" made at construction
    requests           snapshot list of dicts, one per request, in arrival order:
                       time (time.time()), method, path (with query), service ("sts", "ecr",
                       "ecr-public", "imds", "container" or "unknown"), action (e.g.
                       "AssumeRole", "DescribeImages", "PutToken", "GetCredentials",
                       "GetMetadata"), region (from the credential scope; None if unsigned),
                       access_key_id (signing key; for IMDS/container: the key handed out),
                       principal (caller ARN once authenticated), signed (an Authorization
                       header was present), status (HTTP), error (AWS error code or None),
                       token_used (IMDS: a valid X-aws-ec2-metadata-token came with it),
                       detail (on SignatureDoesNotMatch: the canonical request expected)
    tokens_issued      number of ECR/ECR Public authorization tokens handed out
    ecr_password       the registry password of the newest ECR token while it is valid, else None
    issued_credentials snapshot list of temporary credentials handed out: dicts with
                       access_key_id, secret, token, expiration (epoch s), role, session,
                       arn, source ("AssumeRole", "AssumeRoleWithWebIdentity", "imds",
                       "container", "issue")
Attributes tests may change while running
    credential_lifetime_s   lifetime of temporary credentials (default 3600); AssumeRole's
                            DurationSeconds is honoured up to it
    ecr_token_lifetime_s    lifetime of ECR tokens (default 43200): once the newest token's
                            lifetime has passed, the registry's "AWS" password is replaced by an
                            unknown one, so the token is really refused
    page_size               cap on ECR page sizes (default 100 = AWS's default when maxResults
                            is absent); maxResults above it is lowered to it
    web_identity_token      the token AssumeRoleWithWebIdentity must present (default a random
                            JWT-shaped string; None refuses every token)
    imds_role               role name (add_role'd) served by IMDS, None: no role attached
    imds_v1_allowed         False (default): every IMDS GET needs a session token (IMDSv2 only)
    container_role          role name (add_role'd) served by the container endpoint
    container_authorization_token  None, or the exact Authorization header value the container
                            endpoint requires (EKS Pod Identity / ECS full-URI token)
    repository_host         host[:port] put in repositoryUri (default: the registry's host)
    proxy_endpoint          URL GetAuthorizationToken names as proxyEndpoint (default the
                            registry's url; a test puts a FaultProxy's url here)
    pushed_at               dict digest -> epoch seconds for imagePushedAt (default: a stable
                            fake time derived from the digest)
    archived                set of digests whose imageStatus is ARCHIVED
Methods
    add_user(name, access_key_id=None, secret=None) -> (akid, secret)   IAM user
                       arn:aws:iam::ACCOUNT:user/NAME; keys AKIA + 16 [A-Z2-7], 40-char secret
    add_access_key(name) -> (akid, secret)   another key of an existing user
    deactivate(akid) / activate(akid)   an inactive key fails like an unknown one
    add_role(name, external_id=None, trusted=None, max_session_s=3600) -> role ARN
                       arn:aws:iam::ACCOUNT:role/NAME; trusted: principal ARNs allowed to call
                       AssumeRole on it (an assumed-role caller matches by session ARN or by
                       its role ARN); None: anyone in the account
    issue_credentials(role, session="fake-session", lifetime=None) -> dict with AccessKeyId,
                       SecretAccessKey, SessionToken, Expiration (ISO), Arn: temporary
                       credentials without any HTTP (source "issue")
    add_untagged(repo, digest)   the manifest `digest` (already PUT by digest into repo) is an
                       untagged image of repo (the registry API cannot list untagged manifests)
    throttle(action, times)      the next `times` calls of action ("DescribeImages" for any
                       service, or "ecr:DescribeImages", "sts:AssumeRole") are throttled
    deny(action, reason="identity", principal=None, repository=None)   calls of action
                       ("ecr:DescribeImages", "sts:AssumeRole", ...) by principal (an ARN; an
                       assumed-role caller also matches its role ARN; None: everyone) on
                       repository (None: any) get AccessDenied; reason "identity", "scp" or
                       "resource" selects AWS's message
    clear_denials(), clear_throttles(), clear_requests()
    count(action) -> number of requests recorded for action ("DescribeImages" or
                       "ecr:DescribeImages" form)

Routing (one port, by request shape)
    PUT /latest/api/token, GET /latest/...                     IMDSv2
    GET /container-credentials/<anything>, /v2/credentials/<id>, /v1/credentials
                                                               container credentials
    X-Amz-Target AmazonEC2ContainerRegistry_V20150921.<Op>, or a Content-Type
        application/x-amz-json-1.1                             ECR (JSON 1.1)
    X-Amz-Target SpencerFrontendService.<Op>                   ECR Public (JSON 1.1)
    anything else (POST form body or GET query, Action=...)    STS (query protocol)

SigV4 (every STS/ECR request, except an unsigned AssumeRoleWithWebIdentity): the Authorization
header "AWS4-HMAC-SHA256 Credential=AKID/YYYYMMDD/REGION/SERVICE/aws4_request,
SignedHeaders=..., Signature=..." is recomputed from the request as received: method, raw path
(dot segments and repeated slashes removed, then URI-encoded again), query (decoded, strictly
re-encoded, sorted), the signed headers' values (trimmed, inner spaces collapsed, repeated
headers joined by ","), SHA-256 of the body. Checked, in this order: header well formed
(IncompleteSignature), host and the date header (X-Amz-Date, else Date) signed, scope ends in
aws4_request, scope service = "sts"/"ecr"/"ecr-public", scope region valid (ECR: the fake's
region; ECR Public: us-east-1), scope date = date of X-Amz-Date, X-Amz-Date within 15 minutes
of now (SignatureDoesNotMatch / InvalidSignatureException: AWS's "Signature expired: ..."
messages), key known and active, X-Amz-Security-Token present exactly for temporary keys and
equal to theirs (InvalidClientTokenId / UnrecognizedClientException), temporary key not expired
(ExpiredToken / ExpiredTokenException), then the signature (SignatureDoesNotMatch /
InvalidSignatureException). No Authorization: MissingAuthenticationToken (STS, 403) /
MissingAuthenticationTokenException (ECR, 400).
Error shapes: STS 4xx text/xml
    <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>
    <Code>..</Code><Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>
(403: MissingAuthenticationToken, SignatureDoesNotMatch, InvalidClientTokenId, ExpiredToken,
AccessDenied; 400 otherwise: IncompleteSignature, ValidationError, InvalidIdentityToken,
Throttling, InvalidAction); ECR HTTP 400 (500 ServerException)
application/x-amz-json-1.1 {"__type": "Code", "message": ".."}. Every answer has
x-amzn-RequestId. JSON timestamps are written as AWS does, epoch seconds in Java's double
notation (1.700000000123E9).

STS: GetCallerIdentity, AssumeRole (RoleArn, RoleSessionName required; ExternalId must equal
the role's when it has one; DurationSeconds 900..43200 and <= the role's max (<= 3600 when
chaining), honoured up to credential_lifetime_s; unknown role, untrusted caller or bad external
id: 403 AccessDenied "User: CALLER is not authorized to perform: sts:AssumeRole on resource:
ROLE"), AssumeRoleWithWebIdentity (unsigned; WebIdentityToken must equal web_identity_token,
else 400 InvalidIdentityToken). Missing/invalid parameters: 400 ValidationError. Throttled:
400 Throttling "Rate exceeded". Expiration is a whole second ("2026-11-30T12:00:00Z"), and the
credentials stop working exactly then.

ECR: GetAuthorizationToken, DescribeRepositories, ListImages, DescribeImages, BatchGetImage,
GetDownloadUrlForLayer, BatchCheckLayerAvailability. Requests must have the X-Amz-Target, the
Content-Type application/x-amz-json-1.1 (else SerializationException) and a JSON object body
with members of the right JSON types (SerializationException); missing required members and
bad enum values give ValidationException ("1 validation error detected: ..."), out-of-range
values, bad names/digests, a bad nextToken, or repositoryNames/imageIds with maxResults give
InvalidParameterException ("Invalid parameter at 'X' failed to satisfy constraint: '...'").
Unknown repository: RepositoryNotFoundException "The repository with name 'X' does not exist in
the registry with id 'ACCOUNT'". Throttled: ThrottlingException "Rate exceeded". Denied:
AccessDeniedException "User: ARN is not authorized to perform: ecr:OP on resource:
arn:aws:ecr:REGION:ACCOUNT:repository/NAME because no identity-based policy allows the
ecr:OP action" (resource "*" for GetAuthorizationToken, repository/* for DescribeRepositories
without names; reason "scp": "... with an explicit deny in a service control policy";
"resource": "... because no resource-based policy allows the ecr:OP action").
    Images of a repository = its tags (tags/list, each resolved with HEAD by the registry
    fixture's MANIFEST_ACCEPT), the add_untagged digests still in the registry, and, as real
    ECR lists them, the platform manifests of every index there as untagged images.
    imageSizeInBytes = config + layer sizes (an index: the largest of its manifests', as ECR
    documents); imagePushedAt from pushed_at, else stable; artifactMediaType = config
    mediaType. As the ECR API reference says, ListImages/DescribeImages return only ACTIVE
    images unless filter.imageStatus is ARCHIVED or ANY (archived ones are marked
    imageStatus "ARCHIVED"); DescribeImages by imageIds returns archived ones too. BatchGetImage
    answers an archived image, an unknown one, or one whose manifest media type is not in
    acceptedMediaTypes with a failure ImageNotFound "Requested image not found" (the registry
    itself still serves archived images). GetDownloadUrlForLayer's downloadUrl is the
    registry's blob URL (REGISTRY_URL/v2/REPO/blobs/DIGEST: it needs the registry's
    credentials, unlike the pre-signed S3 URL of real ECR); unknown layer:
    LayersNotFoundException. Pages: min(maxResults or 100, page_size) entries and an opaque
    nextToken bound to the operation, repository and filter.
    GetAuthorizationToken: authorizationData [{authorizationToken: base64("AWS:" + password),
    expiresAt, proxyEndpoint: registry URL}]; each call makes a fresh password and sets it as
    the registry's "AWS" user password (Registry.set_user_password), which retires the previous
    one. ECR Public (scope service "ecr-public", region us-east-1) GetAuthorizationToken answers
    {"authorizationData": {"authorizationToken", "expiresAt"}} and sets the same registry user,
    so the newest token of either kind is the valid one.

IMDSv2: PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds 1..21600 (else 400;
X-Forwarded-For present: 403) -> token (text/plain; the TTL is echoed in the answer header);
GET needs X-aws-ec2-metadata-token naming a live token (else 401). GET
/latest/meta-data/iam/security-credentials/ -> the role name;
/latest/meta-data/iam/security-credentials/ROLE -> JSON {Code "Success", LastUpdated, Type
"AWS-HMAC", AccessKeyId, SecretAccessKey, Token, Expiration} (the same credentials until they
are within min(300 s, a quarter of their lifetime) of expiring); /latest/meta-data/placement/
region and availability-zone; /latest/meta-data/instance-id;
/latest/dynamic/instance-identity/document -> JSON with accountId, region, instanceId...
Unknown paths: 404.
Container credentials: GET /container-credentials/..., /v2/credentials/... (ECS relative URI
style) or /v1/credentials (EKS Pod Identity style) -> JSON {AccessKeyId, SecretAccessKey,
Token, Expiration, RoleArn, AccountId}; with container_authorization_token set the
Authorization header must equal it exactly, else 401 {"code": "AccessDenied", "message": ..}.
No container_role: 404.
"""
import base64
import calendar
import datetime
import decimal
import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape as _xml_escape

from .http_server import RequestLog, Service, TrackingHandler, TrackingServer
from .registry_fixture import INDEX_TYPES, MANIFEST_ACCEPT

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
STS_VERSION = "2011-06-15"
ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921."
ECR_PUBLIC_TARGET = "SpencerFrontendService."
JSON_11 = "application/x-amz-json-1.1"
MAX_SKEW_S = 15 * 60
SIG_MISMATCH_MESSAGE = ("The request signature we calculated does not match the signature you "
                        "provided. Check your AWS Secret Access Key and signing method. Consult "
                        "the service documentation for details.")
INVALID_TOKEN_MESSAGE = "The security token included in the request is invalid."
EXPIRED_TOKEN_MESSAGE = "The security token included in the request is expired"
REPOSITORY_NAME_RE = re.compile(
    r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
REPOSITORY_NAME_PATTERN = "(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*"
DIGEST_RE = re.compile(r"[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+")
SHA256_DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}")
ROLE_SESSION_RE = re.compile(r"[\w+=,.@-]{2,64}")
REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
BASE_TIME = 1700000000  # the stable fake epoch of createdAt and default imagePushedAt
_AKID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


def _random_id(prefix, alphabet=_AKID_ALPHABET, n=16):
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


def _iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _java_double(value):
    """A number as Java's Double.toString writes it (what AWS JSON 1.1 services send for
    timestamps): 1.700000000123E9, 0.5, 12345.0."""
    value = float(value)
    if value != 0 and (abs(value) >= 1e7 or abs(value) < 1e-3):
        sign, digits, exponent = decimal.Decimal(repr(value)).as_tuple()
        digits = list(digits)
        while len(digits) > 1 and digits[-1] == 0:
            digits.pop()
            exponent += 1
        power = exponent + len(digits) - 1
        mantissa = str(digits[0]) + "." + ("".join(map(str, digits[1:])) or "0")
        return ("-" if sign else "") + f"{mantissa}E{power}"
    text = repr(value)
    return text if "." in text or "e" in text else text + ".0"


class _Timestamp:
    """A JSON timestamp member (written in Java double notation by _json_dumps)."""

    def __init__(self, epoch):
        self.epoch = epoch


def _json_dumps(obj):
    def default(o):
        if isinstance(o, _Timestamp):
            return "\u0000TS:" + _java_double(o.epoch)
        raise TypeError(type(o))
    text = json.dumps(obj, default=default, separators=(",", ":"))
    return re.sub(r'"\\u0000TS:([^"]+)"', r"\1", text)


# -- SigV4 ------------------------------------------------------------------------------------

class _AuthError(Exception):
    """kind: missing, incomplete, signature, invalid_token, expired."""

    def __init__(self, kind, message, detail=None):
        super().__init__(message)
        self.kind, self.message, self.detail = kind, message, detail


def _remove_dot_segments(path):
    """RFC 3986 dot-segment removal; AWS also drops empty segments (repeated slashes)."""
    if not path:
        return "/"
    out = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    result = "/" + "/".join(out)
    if path.endswith("/") and out:
        result += "/"
    return result


def canonical_uri(raw_path):
    """The canonical URI of a non-S3 request: the path as sent (already encoded once),
    normalized, encoded a second time."""
    return urllib.parse.quote(_remove_dot_segments(raw_path), safe="/~")


def canonical_query(raw_query):
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((urllib.parse.quote(urllib.parse.unquote(key), safe="-_.~"),
                      urllib.parse.quote(urllib.parse.unquote(value), safe="-_.~")))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret, date, region, service):
    k = _hmac(("AWS4" + secret).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def _parse_authorization(value):
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        raise _AuthError("incomplete", f"Unsupported AWS 'algorithm': '{algorithm}'")
    fields = {}
    for item in rest.split(","):
        item = item.strip()
        if not item:
            continue
        name, eq, val = item.partition("=")
        if not eq:
            raise _AuthError("incomplete",
                             f"'{item}' not a valid key=value pair (missing equal-sign) in "
                             f"Authorization header: '{value}'.")
        fields[name.strip()] = val.strip()
    missing = [f"Authorization header requires '{n}' parameter."
               for n in ("Credential", "Signature", "SignedHeaders") if not fields.get(n)]
    if missing:
        raise _AuthError("incomplete", " ".join(missing) + f" Authorization={value}")
    return fields


def _header_values(headers, name):
    values = headers.get_all(name) or []
    return ",".join(" ".join(v.split()) for v in values)


def _request_date(headers, signed):
    """The ISO 8601 basic date the request was signed with (X-Amz-Date, else Date)."""
    amz = headers.get("X-Amz-Date")
    if amz is not None:
        if "x-amz-date" not in signed:
            raise _AuthError("incomplete",
                             "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
        amz = amz.strip()
        try:
            when = datetime.datetime.strptime(amz, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise _AuthError("incomplete",
                             f"Date must be in ISO-8601 'basic format'. Got '{amz}'. See "
                             "http://en.wikipedia.org/wiki/ISO_8601") from None
        return amz, calendar.timegm(when.timetuple())
    date = headers.get("Date")
    if date is None:
        raise _AuthError("incomplete", "Authorization header requires existence of either a "
                         "'X-Amz-Date' or a 'Date' header.")
    if "date" not in signed:
        raise _AuthError("incomplete", "'Date' must be a 'SignedHeader' in the AWS Authorization.")
    from email.utils import parsedate_to_datetime
    try:
        when = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        raise _AuthError("incomplete", f"Date header is not valid: '{date}'") from None
    epoch = calendar.timegm(when.utctimetuple())
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch)), epoch


def _stamp(epoch):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


# -- the fake ---------------------------------------------------------------------------------

class _Key:
    def __init__(self, akid, secret, arn, user_id, token=None, expires=None, role=None,
                 session=None):
        self.akid, self.secret, self.arn, self.user_id = akid, secret, arn, user_id
        self.token, self.expires, self.role, self.session = token, expires, role, session
        self.active = True

    @property
    def temporary(self):
        return self.token is not None


class _ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class FakeAws(Service):
    def __init__(self, registry=None, account="123456789012", region="us-east-1"):
        if not re.fullmatch(r"\d{12}", account):
            raise ValueError(f"account must be 12 digits: {account!r}")
        self.registry = registry
        self.account, self.region = account, region
        self.credential_lifetime_s = 3600
        self.ecr_token_lifetime_s = 43200
        self.page_size = 100
        self.web_identity_token = ("eyJhbGciOiJSUzI1NiJ9." + base64.urlsafe_b64encode(
            json.dumps({"sub": "system:serviceaccount:default:layersift",
                        "aud": "sts.amazonaws.com"}).encode()).decode().rstrip("=") + "." +
                                   secrets.token_urlsafe(32))
        self.imds_role = None
        self.imds_v1_allowed = False
        self.container_role = None
        self.container_authorization_token = None
        self.repository_host = None
        self.proxy_endpoint = None
        self.pushed_at = {}
        self.archived = set()
        self.instance_id = "i-" + secrets.token_hex(8) + "0"
        self._lock = threading.RLock()
        self._requests = RequestLog()
        self._users = {}   # name -> {"arn", "user_id"}
        self._keys = {}    # akid -> _Key
        self._roles = {}   # name -> dict
        self._issued = []
        self._throttles = {}
        self._denials = []
        self._untagged = {}  # repo -> set of digests
        self._manifest_cache = {}  # (repo, digest) -> (body, content type)
        self._imds_tokens = {}  # token -> expiry (monotonic)
        self._imds_creds = None
        self._container_creds = None
        self._page_secret = secrets.token_bytes(16)
        self._ecr_password = None
        self._ecr_password_expires = None
        self._expiry_timer = None
        self.tokens_issued = 0
        self._server = self._thread = None
        self.default_keys = self.add_user("scanner")

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self):
        if self._server is not None:
            return self
        self._server = TrackingServer(_AwsHandler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, name="fake-aws",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        with self._lock:
            timer, self._expiry_timer = self._expiry_timer, None
        if timer is not None:
            timer.cancel()
            if timer is not threading.current_thread():
                timer.join(10)
        if self._server is not None:
            self._server.shut_down(self._thread)
            self._server = self._thread = None

    # -- properties ----------------------------------------------------------------------------
    @property
    def host(self):
        return "127.0.0.1:%d" % self._server.server_address[1]

    @property
    def url(self):
        return "http://" + self.host

    @property
    def requests(self):
        return self._requests.snapshot()

    def clear_requests(self):
        self._requests.clear()

    def count(self, action):
        service, _, name = action.rpartition(":")
        return sum(1 for r in self._requests.snapshot() if r["action"] == name and
                   (not service or r["service"] == service))

    @property
    def issued_credentials(self):
        with self._lock:
            return [dict(c) for c in self._issued]

    @property
    def ecr_password(self):
        with self._lock:
            if self._ecr_password_expires is None or time.time() >= self._ecr_password_expires:
                return None
            return self._ecr_password

    def _record(self, entry):
        self._requests.add(entry)

    # -- identities ----------------------------------------------------------------------------
    def add_user(self, name, access_key_id=None, secret=None):
        with self._lock:
            if name not in self._users:
                self._users[name] = {"arn": f"arn:aws:iam::{self.account}:user/{name}",
                                     "user_id": _random_id("AIDA")}
            user = self._users[name]
            akid = access_key_id or _random_id("AKIA")
            secret = secret or "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
            self._keys[akid] = _Key(akid, secret, user["arn"], user["user_id"])
            return akid, secret

    def add_access_key(self, name):
        if name not in self._users:
            raise KeyError(f"no user {name!r}")
        return self.add_user(name)

    def deactivate(self, akid):
        with self._lock:
            self._keys[akid].active = False

    def activate(self, akid):
        with self._lock:
            self._keys[akid].active = True

    def add_role(self, name, external_id=None, trusted=None, max_session_s=3600):
        arn = f"arn:aws:iam::{self.account}:role/{name}"
        with self._lock:
            self._roles[name] = {"name": name, "arn": arn, "external_id": external_id,
                                 "trusted": list(trusted) if trusted is not None else None,
                                 "role_id": _random_id("AROA"), "max_session_s": max_session_s}
        return arn

    def _role_by_arn(self, arn):
        m = re.fullmatch(r"arn:aws:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)", arn or "")
        if not m or m.group(1) != self.account:
            return None
        role = self._roles.get(m.group(2))
        return role if role is not None and role["arn"] == arn else None

    def _issue(self, role, session, lifetime, source):
        now = time.time()
        expires = int(now + lifetime)
        akid = _random_id("ASIA")
        secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
        token = "IQoJb3JpZ2luX2VjE" + base64.b64encode(secrets.token_bytes(180)).decode()
        arn = f"arn:aws:sts::{self.account}:assumed-role/{role['name']}/{session}"
        key = _Key(akid, secret, arn, f"{role['role_id']}:{session}", token=token,
                   expires=expires, role=role, session=session)
        with self._lock:
            self._keys[akid] = key
            self._issued.append({"access_key_id": akid, "secret": secret, "token": token,
                                 "expiration": expires, "role": role["name"], "session": session,
                                 "arn": arn, "source": source, "issued_at": now})
        return key

    def issue_credentials(self, role, session="fake-session", lifetime=None):
        with self._lock:
            r = self._roles[role]
        key = self._issue(r, session, lifetime or self.credential_lifetime_s, "issue")
        return {"AccessKeyId": key.akid, "SecretAccessKey": key.secret,
                "SessionToken": key.token, "Expiration": _iso(key.expires), "Arn": key.arn}

    # -- test controls -------------------------------------------------------------------------
    def add_untagged(self, repo, digest):
        with self._lock:
            self._untagged.setdefault(repo, set()).add(digest)

    def throttle(self, action, times):
        with self._lock:
            self._throttles[action] = self._throttles.get(action, 0) + times

    def clear_throttles(self):
        with self._lock:
            self._throttles.clear()

    def deny(self, action, reason="identity", principal=None, repository=None):
        if reason not in ("identity", "scp", "resource"):
            raise ValueError(f"reason must be identity, scp or resource: {reason!r}")
        if ":" not in action:
            raise ValueError(f"action must be SERVICE:Action, e.g. ecr:DescribeImages: {action!r}")
        with self._lock:
            self._denials.append({"action": action, "reason": reason, "principal": principal,
                                  "repository": repository})

    def clear_denials(self):
        with self._lock:
            self._denials.clear()

    def _take_throttle(self, service, action):
        with self._lock:
            for key in (f"{service}:{action}", action):
                if self._throttles.get(key, 0) > 0:
                    self._throttles[key] -= 1
                    return True
        return False

    def _denied(self, service, action, caller, repository, resource):
        """AccessDenied message if a deny rule matches, else None."""
        full = f"{service}:{action}"
        with self._lock:
            rules = list(self._denials)
        for rule in rules:
            if rule["action"] != full:
                continue
            if rule["principal"] is not None and rule["principal"] not in _principal_names(caller):
                continue
            if rule["repository"] is not None and rule["repository"] != repository:
                continue
            base = (f"User: {caller.arn if caller else 'anonymous'} is not authorized to "
                    f"perform: {full} on resource: {resource}")
            if rule["reason"] == "identity":
                return base + f" because no identity-based policy allows the {full} action"
            if rule["reason"] == "scp":
                return base + " with an explicit deny in a service control policy"
            return base + f" because no resource-based policy allows the {full} action"
        return None

    # -- SigV4 ---------------------------------------------------------------------------------
    def _authenticate(self, handler, body, service, region_check):
        """The _Key that signed the request; raises _AuthError. region_check(region) -> error
        message or None."""
        headers = handler.headers
        auth = headers.get("Authorization")
        if auth is None:
            raise _AuthError("missing", None)
        fields = _parse_authorization(auth)
        scope = fields["Credential"].split("/")
        if len(scope) != 5:
            raise _AuthError("incomplete", "Credential must have exactly 5 slash-delimited "
                             f"elements, e.g. keyid/date/region/service/term, got "
                             f"'{fields['Credential']}'")
        akid, scope_date, scope_region, scope_service, terminator = scope
        handler.entry["access_key_id"], handler.entry["region"] = akid, scope_region
        signed = fields["SignedHeaders"].split(";")
        if "host" not in signed:
            raise _AuthError("incomplete", "'Host' or ':authority' must be a 'SignedHeader' in "
                             "the AWS Authorization.")
        date_stamp, date_epoch = _request_date(headers, signed)
        if terminator != "aws4_request":
            raise _AuthError("signature", "Credential should be scoped with a valid terminator: "
                             f"'aws4_request', not '{terminator}'.")
        if scope_service != service:
            raise _AuthError("signature",
                             f"Credential should be scoped to correct service: '{service}'. ")
        problem = region_check(scope_region)
        if problem:
            raise _AuthError("signature", problem)
        if scope_date != date_stamp[:8]:
            raise _AuthError("signature", "Date in Credential scope does not match YYYYMMDD from "
                             f"ISO-8601 version of date from HTTP: '{scope_date}' != "
                             f"'{date_stamp[:8]}', from '{date_stamp}'.")
        now = time.time()
        if date_epoch < now - MAX_SKEW_S:
            raise _AuthError("signature", f"Signature expired: {date_stamp} is now earlier than "
                             f"{_stamp(now - MAX_SKEW_S)} ({_stamp(now)} - 15 min.)")
        if date_epoch > now + MAX_SKEW_S:
            raise _AuthError("signature", f"Signature not yet current: {date_stamp} is still "
                             f"later than {_stamp(now + MAX_SKEW_S)} ({_stamp(now)} + 15 min.)")
        with self._lock:
            key = self._keys.get(akid)
        if key is None or not key.active:
            raise _AuthError("invalid_token", INVALID_TOKEN_MESSAGE)
        token = headers.get("X-Amz-Security-Token")
        if key.temporary != (token is not None) or (token is not None and
                                                     not hmac.compare_digest(token, key.token)):
            raise _AuthError("invalid_token", INVALID_TOKEN_MESSAGE)
        if key.temporary and now >= key.expires:
            raise _AuthError("expired", EXPIRED_TOKEN_MESSAGE)
        raw_path, _, raw_query = handler.path.partition("?")
        canonical_headers = "".join(f"{name}:{_header_values(headers, name)}\n"
                                    for name in sorted(signed))
        canonical_request = "\n".join([
            handler.command, canonical_uri(raw_path), canonical_query(raw_query),
            canonical_headers, ";".join(sorted(signed)), hashlib.sha256(body).hexdigest()])
        string_to_sign = "\n".join([
            "AWS4-HMAC-SHA256", date_stamp,
            f"{scope_date}/{scope_region}/{scope_service}/aws4_request",
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()])
        expected = hmac.new(signing_key(key.secret, scope_date, scope_region, scope_service),
                            string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields["Signature"].lower()):
            raise _AuthError("signature", SIG_MISMATCH_MESSAGE, detail=canonical_request)
        handler.entry["principal"] = key.arn
        return key

    # -- STS -----------------------------------------------------------------------------------
    def _sts(self, h, body):
        h.entry["service"] = "sts"
        raw_path, _, raw_query = h.path.partition("?")
        params = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        ctype = (h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if h.command == "POST" and ctype == "application/x-www-form-urlencoded":
            for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace"),
                                              keep_blank_values=True).items():
                params.setdefault(k, []).extend(v)
        p = {k: v[0] for k, v in params.items()}
        action = p.get("Action")
        h.entry["action"] = action
        try:
            caller = None
            if not (action == "AssumeRoleWithWebIdentity" and "Authorization" not in h.headers):
                try:
                    caller = self._authenticate(h, body, "sts", _sts_region_check)
                except _AuthError as e:
                    raise _auth_error("sts", e, h) from None
            if h.command not in ("GET", "POST"):
                raise _ApiError(400, "InvalidAction", f"Unsupported method {h.command}")
            if action is None:
                raise _ApiError(400, "MissingAction", "Missing Action")
            if action not in ("GetCallerIdentity", "AssumeRole", "AssumeRoleWithWebIdentity"):
                raise _ApiError(400, "InvalidAction", f"Could not find operation {action} for "
                                f"version {p.get('Version') or 'NO_VERSION_SPECIFIED'}")
            if p.get("Version") != STS_VERSION:
                raise _ApiError(400, "InvalidAction", f"Could not find operation {action} for "
                                f"version {p.get('Version') or 'NO_VERSION_SPECIFIED'}")
            if self._take_throttle("sts", action):
                raise _ApiError(400, "Throttling", "Rate exceeded")
            result = getattr(self, "_sts_" + action)(p, caller)
        except _ApiError as e:
            h.send_sts_error(e)
            return
        h.send_xml(200, f'<{action}Response xmlns="{STS_NS}">\n  <{action}Result>\n{result}'
                        f'  </{action}Result>\n  <ResponseMetadata>\n'
                        f'    <RequestId>{h.request_id}</RequestId>\n'
                        f'  </ResponseMetadata>\n</{action}Response>\n')

    def _sts_deny_check(self, action, caller, resource):
        message = self._denied("sts", action, caller, None, resource)
        if message:
            raise _ApiError(403, "AccessDenied", message)

    def _sts_GetCallerIdentity(self, p, caller):
        self._sts_deny_check("GetCallerIdentity", caller, caller.arn)
        return (f"    <Arn>{_xml_escape(caller.arn)}</Arn>\n"
                f"    <UserId>{_xml_escape(caller.user_id)}</UserId>\n"
                f"    <Account>{self.account}</Account>\n")

    def _sts_duration(self, p, role, chained):
        duration = p.get("DurationSeconds")
        if duration is None or duration == "":
            seconds = 3600
        else:
            try:
                seconds = int(duration)
            except ValueError:
                raise _ApiError(400, "ValidationError", f"1 validation error detected: Value "
                                f"'{duration}' at 'durationSeconds' failed to satisfy "
                                "constraint: Member must be an integer") from None
            if seconds < 900:
                raise _ApiError(400, "ValidationError", f"1 validation error detected: Value "
                                f"'{seconds}' at 'durationSeconds' failed to satisfy constraint: "
                                "Member must have value greater than or equal to 900")
            if seconds > 43200:
                raise _ApiError(400, "ValidationError", f"1 validation error detected: Value "
                                f"'{seconds}' at 'durationSeconds' failed to satisfy constraint: "
                                "Member must have value less than or equal to 43200")
            if chained and seconds > 3600:
                raise _ApiError(400, "ValidationError", "The requested DurationSeconds exceeds "
                                "the 1 hour session limit for roles assumed by role chaining.")
            if seconds > role["max_session_s"]:
                raise _ApiError(400, "ValidationError", "The requested DurationSeconds exceeds "
                                "the MaxSessionDuration set for this role.")
        return min(seconds, self.credential_lifetime_s)

    @staticmethod
    def _sts_require(p, *names):
        missing = [n for n in names if not p.get(n)]
        if missing:
            errors = [f"Value null at '{n[0].lower() + n[1:]}' failed to satisfy constraint: "
                      "Member must not be null" for n in missing]
            raise _ApiError(400, "ValidationError", f"{len(errors)} validation error"
                            f"{'s' if len(errors) > 1 else ''} detected: " + "; ".join(errors))
        session = p.get("RoleSessionName")
        if session is not None and not ROLE_SESSION_RE.fullmatch(session):
            raise _ApiError(400, "ValidationError", "1 validation error detected: Value "
                            f"'{session}' at 'roleSessionName' failed to satisfy constraint: "
                            "Member must satisfy regular expression pattern: [\\w+=,.@-]*")

    @staticmethod
    def _credentials_xml(key, role):
        return (f"    <Credentials>\n"
                f"      <AccessKeyId>{key.akid}</AccessKeyId>\n"
                f"      <SecretAccessKey>{_xml_escape(key.secret)}</SecretAccessKey>\n"
                f"      <SessionToken>{_xml_escape(key.token)}</SessionToken>\n"
                f"      <Expiration>{_iso(key.expires)}</Expiration>\n"
                f"    </Credentials>\n"
                f"    <AssumedRoleUser>\n"
                f"      <AssumedRoleId>{_xml_escape(key.user_id)}</AssumedRoleId>\n"
                f"      <Arn>{_xml_escape(key.arn)}</Arn>\n"
                f"    </AssumedRoleUser>\n")

    def _sts_AssumeRole(self, p, caller):
        self._sts_require(p, "RoleArn", "RoleSessionName")
        role_arn = p["RoleArn"]
        self._sts_deny_check("AssumeRole", caller, role_arn)
        denied = _ApiError(403, "AccessDenied", f"User: {caller.arn} is not authorized to "
                           f"perform: sts:AssumeRole on resource: {role_arn}")
        with self._lock:
            role = self._role_by_arn(role_arn)
        if role is None:
            raise denied
        if role["trusted"] is not None and not (set(role["trusted"]) & _principal_names(caller)):
            raise denied
        if role["external_id"] is not None and p.get("ExternalId") != role["external_id"]:
            raise denied
        lifetime = self._sts_duration(p, role, chained=caller.temporary)
        key = self._issue(role, p["RoleSessionName"], lifetime, "AssumeRole")
        return self._credentials_xml(key, role) + "    <PackedPolicySize>0</PackedPolicySize>\n"

    def _sts_AssumeRoleWithWebIdentity(self, p, caller):
        self._sts_require(p, "RoleArn", "RoleSessionName", "WebIdentityToken")
        role_arn = p["RoleArn"]
        self._sts_deny_check("AssumeRoleWithWebIdentity", caller, role_arn)
        expected = self.web_identity_token
        if expected is None or not hmac.compare_digest(p["WebIdentityToken"].encode(),
                                                       expected.encode()):
            raise _ApiError(400, "InvalidIdentityToken", "The web identity token that was "
                            "passed could not be validated by AWS. Get a new identity token "
                            "from the identity provider and then retry the request.")
        with self._lock:
            role = self._role_by_arn(role_arn)
        if role is None:
            raise _ApiError(403, "AccessDenied",
                            "Not authorized to perform sts:AssumeRoleWithWebIdentity")
        lifetime = self._sts_duration(p, role, chained=False)
        key = self._issue(role, p["RoleSessionName"], lifetime, "AssumeRoleWithWebIdentity")
        return (self._credentials_xml(key, role) +
                "    <SubjectFromWebIdentityToken>system:serviceaccount:default:layersift"
                "</SubjectFromWebIdentityToken>\n"
                "    <Audience>sts.amazonaws.com</Audience>\n"
                f"    <Provider>arn:aws:iam::{self.account}:oidc-provider/oidc.eks.{self.region}"
                ".amazonaws.com/id/FAKEAWS0000000000000000000000000</Provider>\n")

    # -- ECR -----------------------------------------------------------------------------------
    def _ecr(self, h, body):
        target = h.headers.get("X-Amz-Target") or ""
        public = target.startswith(ECR_PUBLIC_TARGET)
        service = "ecr-public" if public else "ecr"
        h.entry["service"] = service
        action = target.split(".", 1)[1] if "." in target else None
        h.entry["action"] = action
        try:
            try:
                endpoint_region = "us-east-1" if public else self.region

                def check(region):
                    if region == endpoint_region:
                        return None
                    return f"Credential should be scoped to a valid region, not '{region}'. "
                caller = self._authenticate(h, body, service, check)
            except _AuthError as e:
                raise _auth_error("ecr", e, h) from None
            ops = _ECR_PUBLIC_OPS if public else _ECR_OPS
            if h.command != "POST" or action not in ops:
                raise _ApiError(400, "UnknownOperationException", None)
            ctype = (h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != JSON_11:
                raise _ApiError(400, "SerializationException",
                                f"Unsupported Content-Type: {h.headers.get('Content-Type')}")
            try:
                request = json.loads(body.decode("utf-8")) if body else None
            except (UnicodeDecodeError, ValueError):
                raise _ApiError(400, "SerializationException", None) from None
            if not isinstance(request, dict):
                raise _ApiError(400, "SerializationException",
                                "Start of structure or map found where not expected." if
                                request is None else f"{_json_kind(request)} can not be "
                                "converted to a structure")
            schema, required = ops[action]
            request = _check_types(request, schema, "")
            missing = [n for n in required if request.get(n) is None]
            if missing:
                raise _ApiError(400, "ValidationException", f"{len(missing)} validation error"
                                f"{'s' if len(missing) > 1 else ''} detected: " + "; ".join(
                                    f"Value null at '{n}' failed to satisfy constraint: Member "
                                    "must not be null" for n in missing))
            if self._take_throttle(service, action):
                raise _ApiError(400, "ThrottlingException", "Rate exceeded")
            repo = request.get("repositoryName")
            if repo is not None:
                resource = f"arn:aws:ecr:{self.region}:{self.account}:repository/{repo}"
            elif action == "DescribeRepositories" and request.get("repositoryNames"):
                resource = (f"arn:aws:ecr:{self.region}:{self.account}:repository/"
                            f"{request['repositoryNames'][0]}")
            elif action == "DescribeRepositories":
                resource = f"arn:aws:ecr:{self.region}:{self.account}:repository/*"
            else:
                resource = "*"
            message = self._denied(service, action, caller, repo, resource)
            if message is None and action == "DescribeRepositories":
                for name in request.get("repositoryNames") or []:
                    message = message or self._denied(
                        service, action, caller, name,
                        f"arn:aws:ecr:{self.region}:{self.account}:repository/{name}")
            if message:
                raise _ApiError(400, "AccessDeniedException", message)
            if request.get("registryId") is not None:
                if not re.fullmatch(r"[0-9]{12}", request["registryId"]):
                    raise _invalid("registryId", "must satisfy regular expression '[0-9]{12}'")
            answer = getattr(self, ("_ecrpub_" if public else "_ecr_") + action)(request)
        except _ApiError as e:
            h.send_json_error(e)
            return
        h.send_json(200, answer)

    def _new_ecr_password(self):
        password = secrets.token_urlsafe(48)  # 64 characters: bcrypt uses at most 72 bytes
        with self._lock:
            expires = time.time() + self.ecr_token_lifetime_s
            if self.registry is not None and getattr(self.registry, "auth", None) == "basic":
                self.registry.set_user_password("AWS", password)
            self._ecr_password, self._ecr_password_expires = password, expires
            self.tokens_issued += 1
            if self._expiry_timer is not None:
                self._expiry_timer.cancel()
            timer = threading.Timer(max(0.0, expires - time.time()), self._expire_ecr_password,
                                    args=(password,))
            timer.name = "fake-aws-ecr-token-expiry"
            timer.daemon = True
            self._expiry_timer = timer
            timer.start()
        token = base64.b64encode(f"AWS:{password}".encode()).decode()
        return token, expires

    def _expire_ecr_password(self, password):
        with self._lock:
            if self._ecr_password != password:
                return
            self._ecr_password = None
            if self._expiry_timer is threading.current_thread():
                self._expiry_timer = None
            if self.registry is not None and getattr(self.registry, "auth", None) == "basic":
                try:
                    self.registry.set_user_password("AWS", secrets.token_urlsafe(48))
                except Exception:
                    pass  # the registry is being stopped

    def _proxy_endpoint(self):
        if self.proxy_endpoint is not None:
            return self.proxy_endpoint
        if self.registry is not None:
            return self.registry.url
        return f"https://{self.account}.dkr.ecr.{self.region}.amazonaws.com"

    def _ecr_GetAuthorizationToken(self, request):
        ids = request.get("registryIds") or [self.account]
        for registry_id in ids:
            if not re.fullmatch(r"[0-9]{12}", registry_id):
                raise _invalid("registryIds", "must satisfy regular expression '[0-9]{12}'")
        if not 1 <= len(ids) <= 10:
            raise _invalid("registryIds", "Member must have length less than or equal to 10")
        token, expires = self._new_ecr_password()
        return {"authorizationData": [{"authorizationToken": token,
                                       "expiresAt": _Timestamp(expires),
                                       "proxyEndpoint": self._proxy_endpoint()}
                                      for _ in ids]}

    def _ecrpub_GetAuthorizationToken(self, request):
        token, expires = self._new_ecr_password()
        return {"authorizationData": {"authorizationToken": token,
                                      "expiresAt": _Timestamp(expires)}}

    # registry reads
    def _registry_get(self, path, headers=None, method="GET"):
        if self.registry is None:
            return 404, {}, b""
        status, resp_headers, data = self.registry.request(method, path, headers=headers)
        return status, resp_headers, data

    def _paged_list(self, path, field):
        items, url = [], path
        while url:
            status, headers, data = self._registry_get(url)
            if status == 404:
                return None
            if status != 200:
                raise _ApiError(500, "ServerException",
                                f"registry answered {status} to GET {url}")
            items += json.loads(data).get(field) or []
            link = headers.get("Link") if headers else None
            m = re.match(r'\s*<([^>]+)>\s*;\s*rel="?next"?', link or "")
            url = None
            if m:
                nxt = urllib.parse.urlsplit(m.group(1))
                url = nxt.path + ("?" + nxt.query if nxt.query else "")
        return items

    def _repositories(self):
        if self.registry is None:
            return []
        return sorted(self._paged_list("/v2/_catalog?n=1000", "repositories") or [])

    def _check_repo(self, request, name=None):
        name = name if name is not None else request["repositoryName"]
        _validate_repo_name(name, "repositoryName")
        registry_id = request.get("registryId") or self.account
        if registry_id != self.account or name not in self._repositories():
            raise _ApiError(400, "RepositoryNotFoundException",
                            f"The repository with name '{name}' does not exist in the registry "
                            f"with id '{registry_id}'")
        return name

    def _manifest(self, repo, digest):
        """(body, content type) of a manifest by digest, or None if the registry lacks it."""
        with self._lock:
            cached = self._manifest_cache.get((repo, digest))
        if cached is not None:
            return cached
        status, headers, data = self._registry_get(f"/v2/{repo}/manifests/{digest}",
                                                   {"Accept": MANIFEST_ACCEPT})
        if status == 404:
            return None
        if status != 200:
            raise _ApiError(500, "ServerException",
                            f"registry answered {status} to GET manifest {repo}@{digest}")
        value = (data, headers.get("Content-Type"))
        with self._lock:
            self._manifest_cache[(repo, digest)] = value
        return value

    def _images(self, repo):
        """{digest: {"tags": [...], "body", "media_type"}} of repo, as the registry has it now."""
        tags = self._paged_list(f"/v2/{repo}/tags/list?n=1000", "tags") or []
        images = {}
        for tag in tags:
            status, headers, _ = self._registry_get(f"/v2/{repo}/manifests/{tag}",
                                                    {"Accept": MANIFEST_ACCEPT}, method="HEAD")
            if status == 404:
                continue  # deleted meanwhile
            if status != 200:
                raise _ApiError(500, "ServerException",
                                f"registry answered {status} to HEAD {repo}:{tag}")
            digest = headers.get("Docker-Content-Digest")
            images.setdefault(digest, {"tags": []})["tags"].append(tag)
        with self._lock:
            extra = set(self._untagged.get(repo, ()))
        for digest in list(images) + sorted(extra):
            found = self._manifest(repo, digest)
            if found is None:
                images.pop(digest, None)
                continue
            entry = images.setdefault(digest, {"tags": []})
            entry["body"], entry["media_type"] = found
        for digest in list(images):  # platform manifests of indexes: untagged images in ECR
            if images[digest]["media_type"] in INDEX_TYPES:
                for child in json.loads(images[digest]["body"]).get("manifests", []):
                    if child.get("digest") in images:
                        continue
                    found = self._manifest(repo, child.get("digest"))
                    if found is not None:
                        images[child["digest"]] = {"tags": [], "body": found[0],
                                                   "media_type": found[1]}
        for entry in images.values():
            entry["tags"].sort()
        return images

    def _image_size(self, repo, images, digest, depth=0):
        entry = images.get(digest)
        if entry is None:
            found = self._manifest(repo, digest)
            if found is None:
                return 0
            entry = {"body": found[0], "media_type": found[1]}
        doc = json.loads(entry["body"])
        if entry["media_type"] in INDEX_TYPES:
            if depth > 4:
                return 0
            return max([self._image_size(repo, images, m["digest"], depth + 1)
                        for m in doc.get("manifests", [])] or [0])
        return (doc.get("config", {}).get("size", 0) +
                sum(layer.get("size", 0) for layer in doc.get("layers", [])))

    def _image_detail(self, repo, images, digest):
        entry = images[digest]
        doc = json.loads(entry["body"])
        detail = {"registryId": self.account, "repositoryName": repo, "imageDigest": digest}
        if entry["tags"]:
            detail["imageTags"] = list(entry["tags"])
        detail["imageSizeInBytes"] = self._image_size(repo, images, digest)
        detail["imagePushedAt"] = _Timestamp(self._pushed_at(digest))
        detail["imageManifestMediaType"] = entry["media_type"]
        config_type = doc.get("config", {}).get("mediaType")
        if config_type:
            detail["artifactMediaType"] = config_type
        detail["imageStatus"] = "ARCHIVED" if digest in self.archived else "ACTIVE"
        if digest in self.archived:
            detail["lastArchivedAt"] = _Timestamp(self._pushed_at(digest) + 86400)
        return detail

    def _pushed_at(self, digest):
        if digest in self.pushed_at:
            return float(self.pushed_at[digest])
        hexpart = digest.partition(":")[2] or "0"
        return float(BASE_TIME + int(hexpart[:8] or "0", 16) % 10_000_000)

    def _page(self, request, op, scope, entries):
        """(page of entries, nextToken or None)."""
        limit = self.page_size
        if request.get("maxResults") is not None:
            limit = min(limit, request["maxResults"])
        limit = max(1, limit)
        offset = 0
        token = request.get("nextToken")
        if token is not None:
            offset = self._read_page_token(token, op, scope)
        page = entries[offset:offset + limit]
        nxt = None
        if offset + limit < len(entries):
            nxt = self._make_page_token(op, scope, offset + limit)
        return page, nxt

    def _make_page_token(self, op, scope, offset):
        payload = base64.urlsafe_b64encode(json.dumps(
            {"o": op, "s": scope, "i": offset, "n": secrets.token_hex(4)}).encode()).decode()
        mac = hmac.new(self._page_secret, payload.encode(), hashlib.sha256).hexdigest()[:32]
        return payload + "." + mac

    def _read_page_token(self, token, op, scope):
        payload, _, mac = token.rpartition(".")
        good = hmac.new(self._page_secret, payload.encode(), hashlib.sha256).hexdigest()[:32]
        try:
            if not hmac.compare_digest(mac, good):
                raise ValueError
            data = json.loads(base64.urlsafe_b64decode(payload.encode()))
            if data["o"] != op or data["s"] != scope:
                raise ValueError
            return int(data["i"])
        except (ValueError, KeyError, TypeError):
            raise _invalid("nextToken", "Invalid NextToken") from None

    def _check_max_results(self, request):
        value = request.get("maxResults")
        if value is not None:
            if value < 1:
                raise _invalid("maxResults", "Member must have value greater than or equal to 1")
            if value > 1000:
                raise _invalid("maxResults",
                               "Member must have value less than or equal to 1000")

    def _ecr_DescribeRepositories(self, request):
        names = request.get("repositoryNames")
        self._check_max_results(request)
        registry_id = request.get("registryId") or self.account
        if names is not None:
            if not 1 <= len(names) <= 100:
                raise _invalid("repositoryNames",
                               "Member must have length between 1 and 100")
            if request.get("maxResults") is not None or request.get("nextToken") is not None:
                raise _invalid("maxResults", "Cannot specify both maxResults/nextToken and "
                               "repositoryNames")
            for name in names:
                self._check_repo(request, name)
            chosen = list(dict.fromkeys(names))
            return {"repositories": [self._repository(n) for n in chosen]}
        if registry_id != self.account:
            return {"repositories": []}
        page, nxt = self._page(request, "DescribeRepositories", None, self._repositories())
        answer = {"repositories": [self._repository(n) for n in page]}
        if nxt:
            answer["nextToken"] = nxt
        return answer

    def _repository(self, name):
        host = self.repository_host or (self.registry.host if self.registry is not None else
                                        f"{self.account}.dkr.ecr.{self.region}.amazonaws.com")
        return {"repositoryArn": f"arn:aws:ecr:{self.region}:{self.account}:repository/{name}",
                "registryId": self.account, "repositoryName": name,
                "repositoryUri": f"{host}/{name}", "createdAt": _Timestamp(float(BASE_TIME)),
                "imageTagMutability": "MUTABLE",
                "imageScanningConfiguration": {"scanOnPush": False},
                "encryptionConfiguration": {"encryptionType": "AES256"}}

    @staticmethod
    def _filter(request):
        f = request.get("filter") or {}
        tag_status = f.get("tagStatus") or "ANY"
        if tag_status not in ("TAGGED", "UNTAGGED", "ANY"):
            raise _ApiError(400, "ValidationException", f"1 validation error detected: Value "
                            f"'{tag_status}' at 'filter.tagStatus' failed to satisfy constraint: "
                            "Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]")
        image_status = f.get("imageStatus") or "ACTIVE"
        if image_status not in ("ACTIVE", "ARCHIVED", "ACTIVATING", "ANY"):
            raise _ApiError(400, "ValidationException", f"1 validation error detected: Value "
                            f"'{image_status}' at 'filter.imageStatus' failed to satisfy "
                            "constraint: Member must satisfy enum value set: [ACTIVE, ARCHIVED, "
                            "ACTIVATING, ANY]")
        return tag_status, image_status

    def _selected(self, images, tag_status, image_status):
        out = []
        for digest in sorted(images):
            tagged = bool(images[digest]["tags"])
            if tag_status == "TAGGED" and not tagged or tag_status == "UNTAGGED" and tagged:
                continue
            status = "ARCHIVED" if digest in self.archived else "ACTIVE"
            if image_status != "ANY" and status != image_status:
                continue
            out.append(digest)
        return out

    def _ecr_ListImages(self, request):
        repo = self._check_repo(request)
        self._check_max_results(request)
        tag_status, image_status = self._filter(request)
        images = self._images(repo)
        entries = []
        for digest in self._selected(images, tag_status, image_status):
            if images[digest]["tags"]:
                entries += [{"imageDigest": digest, "imageTag": t} for t in images[digest]["tags"]]
            else:
                entries.append({"imageDigest": digest})
        page, nxt = self._page(request, "ListImages", [repo, tag_status, image_status], entries)
        answer = {"imageIds": page}
        if nxt:
            answer["nextToken"] = nxt
        return answer

    def _resolve(self, repo, images, image_id):
        """digest for an imageId, or raises _ImageLookup(failure code, reason)."""
        digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
        if digest is None and tag is None:
            raise _ImageLookup("MissingDigestAndTag",
                               "Invalid request parameters: both tag and digest cannot be null")
        if digest is not None and not SHA256_DIGEST_RE.fullmatch(digest):
            raise _ImageLookup("InvalidImageDigest", "Invalid image digest")
        if tag is not None and not 1 <= len(tag) <= 300:
            raise _ImageLookup("InvalidImageTag", "Invalid image tag")
        if tag is not None:
            found = [d for d, e in images.items() if tag in e["tags"]]
            if not found:
                raise _ImageLookup("ImageNotFound", "Requested image not found")
            if digest is not None and found[0] != digest:
                raise _ImageLookup("ImageTagDoesNotMatchDigest",
                                   "Invalid input: Image Tag does not match Image Digest")
            return found[0]
        if digest not in images:
            raise _ImageLookup("ImageNotFound", "Requested image not found")
        return digest

    def _ecr_DescribeImages(self, request):
        repo = self._check_repo(request)
        self._check_max_results(request)
        tag_status, image_status = self._filter(request)
        images = self._images(repo)
        ids = request.get("imageIds")
        if ids is not None:
            if not 1 <= len(ids) <= 100:
                raise _invalid("imageIds", "Member must have length between 1 and 100")
            if request.get("maxResults") is not None or request.get("nextToken") is not None:
                raise _invalid("maxResults", "Cannot specify maxResults/nextToken with imageIds")
            chosen = []
            for image_id in ids:
                try:
                    digest = self._resolve(repo, images, image_id)
                except _ImageLookup as e:
                    if e.code in ("ImageNotFound", "ImageTagDoesNotMatchDigest"):
                        raise _ApiError(400, "ImageNotFoundException", "The image with imageId "
                                        f"{{imageDigest:'{_or_null(image_id, 'imageDigest')}', "
                                        f"imageTag:'{_or_null(image_id, 'imageTag')}'}} does not "
                                        "exist "
                                        f"within the repository with name '{repo}' in the "
                                        f"registry with id '{self.account}'") from None
                    raise _invalid("imageIds", e.reason) from None
                if digest not in chosen:
                    chosen.append(digest)
            return {"imageDetails": [self._image_detail(repo, images, d) for d in chosen]}
        selected = self._selected(images, tag_status, image_status)
        page, nxt = self._page(request, "DescribeImages", [repo, tag_status, image_status],
                               selected)
        answer = {"imageDetails": [self._image_detail(repo, images, d) for d in page]}
        if nxt:
            answer["nextToken"] = nxt
        return answer

    def _ecr_BatchGetImage(self, request):
        repo = self._check_repo(request)
        ids = request["imageIds"]
        if not 1 <= len(ids) <= 100:
            raise _invalid("imageIds", "Member must have length between 1 and 100")
        accepted = request.get("acceptedMediaTypes")
        if accepted is not None and not 1 <= len(accepted) <= 100:
            raise _invalid("acceptedMediaTypes", "Member must have length between 1 and 100")
        images = self._images(repo)
        answer = {"images": [], "failures": []}
        for image_id in ids:
            try:
                digest = self._resolve(repo, images, image_id)
                entry = images[digest]
                if digest in self.archived or (accepted is not None and
                                               entry["media_type"] not in accepted):
                    raise _ImageLookup("ImageNotFound", "Requested image not found")
            except _ImageLookup as e:
                answer["failures"].append({"imageId": dict(image_id), "failureCode": e.code,
                                           "failureReason": e.reason})
                continue
            result_id = {"imageDigest": digest}
            if image_id.get("imageTag") is not None:
                result_id["imageTag"] = image_id["imageTag"]
            answer["images"].append({"registryId": self.account, "repositoryName": repo,
                                     "imageId": result_id,
                                     "imageManifest": entry["body"].decode("utf-8"),
                                     "imageManifestMediaType": entry["media_type"]})
        return answer

    def _blob_head(self, repo, digest):
        status, headers, _ = self._registry_get(f"/v2/{repo}/blobs/{digest}", method="HEAD")
        if status == 200:
            return int(headers.get("Content-Length") or 0)
        if status == 404:
            return None
        raise _ApiError(500, "ServerException", f"registry answered {status} to HEAD blob")

    def _ecr_GetDownloadUrlForLayer(self, request):
        repo = self._check_repo(request)
        digest = request["layerDigest"]
        if not DIGEST_RE.fullmatch(digest):
            raise _invalid("layerDigest",
                           "must satisfy regular expression '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'")
        if not SHA256_DIGEST_RE.fullmatch(digest) or self._blob_head(repo, digest) is None:
            raise _ApiError(400, "LayersNotFoundException",
                            f"The layer with digest '{digest}' does not exist in the repository "
                            f"with name '{repo}' in the registry with id '{self.account}'")
        return {"downloadUrl": f"{self.registry.url}/v2/{repo}/blobs/{digest}",
                "layerDigest": digest}

    def _ecr_BatchCheckLayerAvailability(self, request):
        repo = self._check_repo(request)
        digests = request["layerDigests"]
        if not 1 <= len(digests) <= 100:
            raise _invalid("layerDigests", "Member must have length between 1 and 100")
        answer = {"layers": [], "failures": []}
        for digest in digests:
            if not SHA256_DIGEST_RE.fullmatch(digest):
                answer["failures"].append({"layerDigest": digest,
                                           "failureCode": "InvalidLayerDigest",
                                           "failureReason": "Invalid layer digest"})
                continue
            size = self._blob_head(repo, digest)
            if size is None:
                answer["failures"].append({"layerDigest": digest,
                                           "failureCode": "MissingLayerDigest",
                                           "failureReason": "Could not find layer"})
                continue
            answer["layers"].append({"layerDigest": digest, "layerAvailability": "AVAILABLE",
                                     "layerSize": size})
        return answer

    # -- IMDS and container credentials --------------------------------------------------------
    def _cached_role_creds(self, attr, role_name, session, source):
        with self._lock:
            role = self._roles.get(role_name) if role_name else None
            if role is None:
                return None
            key = getattr(self, attr)
            now = time.time()
            if key is not None and key.role is role:
                lifetime = key.expires - self._issue_time(key)
                margin = min(300.0, lifetime / 4.0)
                if now < key.expires - margin:
                    return key
            key = self._issue(role, session, self.credential_lifetime_s, source)
            setattr(self, attr, key)
            return key

    def _issue_time(self, key):
        for c in reversed(self._issued):
            if c["access_key_id"] == key.akid:
                return c["issued_at"]
        return time.time()

    def _imds(self, h):
        h.entry["service"] = "imds"
        path = urllib.parse.urlsplit(h.path).path
        if h.command == "PUT" and path == "/latest/api/token":
            h.entry["action"] = "PutToken"
            if h.headers.get("X-Forwarded-For") is not None:
                h.send_text(403, "Forbidden")
                return
            ttl = h.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            try:
                ttl = int(ttl)
            except (TypeError, ValueError):
                ttl = None
            if ttl is None or not 1 <= ttl <= 21600:
                h.send_text(400, "Bad Request")
                return
            token = base64.urlsafe_b64encode(secrets.token_bytes(42)).decode()
            with self._lock:
                self._imds_tokens[token] = time.monotonic() + ttl
            h.send_text(200, token, [("X-aws-ec2-metadata-token-ttl-seconds", str(ttl))])
            return
        h.entry["action"] = "GetMetadata"
        if h.command not in ("GET", "HEAD"):
            h.send_text(405, "Method Not Allowed")
            return
        token = h.headers.get("X-aws-ec2-metadata-token")
        with self._lock:
            expiry = self._imds_tokens.get(token) if token is not None else None
        valid = expiry is not None and time.monotonic() < expiry
        h.entry["token_used"] = valid
        if not valid and (token is not None or not self.imds_v1_allowed):
            h.send_text(401, "Unauthorized")
            return
        base = "/latest/meta-data/iam/security-credentials"
        if path in (base, base + "/"):
            if self.imds_role is None or self.imds_role not in self._roles:
                h.send_text(404, "Not Found")
                return
            h.send_text(200, self.imds_role)
            return
        if path.startswith(base + "/"):
            name = path[len(base) + 1:].rstrip("/")
            key = (self._cached_role_creds("_imds_creds", self.imds_role, self.instance_id,
                                           "imds") if name == self.imds_role else None)
            if key is None:
                h.send_text(404, "Not Found")
                return
            h.entry["access_key_id"] = key.akid
            h.entry["action"] = "GetCredentials"
            h.send_text(200, json.dumps({
                "Code": "Success", "LastUpdated": _iso(self._issue_time(key)),
                "Type": "AWS-HMAC", "AccessKeyId": key.akid, "SecretAccessKey": key.secret,
                "Token": key.token, "Expiration": _iso(key.expires)}, indent=2))
            return
        simple = {"/latest/meta-data/placement/region": self.region,
                  "/latest/meta-data/placement/availability-zone": self.region + "a",
                  "/latest/meta-data/instance-id": self.instance_id}
        if path in simple:
            h.send_text(200, simple[path])
            return
        if path == "/latest/dynamic/instance-identity/document":
            h.send_text(200, json.dumps({
                "accountId": self.account, "architecture": "x86_64",
                "availabilityZone": self.region + "a", "billingProducts": None,
                "devpayProductCodes": None, "marketplaceProductCodes": None,
                "imageId": "ami-0fa1ca9559f1892ec", "instanceId": self.instance_id,
                "instanceType": "t3.small", "kernelId": None, "pendingTime": _iso(BASE_TIME),
                "privateIp": "10.0.0.10", "ramdiskId": None, "region": self.region,
                "version": "2017-09-30"}, indent=2))
            return
        h.send_text(404, "Not Found")

    def _container(self, h):
        h.entry["service"], h.entry["action"] = "container", "GetCredentials"
        if h.command != "GET":
            h.send_json(405, {"code": "MethodNotAllowed", "message": "use GET"},
                        ctype="application/json")
            return
        required = self.container_authorization_token
        if required is not None:
            given = h.headers.get("Authorization")
            if given is None or not hmac.compare_digest(given.encode(), required.encode()):
                h.send_json(401, {"code": "AccessDenied", "message":
                                  "Authorization header is missing or does not match the "
                                  "authorization token"}, ctype="application/json")
                return
        key = self._cached_role_creds("_container_creds", self.container_role,
                                      secrets.token_hex(16), "container")
        if key is None:
            h.send_json(404, {"code": "NotFound", "message": "no role for this container"},
                        ctype="application/json")
            return
        h.entry["access_key_id"] = key.akid
        h.send_json(200, {"AccessKeyId": key.akid, "SecretAccessKey": key.secret,
                          "Token": key.token, "Expiration": _iso(key.expires),
                          "RoleArn": key.role["arn"], "AccountId": self.account},
                    ctype="application/json")


# -- helpers ----------------------------------------------------------------------------------

class _ImageLookup(Exception):
    def __init__(self, code, reason):
        super().__init__(reason)
        self.code, self.reason = code, reason


def _or_null(obj, key):
    value = obj.get(key)
    return "null" if value is None else value


def _invalid(member, constraint):
    return _ApiError(400, "InvalidParameterException",
                     f"Invalid parameter at '{member}' failed to satisfy constraint: "
                     f"'{constraint}'")


def _validate_repo_name(name, member):
    if not 2 <= len(name) <= 256 or not REPOSITORY_NAME_RE.fullmatch(name):
        raise _invalid(member, f"must satisfy regular expression '{REPOSITORY_NAME_PATTERN}'")


def _principal_names(caller):
    """The ARNs a caller answers to in trust lists and deny rules."""
    if caller is None:
        return set()
    names = {caller.arn}
    if caller.role is not None:
        names.add(caller.role["arn"])
    return names


def _sts_region_check(region):
    if REGION_RE.fullmatch(region):
        return None
    return f"Credential should be scoped to a valid region, not '{region}'. "


# What each protocol answers for each kind of authentication failure: (HTTP status, code). The
# query protocol (STS) answers 403 where ECR's JSON protocol answers 400.
_AUTH_ERRORS = {
    "sts": {"missing": (403, "MissingAuthenticationToken"), "incomplete": (400, "IncompleteSignature"),
            "invalid_token": (403, "InvalidClientTokenId"), "expired": (403, "ExpiredToken"),
            "signature": (403, "SignatureDoesNotMatch")},
    "ecr": {"missing": (400, "MissingAuthenticationTokenException"),
            "incomplete": (400, "IncompleteSignatureException"),
            "invalid_token": (400, "UnrecognizedClientException"),
            "expired": (400, "ExpiredTokenException"), "signature": (400, "InvalidSignatureException")},
}
_MISSING_TOKEN_MESSAGE = {"sts": "Request is missing Authentication Token",
                          "ecr": "Missing Authentication Token"}


def _auth_error(protocol, e, h):
    h.entry["detail"] = e.detail
    status, code = _AUTH_ERRORS[protocol].get(e.kind, _AUTH_ERRORS[protocol]["signature"])
    message = _MISSING_TOKEN_MESSAGE[protocol] if e.kind == "missing" else e.message
    return _ApiError(status, code, message)


def _json_kind(value):
    if isinstance(value, bool):
        return "TRUE_VALUE" if value else "FALSE_VALUE"
    if isinstance(value, str):
        return "STRING_VALUE"
    if isinstance(value, (int, float)):
        return "NUMBER_VALUE"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, dict):
        return "START_OBJECT"
    return "VALUE_NULL"


_TYPE_NAMES = {"string": "String", "integer": "Integer", "list": "List", "struct": "Structure"}


def _check_types(value, schema, path):
    """Coral-style JSON type checks; unknown members are ignored and nulls dropped, as AWS does.
    schema: "string", "integer", ("list", item schema) or ("struct", {member: schema})."""
    if isinstance(schema, dict):
        schema = ("struct", schema)
    kind = schema if isinstance(schema, str) else schema[0]
    ok = {"string": lambda v: isinstance(v, str),
          "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
          "list": lambda v: isinstance(v, list),
          "struct": lambda v: isinstance(v, dict)}[kind]
    if not ok(value):
        raise _ApiError(400, "SerializationException",
                        f"{_json_kind(value)} can not be converted to {_TYPE_NAMES[kind]}")
    if kind == "list":
        return [_check_types(v, schema[1], path) for v in value if v is not None]
    if kind == "struct":
        return {k: _check_types(v, schema[1][k], f"{path}.{k}" if path else k)
                for k, v in value.items() if k in schema[1] and v is not None}
    return value


_IMAGE_ID = ("struct", {"imageDigest": "string", "imageTag": "string"})
_FILTER = ("struct", {"tagStatus": "string", "imageStatus": "string"})
_ECR_OPS = {
    "GetAuthorizationToken": ({"registryIds": ("list", "string")}, []),
    "DescribeRepositories": ({"registryId": "string", "repositoryNames": ("list", "string"),
                              "nextToken": "string", "maxResults": "integer"}, []),
    "ListImages": ({"registryId": "string", "repositoryName": "string", "nextToken": "string",
                    "maxResults": "integer", "filter": _FILTER}, ["repositoryName"]),
    "DescribeImages": ({"registryId": "string", "repositoryName": "string",
                        "imageIds": ("list", _IMAGE_ID), "nextToken": "string",
                        "maxResults": "integer", "filter": _FILTER}, ["repositoryName"]),
    "BatchGetImage": ({"registryId": "string", "repositoryName": "string",
                       "imageIds": ("list", _IMAGE_ID), "acceptedMediaTypes": ("list", "string")},
                      ["repositoryName", "imageIds"]),
    "GetDownloadUrlForLayer": ({"registryId": "string", "repositoryName": "string",
                                "layerDigest": "string"}, ["repositoryName", "layerDigest"]),
    "BatchCheckLayerAvailability": ({"registryId": "string", "repositoryName": "string",
                                     "layerDigests": ("list", "string")},
                                    ["repositoryName", "layerDigests"]),
}
_ECR_PUBLIC_OPS = {"GetAuthorizationToken": ({}, [])}


class _AwsHandler(TrackingHandler):
    timeout = 60

    def _read_body(self):
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self):
        owner = self.server.owner
        self.request_id = str(uuid.uuid4())
        self._recorded = False
        self.entry = {"time": time.time(), "method": self.command, "path": self.path,
                      "service": "unknown", "action": None, "region": None,
                      "access_key_id": None, "principal": None,
                      "signed": "Authorization" in self.headers, "status": None, "error": None,
                      "token_used": None, "detail": None}
        try:
            body = self._read_body()
            path = urllib.parse.urlsplit(self.path).path
            target = self.headers.get("X-Amz-Target")
            ctype = (self.headers.get("Content-Type") or "").lower()
            if path == "/latest" or path.startswith("/latest/"):
                owner._imds(self)
            elif (path.startswith("/container-credentials/") or
                  path.startswith("/v2/credentials/") or path.rstrip("/") == "/v1/credentials"):
                owner._container(self)
            elif target is not None or ctype.startswith("application/x-amz-json"):
                owner._ecr(self, body)
            else:
                owner._sts(self, body)
        except _ApiError as e:  # raised outside a protocol handler
            self.send_json_error(e)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as e:  # a bug here must not hang the client: answer 500
            self.entry["detail"] = repr(e)
            try:
                self.send_json_error(_ApiError(500, "ServerException", f"fake_aws: {e!r}"))
            except OSError:
                pass
        finally:
            if not self._recorded:
                owner._record(self.entry)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _handle

    def _send(self, code, body, ctype, extra=()):
        self.entry["status"] = code
        if not self._recorded:  # in the log before the client can see the answer
            self._recorded = True
            self.server.owner._record(self.entry)
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", self.request_id)
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_text(self, code, text, extra=()):
        self._send(code, text.encode(), "text/plain", extra)

    def send_xml(self, code, text):
        self._send(code, text.encode(), "text/xml")

    def send_json(self, code, obj, ctype=JSON_11):
        self._send(code, _json_dumps(obj).encode(), ctype)

    def send_json_error(self, e):
        self.entry["error"] = e.code
        body = {"__type": e.code}
        if e.message is not None:
            body["message"] = e.message
        self.send_json(e.status, body)

    def send_sts_error(self, e):
        self.entry["error"] = e.code
        self.send_xml(e.status, f'<ErrorResponse xmlns="{STS_NS}">\n  <Error>\n'
                                f'    <Type>Sender</Type>\n    <Code>{e.code}</Code>\n'
                                f'    <Message>{_xml_escape(e.message or "")}</Message>\n'
                                f'  </Error>\n  <RequestId>{self.request_id}</RequestId>\n'
                                f'</ErrorResponse>\n')
