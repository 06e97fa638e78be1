#!/usr/bin/env python3
"""Generates layersift's golden corpus: images, layers and a directory with planted fake secrets.

Usage:
    python3 corpus/generate.py OUTDIR [--seed N]

Writes, under OUTDIR (see corpus/README.md for every case and why it is there):
    oci-demo/           OCI image layout, image "demo", four layers (multi-member gzip, zstd, tar,
                        gzip) with secrets, decoys, links, a device, whiteouts, long names
    docker-archive.tar  the same image in classic `docker save` form
    layers/             standalone layer blobs: secrets.tar{.gz,.zst,} and three malformed ones
    oci-broken/         OCI layout, image "broken": good, truncated, digest-mismatched, good layers
    dir-demo/           a plain directory tree
    oci-semantics/      OCI layout, image "semantics": whiteouts, opaque directories, overwrites,
                        secrets in the config (Env, Labels, Cmd, Entrypoint, history) and nested
                        archives (jar, apk, whl, tar.gz, tar.zst, a corrupt jar, a zip bomb)
    oci-multiarch/      OCI layout, ref "multi": a nested image index with linux/amd64,
                        linux/arm64/v8 (sharing their base layer blob) and an attestation manifest
    golden.json         what the built-in rules must and must not report (with each finding's
                        platform, presence in the final image and creating instruction), the
                        errors and skips expected

The output is a function of the seed (zstd blobs also of the zstd version). Without --seed a
random seed is drawn and printed. Every secret is a fresh random value in its rule's format; none
is real. Python 3.11 standard library only, plus the `zstd` command-line tool.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import gzip
import hashlib
import io
import json
import math
import os
import pathlib
import random
import re
import shutil
import string
import subprocess
import sys
import tarfile
import zipfile
from collections import Counter

# --- Named limits and constants -------------------------------------------------------------

TAR_BLOCK_BYTES = 512
TAR_RECORD_BYTES = 10240  # what GNU tar and Python's tarfile pad archives to
TAR_CHKSUM_OFFSET_BYTES = 148  # the checksum field of a tar header, 8 bytes
GZIP_MTIME_OFFSET_BYTES = 4  # the MTIME field of a gzip member header, 4 bytes
ZSTD_MAX_BLOCK_BYTES = 128 * 1024  # decompressed size of one zstd block, at most
BINARY_SNIFF_BYTES = 8192  # a file with a NUL in its first 8 KiB is binary (not scanned)
ENTROPY_MARGIN_BITS = 0.1  # generated secrets clear their rule's min_entropy by this much
BIG_FILE_BYTES = 2_621_440 + 3_333  # a little over 2.5 MiB
# Offsets inside the big file that secrets must straddle: common chunk and buffer boundaries.
STRADDLE_OFFSETS = (4096, 65536, 1_048_576, 2 * 1_048_576)
PEM_STRADDLE_OFFSET = 1_572_864  # 1.5 MiB: a multi-line match across a 512 KiB chunk boundary
TAR_MTIME = 1_704_067_200  # 2024-01-01T00:00:00Z, the fixed mtime of every entry
CREATED = "2024-01-01T00:00:00Z"

MT_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
MT_LAYER_GZIP = MT_LAYER_TAR + "+gzip"
MT_LAYER_ZSTD = MT_LAYER_TAR + "+zstd"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
ZIP_DATE_TIME = (2024, 1, 1, 0, 0, 0)  # the fixed timestamp of every zip member
# The engine's default limits for archives inside layers (ScanOptions): members of archives
# nested deeper than this are not scanned; an archive stops expanding (the rest is skipped) once
# its members pass both the ratio floor and the ratio times its own stored size.
MAX_ARCHIVE_DEPTH = 2
ARCHIVE_RATIO_FLOOR_BYTES = 1 << 20
MAX_ARCHIVE_RATIO = 100
BOMB_MEMBER_BYTES = 4 << 20  # the zip bomb's repetitive text member (deflates to ~12 KiB)

ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"
BASE32 = string.ascii_uppercase + "234567"
UPPER_DIGITS = string.ascii_uppercase + string.digits

# Why a planted secret must not be reported (golden.json "not_expected" reasons).
SKIP_EXCLUDED = "excluded-path"
SKIP_BINARY = "binary"
SKIP_SYMLINK = "symlink"
SKIP_HARDLINK = "hardlink"
SKIP_DEPTH = "archive-depth"  # inside an archive nested deeper than MAX_ARCHIVE_DEPTH
SKIP_ZIP_BOMB = "zip-bomb"  # in an archive member after the expansion limit was reached
SKIP_ATTESTATION = "attestation"  # in a layer of an attestation manifest (never read)
SKIP_CORRUPT = "corrupt-archive"  # in a member of a truncated archive
SKIP_DIGEST_MISMATCH = "digest-mismatch"  # in a blob that does not hash to its digest

# Why a later layer removes a file from the final image (golden.json "removed_by.reason").
REMOVED_WHITEOUT = "whiteout"
REMOVED_OPAQUE = "opaque-directory"
REMOVED_OVERWRITTEN = "overwritten"


RULES_DIR = pathlib.Path(__file__).resolve().parent.parent / "rules" / "builtin"

# --- Secrets ---------------------------------------------------------------------------------


def builtin_min_entropy() -> dict[str, float]:
    """Rule id -> min_entropy (0 when unset) of the built-in rules.

    A minimal line reader, since the generator may not depend on a YAML library: in those files
    `id` and `min_entropy` are plain scalars on lines of their own."""
    out: dict[str, float] = {}
    current = None
    for path in sorted(RULES_DIR.glob("*.yaml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if m := re.fullmatch(r"  - id: ([a-z0-9-]+)\s*", line):
                current = m.group(1)
                out[current] = 0.0
            elif (m := re.fullmatch(r"    min_entropy: ([0-9.]+)\s*", line)) and current:
                out[current] = float(m.group(1))
    if not out:
        raise SystemExit(f"error: no rules found in {RULES_DIR}")
    return out



def shannon_entropy(data: bytes) -> float:
    """Bits per byte, as the engine's min_entropy filter computes it."""
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values()) if n else 0.0


@dataclasses.dataclass(frozen=True)
class Plant:
    """One secret planted in a file, as the rule `rule_id` reports it (its `secret` group)."""

    rule_id: str
    secret: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.secret.encode()).hexdigest()


class SecretMaker:
    """Draws fresh fake secrets in each rule's format from the corpus RNG.

    Each value is redrawn until its entropy clears the rule's min_entropy by ENTROPY_MARGIN_BITS,
    so the entropy filter never drops a planted secret, and until it is unique in the corpus."""

    def __init__(self, rng: random.Random, min_entropy: dict[str, float]):
        self.rng = rng
        self.min_entropy = min_entropy
        self.issued: set[str] = set()

    def _draw(self, rule_id: str, make) -> Plant:
        if rule_id not in self.min_entropy:
            raise KeyError(f"no built-in rule {rule_id!r} in {RULES_DIR}")
        floor = self.min_entropy[rule_id] + ENTROPY_MARGIN_BITS
        while True:
            value = make()
            if value not in self.issued and shannon_entropy(value.encode()) >= floor:
                self.issued.add(value)
                return Plant(rule_id, value)

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choices(alphabet, k=n))

    def digits(self, n: int) -> str:
        return self.rng.choice("123456789") + self.chars(string.digits, n - 1)

    def token(self, rule_id: str) -> Plant:
        c = self.chars
        makers = {
            "aws-access-key-id": lambda: self.rng.choice(["AKIA", "ASIA"]) + c(BASE32, 16),
            "aws-secret-access-key": lambda: c(ALNUM + "/+", 40),
            "google-api-key": lambda: "AIza" + c(B64URL, 35),
            "azure-storage-account-key": lambda: base64.b64encode(self.rng.randbytes(64)).decode(),
            "digitalocean-token": lambda: "dop_v1_" + c(HEX, 64),
            "hashicorp-vault-token": lambda: "hvs." + c(B64URL, 24),
            "github-pat": lambda: "ghp_" + c(ALNUM, 36),
            "github-oauth-token": lambda: "gho_" + c(ALNUM, 36),
            "github-app-token": lambda: "ghs_" + c(ALNUM, 36),
            "github-fine-grained-pat": lambda: "github_pat_" + c(ALNUM, 22) + "_" + c(ALNUM, 59),
            "gitlab-pat": lambda: "glpat-" + c(B64URL, 20),
            "gitlab-deploy-token": lambda: "gldt-" + c(B64URL, 20),
            "gitlab-runner-token": lambda: "glrt-" + c(B64URL, 20),
            "slack-bot-token": lambda: f"xoxb-{self.digits(12)}-{self.digits(13)}-{c(ALNUM, 24)}",
            "slack-user-token": lambda: (
                f"xoxp-{self.digits(12)}-{self.digits(12)}-{self.digits(13)}-{c(HEX, 32)}"
            ),
            "slack-app-token": lambda: (
                f"xapp-1-A{c(UPPER_DIGITS, 10)}-{self.digits(13)}-{c(HEX, 64)}"
            ),
            "slack-webhook-url": lambda: (
                f"hooks.slack.com/services/T{c(UPPER_DIGITS, 10)}/B{c(UPPER_DIGITS, 10)}/"
                f"{c(ALNUM, 24)}"
            ),
            "stripe-secret-key": lambda: "sk_live_" + c(ALNUM, self.rng.choice([24, 99])),
            "stripe-restricted-key": lambda: "rk_live_" + c(ALNUM, self.rng.choice([24, 99])),
            "sendgrid-api-key": lambda: f"SG.{c(B64URL, 22)}.{c(B64URL, 43)}",
            "huggingface-token": lambda: "hf_" + c(string.ascii_letters, 34),
            "npm-access-token": lambda: "npm_" + c(ALNUM, 36),
            "pypi-upload-token": lambda: "pypi-AgEIcHlwaS5vcmc" + c(B64URL, 160),
            "dockerhub-pat": lambda: "dckr_pat_" + c(B64URL, 27),
            "docker-config-auth": lambda: base64.b64encode(
                f"ci-bot:{c(ALNUM, 24)}".encode()).decode(),
        }
        return self._draw(rule_id, makers[rule_id])

    def password(self, rule_id: str) -> Plant:
        """A connection-string password: starts alphanumeric, 14-22 URL-safe characters."""
        return self._draw(rule_id, lambda: (
            self.chars(ALNUM, 1) + self.chars(ALNUM + "-_.~!", self.rng.randint(13, 21))))

    def pem(self, rule_id: str, body_bytes: int = 1190, json_escaped: bool = False) -> Plant:
        """A private key block of random bytes behind a realistic DER or format prefix."""
        label, prefix = _PEM_KINDS[rule_id]

        def make() -> str:
            body = base64.b64encode(prefix + self.rng.randbytes(body_bytes)).decode()
            lines = [body[i : i + 64] for i in range(0, len(body), 64)]
            if rule_id == "private-key-pgp":
                crc = base64.b64encode(self.rng.randbytes(3)).decode()
                lines = ["Version: GnuPG v2", ""] + lines + ["=" + crc]
            text = "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])
            return text.replace("\n", "\\n") if json_escaped else text

        return self._draw(rule_id, make)


_PEM_KINDS = {
    "private-key-rsa": ("RSA PRIVATE KEY", bytes.fromhex("308204a40201000282010100")),
    "private-key-ec": ("EC PRIVATE KEY", bytes.fromhex("30770201010420")),
    "private-key-dsa": ("DSA PRIVATE KEY", bytes.fromhex("308201bb02010002818100")),
    "private-key-openssh": (
        "OPENSSH PRIVATE KEY", b"openssh-key-v1\x00\x00\x00\x00\x04none\x00\x00\x00\x04none"),
    "private-key-pkcs8": (
        "PRIVATE KEY", bytes.fromhex("308204bd020100300d06092a864886f70d0101010500")),
    "private-key-pkcs8-encrypted": (
        "ENCRYPTED PRIVATE KEY", bytes.fromhex("30820526305006092a864886f70d01050d")),
    "private-key-pgp": ("PGP PRIVATE KEY BLOCK", b"\x95\x03\xc6\x04"),
}


# --- Filler text -----------------------------------------------------------------------------

_WORDS = (
    "able about account action active adapter address agent alpha amber anchor apply archive "
    "array asset audit backup badge balance banner batch beacon binary border bounded branch "
    "bridge buffer bundle cache candle canvas carbon cargo channel charter cipher circle client "
    "cluster column comet commit compass console copper cursor daemon delta digest domain draft "
    "eager echo editor ember engine entry epoch fabric falcon feature fiber filter format frame "
    "gallery garden gateway glacier gradient graph harbor header helper horizon index inline "
    "island journal kernel ladder lantern layer ledger linear listen lumen manifest marble meadow "
    "memory mirror module monitor native needle network nimbus nodes object office orbit origin "
    "packet panel parcel pepper pilot planet plugin pocket portal prism queue quiet radar random "
    "record relay render report ripple router runtime saddle sample schema scope sensor series "
    "shadow signal silver socket spring stable static stream summit switch syntax table tandem "
    "target temple thread ticket timber token toggle tunnel union update upload valley vector "
    "velvet vertex viewer volume wander window worker yellow zenith"
).split()
_PACKAGES = (
    "libc6 zlib1g libssl3 ca-certificates tzdata bash coreutils findutils grep sed gzip tar "
    "curl libcurl4 libzstd1 liblz4-1 libpcre2-8-0 openssl netbase adduser debconf dpkg apt "
    "libgcc-s1 libstdc++6 libffi8 libsqlite3-0 libxml2 libyaml-0-2 readline-common procps"
).split()


class Filler:
    """Secret-free file contents: prose, config, code and logs made of a fixed vocabulary."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def words(self, n: int) -> str:
        return " ".join(self.rng.choices(_WORDS, k=n))

    def prose(self, lines: int) -> str:
        return "".join(self.words(self.rng.randint(6, 12)).capitalize() + ".\n"
                       for _ in range(lines))

    def copyright(self, pkg: str) -> str:
        return (
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
            f"Upstream-Name: {pkg}\nSource: https://example.org/{pkg}\n\n"
            f"Files: *\nCopyright: 2001-2023 The {pkg} authors\nLicense: MIT\n"
            + self.prose(self.rng.randint(8, 30))
        )

    def config(self, lines: int) -> str:
        r = self.rng
        out = [f"# {self.words(5)}"]
        for _ in range(lines):
            key = "_".join(r.choices(_WORDS, k=2))
            value = r.choice([str(r.randint(0, 65535)), r.choice(_WORDS), "true", "false",
                              f"/var/lib/{r.choice(_WORDS)}/{r.choice(_WORDS)}"])
            out.append(f"{key} = {value}")
        return "\n".join(out) + "\n"

    def python(self, functions: int) -> str:
        r = self.rng
        out = ['"""' + self.words(8).capitalize() + '."""', "", "import os", ""]
        for _ in range(functions):
            name = "_".join(r.choices(_WORDS, k=2))
            args = ", ".join(r.sample(_WORDS, k=r.randint(1, 3)))
            out += ["", f"def {name}({args}):", f'    """{self.words(7).capitalize()}."""',
                    f"    return {r.choice(_WORDS)!r}", ""]
        return "\n".join(out)

    def log_lines(self, total_bytes: int) -> bytearray:
        """About `total_bytes` of log lines (exactly that many, last line cut)."""
        r = self.rng
        levels = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")
        parts, size, t = [], 0, 0
        while size < total_bytes:
            t += r.randint(1, 900)
            line = (
                f"2024-03-{1 + t // 86_400_000 % 28:02d}T{t // 3_600_000 % 24:02d}:"
                f"{t // 60_000 % 60:02d}:{t // 1000 % 60:02d}.{t % 1000:03d}Z "
                f"{r.choice(levels)} [{r.choice(_WORDS)}] {self.words(r.randint(4, 11))} "
                f"request_id={r.getrandbits(64):016x} latency_ms={r.randint(1, 4000)}\n"
            )
            parts.append(line)
            size += len(line)
        return bytearray("".join(parts).encode()[:total_bytes])


# --- Tar members and layers -------------------------------------------------------------------


@dataclasses.dataclass
class Member:
    """One tar entry. `plants` are the secrets in `data` (or, for links, in the target)."""

    path: str
    data: bytes = b""
    kind: str = "file"  # file | dir | symlink | hardlink | chardev
    link: str = ""
    plants: list[Plant] = dataclasses.field(default_factory=list)
    skip: str | None = None  # why `plants` must not be reported here
    tar_format: int = tarfile.USTAR_FORMAT
    # For an archive (zip, jar, tar.gz, ...): the secrets inside it, as (member path below this
    # file, e.g. "BOOT-INF/lib/inner.jar!config.properties", plant, why not reported or None).
    inner: list[tuple[str, Plant, str | None]] = dataclasses.field(default_factory=list)


def normalize(path: str) -> str:
    """A tar path as golden.json (and the engine) names it: no leading "./" or "/"."""
    if path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def text_file(path: str, text: str, plants=(), skip: str | None = None, **kw) -> Member:
    """A regular file holding `text`; each planted secret must occur in it exactly once."""
    data = text.encode()
    for p in plants:
        assert data.count(p.secret.encode()) == 1, (path, p.rule_id)
    return Member(path, data, plants=list(plants), skip=skip, **kw)


def with_parent_dirs(members: list[Member]) -> list[Member]:
    """Inserts a directory entry for every parent not yet listed, before its first child."""
    out, seen = [], set()
    for m in members:
        parts = m.path.rstrip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in ("", ".") and d not in seen:
                seen.add(d)
                # A parent of a long or non-ASCII path needs the child's header format too.
                out.append(Member(d + "/", kind="dir", tar_format=m.tar_format))
        if m.kind == "dir":
            seen.add(m.path.rstrip("/"))
        out.append(m)
    return out


def tar_bytes(members: list[Member]) -> bytes:
    """A tar archive of `members`, each header in its own format (ustar, GNU or pax)."""
    out = bytearray()
    for m in members:
        info = tarfile.TarInfo(m.path)
        info.mtime, info.uid, info.gid, info.uname, info.gname = TAR_MTIME, 0, 0, "root", "root"
        info.mode = 0o644
        if m.kind == "file":
            info.size = len(m.data)
        elif m.kind == "dir":
            info.type, info.mode = tarfile.DIRTYPE, 0o755
        elif m.kind == "symlink":
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, m.link, 0o777
        elif m.kind == "hardlink":
            info.type, info.linkname = tarfile.LNKTYPE, m.link
        elif m.kind == "chardev":
            info.type, info.devmajor, info.devminor, info.mode = tarfile.CHRTYPE, 1, 3, 0o666
        else:
            raise ValueError(m.kind)
        out += info.tobuf(m.tar_format, "utf-8", "surrogateescape")
        if m.kind == "file":
            out += m.data + b"\0" * (-len(m.data) % TAR_BLOCK_BYTES)
    out += b"\0" * (2 * TAR_BLOCK_BYTES)
    out += b"\0" * (-len(out) % TAR_RECORD_BYTES)
    return bytes(out)


@dataclasses.dataclass
class Entry:
    """A file inside an archive (zip or tar) that a layer holds. `inner`: as for Member."""

    name: str
    data: bytes = b""
    plants: list[Plant] = dataclasses.field(default_factory=list)
    skip: str | None = None
    inner: list[tuple[str, Plant, str | None]] = dataclasses.field(default_factory=list)
    stored: bool = False  # zip: ZIP_STORED instead of deflate (Spring Boot stores nested jars)


def text_entry(name: str, text: str, plants=(), skip: str | None = None, **kw) -> Entry:
    data = text.encode()
    for p in plants:
        assert data.count(p.secret.encode()) == 1, (name, p.rule_id)
    return Entry(name, data, list(plants), skip, **kw)


def inner_of(entries: list[Entry]) -> list[tuple[str, Plant, str | None]]:
    """The secrets inside an archive of `entries`, with their paths below the archive."""
    out = []
    for e in entries:
        out += [(e.name, p, e.skip) for p in e.plants]
        out += [(f"{e.name}!{sub}", p, e.skip or why) for sub, p, why in e.inner]
    return out


def zip_bytes(entries: list[Entry]) -> bytes:
    """A zip of `entries` in order, every timestamp ZIP_DATE_TIME: a function of the contents."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for e in entries:
            info = zipfile.ZipInfo(e.name, date_time=ZIP_DATE_TIME)
            if e.name.endswith("/"):
                info.external_attr = (0o40755 << 16) | 0x10
                zf.writestr(info, b"")
                continue
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_STORED if e.stored else zipfile.ZIP_DEFLATED
            zf.writestr(info, e.data, compresslevel=None if e.stored else 9)
    return buf.getvalue()


def archive_file(path: str, entries: list[Entry], kind: str, skip: str | None = None) -> Entry:
    """An archive of `entries` as an Entry (to nest it in another archive): kind is zip,
    tar, tar.gz or tar.zst."""
    if kind == "zip":
        data = zip_bytes(entries)
    else:
        tar = tar_bytes(with_parent_dirs([Member(e.name, e.data) for e in entries]))
        data = {"tar": lambda t: t, "tar.gz": gzip_bytes, "tar.zst": zstd_bytes}[kind](tar)
    return Entry(path, data, skip=skip, inner=inner_of(entries))


def archive_member(entry: Entry) -> Member:
    """A layer file holding the archive `entry` (from archive_file)."""
    return Member(entry.name, entry.data, skip=entry.skip, inner=list(entry.inner))


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def gzip_two_members(data: bytes) -> bytes:
    """`data` split in two halves, each a gzip member; the members concatenated (RFC 1952 2.2)."""
    half = len(data) // 2
    return gzip_bytes(data[:half]) + gzip_bytes(data[half:])


def zstd_bytes(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-q", "-c", "-3", "-T1", "--no-progress"], input=data,
                          stdout=subprocess.PIPE, check=True).stdout


def corrupt_second_zstd_block(frame: bytes) -> bytes:
    """Marks the second block of a zstd frame as the reserved block type, so decoding fails
    inside the frame after the first block (RFC 8878 3.1.1, 3.1.1.2)."""
    assert frame[:4] == b"\x28\xb5\x2f\xfd", "not a zstd frame"
    fhd = frame[4]
    single_segment = (fhd >> 5) & 1
    pos = 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[fhd & 3]
    pos += (1 if single_segment else 0, 2, 4, 8)[fhd >> 6]
    header = int.from_bytes(frame[pos : pos + 3], "little")
    if header & 1:
        raise ValueError("zstd frame has a single block; give it more input")
    block_type, block_size = (header >> 1) & 3, header >> 3
    pos += 3 + (1 if block_type == 1 else block_size)
    second = int.from_bytes(frame[pos : pos + 3], "little") | 0b110  # block type 3: reserved
    return frame[:pos] + second.to_bytes(3, "little") + frame[pos + 3 :]


def corrupt_tar_checksum(tar: bytes, header_offset: int) -> bytes:
    """Overwrites the checksum field of the header at `header_offset` with a wrong value."""
    start = header_offset + TAR_CHKSUM_OFFSET_BYTES
    return tar[:start] + b"0000000\0" + tar[start + 8 :]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_bytes(obj) -> bytes:
    return json.dumps(obj, indent=2).encode() + b"\n"


@dataclasses.dataclass
class Layer:
    members: list[Member]
    compression: str  # "gzip-2", "gzip", "zstd", "none"
    created_by: str

    @property
    def tar(self) -> bytes:
        return tar_bytes(self.members)


_MEDIA_TYPE = {"gzip-2": MT_LAYER_GZIP, "gzip": MT_LAYER_GZIP, "zstd": MT_LAYER_ZSTD,
               "none": MT_LAYER_TAR}
_COMPRESS = {"gzip-2": gzip_two_members, "gzip": gzip_bytes, "zstd": zstd_bytes,
             "none": lambda data: data}


def history_of(created_by: list[str]) -> list[dict]:
    """One history entry per layer, none of them empty_layer."""
    return [{"created": CREATED, "created_by": c} for c in created_by]


def config_dict(history: list[dict], os_name: str = "linux", arch: str = "amd64",
                variant: str | None = None, config: dict | None = None) -> dict:
    """An image config without its rootfs (config_bytes adds it)."""
    out = {"created": CREATED, "architecture": arch, "os": os_name}
    if variant:
        out["variant"] = variant
    out["config"] = config if config is not None else {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "APP_ENV=production"],
        "Cmd": ["/app/start.sh"],
        "WorkingDir": "/app",
    }
    out["history"] = history
    return out


def config_bytes(config: dict, tars: list[bytes]) -> bytes:
    """`config` with rootfs.diff_ids naming the uncompressed layer tars, before its history."""
    out = {k: v for k, v in config.items() if k != "history"}
    out["rootfs"] = {"type": "layers", "diff_ids": ["sha256:" + sha256_hex(t) for t in tars]}
    out["history"] = config["history"]
    return json_bytes(out)


def platform_of(config: dict) -> str:
    """os/architecture[/variant], as the engine names an image's platform."""
    return "/".join(x for x in (config["os"], config["architecture"], config.get("variant")) if x)


class OciLayout:
    """Writes an OCI image layout: oci-layout, index.json and content-addressed blobs."""

    def __init__(self, root: pathlib.Path):
        self.root = root
        self.manifests: list[dict] = []
        (root / "blobs" / "sha256").mkdir(parents=True)
        (root / "oci-layout").write_bytes(json_bytes({"imageLayoutVersion": "1.0.0"}))

    def put_blob(self, data: bytes, stored: bytes | None = None) -> str:
        """Stores `data` under its digest. `stored`, when given, is written instead: a blob that
        does not match its digest."""
        digest = "sha256:" + sha256_hex(data)
        (self.root / "blobs" / "sha256" / digest[7:]).write_bytes(
            data if stored is None else stored)
        return digest

    def put_layer(self, blob: bytes, media_type: str) -> dict:
        return {"mediaType": media_type, "digest": self.put_blob(blob), "size": len(blob)}

    def manifest(self, config: bytes, layers: list[dict], platform: dict,
                 annotations: dict | None = None) -> dict:
        """Stores an image manifest and its config; returns the manifest's descriptor."""
        manifest = json_bytes({
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": self.put_blob(config),
                       "size": len(config)},
            "layers": layers,
        })
        descriptor = {"mediaType": MT_MANIFEST, "digest": self.put_blob(manifest),
                      "size": len(manifest), "platform": platform}
        if annotations:
            descriptor["annotations"] = annotations
        return descriptor

    def add_image(self, ref_name: str, config: bytes, layers: list[dict]) -> None:
        self.manifests.append(self.manifest(
            config, layers, {"architecture": "amd64", "os": "linux"},
            {"org.opencontainers.image.ref.name": ref_name}))

    def add_index(self, ref_name: str, manifests: list[dict]) -> None:
        """Stores an image index blob listing `manifests`; index.json will point to it."""
        index = json_bytes({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": manifests})
        self.manifests.append({"mediaType": MT_INDEX, "digest": self.put_blob(index),
                               "size": len(index),
                               "annotations": {"org.opencontainers.image.ref.name": ref_name}})

    def finish(self) -> None:
        (self.root / "index.json").write_bytes(json_bytes(
            {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": self.manifests}))


def write_oci_image(root: pathlib.Path, ref_name: str, layers: list[Layer],
                    config: dict) -> list[bytes]:
    """Writes a one-image OCI layout; returns the uncompressed layer tars."""
    oci = OciLayout(root)
    tars = [layer.tar for layer in layers]
    descriptors = [oci.put_layer(_COMPRESS[layer.compression](tar), _MEDIA_TYPE[layer.compression])
                   for layer, tar in zip(layers, tars)]
    oci.add_image(ref_name, config_bytes(config, tars), descriptors)
    oci.finish()
    return tars


def write_docker_archive(path: pathlib.Path, repo_tag: str, config_doc: dict,
                         tars: list[bytes]) -> None:
    """Classic `docker save` output: <id>/{VERSION,json,layer.tar}, <config>.json, manifest.json,
    repositories. Layer directory ids are the layers' ChainIDs (OCI image spec, config.md)."""
    diff_ids = ["sha256:" + sha256_hex(t) for t in tars]
    config = config_bytes(config_doc, tars)
    config_name = sha256_hex(config) + ".json"
    members, layer_paths, chain, parent = [], [], "", ""
    for diff_id, tar in zip(diff_ids, tars):
        chain = diff_id if not chain else "sha256:" + sha256_hex(f"{chain} {diff_id}".encode())
        layer_id = chain[7:]
        v1 = {"id": layer_id, "created": CREATED, "os": "linux"}
        if parent:
            v1["parent"] = parent
        members += [Member(layer_id + "/", kind="dir"),
                    Member(layer_id + "/VERSION", b"1.0"),
                    Member(layer_id + "/json", json_bytes(v1)),
                    Member(layer_id + "/layer.tar", tar)]
        layer_paths.append(layer_id + "/layer.tar")
        parent = layer_id
    name, tag = repo_tag.split(":")
    members += [
        Member(config_name, config),
        Member("manifest.json", json_bytes(
            [{"Config": config_name, "RepoTags": [repo_tag], "Layers": layer_paths}])),
        Member("repositories", json_bytes({name: {tag: parent}})),
    ]
    path.write_bytes(tar_bytes(members))


# --- Image semantics --------------------------------------------------------------------------
# A Python model of what the engine must report about each finding in an image: whether a later
# layer removes its file (OCI image-spec layer semantics), which history entry made its layer
# (with the secrets found in it masked), and the image config's virtual files.


def _is_ancestor(directory: str, path: str) -> bool:
    """Whether `directory` ("" is the root) is a proper ancestor of `path`."""
    return directory == "" or path.startswith(directory + "/")


def removal_reason(entry: Member, path: str) -> str | None:
    """Why the layer entry `entry` removes the file `path` of an earlier layer, if it does."""
    q = normalize(entry.path).rstrip("/")
    parent, _, name = q.rpartition("/")
    if name == ".wh..wh..opq":
        return REMOVED_OPAQUE if _is_ancestor(parent, path) else None
    if name.startswith(".wh."):
        hidden = f"{parent}/{name[4:]}" if parent else name[4:]
        return REMOVED_WHITEOUT if hidden == path or _is_ancestor(hidden, path) else None
    if q == path or (q and entry.kind != "dir" and _is_ancestor(q, path)):
        return REMOVED_OVERWRITTEN
    return None


def presence(layers: list[list[Member]], layer: int, path: str,
             failed: frozenset[int] = frozenset()) -> tuple[bool | None, dict | None]:
    """(present_in_final_image, removed_by) of a file that layer `layer` holds at `path` (for a
    member of an archive, the archive's path counts): the first later layer that removes it wins.
    Unknown (None) when a later layer failed before any removal was seen."""
    path = path.split("!", 1)[0]
    for later in range(layer + 1, len(layers)):
        if later in failed:
            return None, None
        reasons = {r for e in layers[later] if (r := removal_reason(e, path))}
        assert len(reasons) <= 1, (path, later, reasons)  # the corpus avoids ambiguous layers
        if reasons:
            return False, {"layer_index": later, "reason": reasons.pop()}
    return True, None


def config_files(config: dict) -> list[tuple[str, str]]:
    """The image config's virtual files (name, content) that the engine scans: Env items,
    Labels as KEY=value, Cmd and Entrypoint joined by spaces, User, WorkingDir and every
    history entry's created_by (k counts all entries). Empty contents are not scanned."""
    c = config.get("config") or {}
    out = [(f"config:Env[{i}]", env) for i, env in enumerate(c.get("Env") or [])]
    out += [(f"config:Labels[{k}]", f"{k}={v}") for k, v in (c.get("Labels") or {}).items()]
    out += [(f"config:{key}", " ".join(c.get(key) or [])) for key in ("Cmd", "Entrypoint")]
    out += [(f"config:{key}", c.get(key) or "") for key in ("User", "WorkingDir")]
    out += [(f"history[{k}].created_by", h.get("created_by") or "")
            for k, h in enumerate(config.get("history") or [])]
    return [(name, text) for name, text in out if text]


def redact_secret(secret: bytes) -> str:
    """The engine's RedactSecret: a few leading bytes (non-printable ones as '?'), an ellipsis
    and the length in bytes."""
    shown = 4 if len(secret) >= 16 else len(secret) // 4
    head = "".join("?" if b < 0x20 or b >= 0x7f else chr(b) for b in secret[:shown])
    return f"{head}\u2026{len(secret)}"


def found_in(text: str, plants: list[Plant]) -> list[Plant]:
    """The plants of `plants` whose secret occurs in `text` (each must occur at most once)."""
    out = []
    for p in plants:
        n = text.count(p.secret)
        assert n <= 1, (text, p.rule_id)
        if n:
            out.append(p)
    return out


def redact(text: str, plants: list[Plant]) -> str:
    """`text` with the byte range of every secret found in it replaced by its redaction;
    overlapping or identical ranges (one secret, two rules) merged first."""
    data = text.encode()
    ranges = sorted((data.find(p.secret.encode()), data.find(p.secret.encode())
                     + len(p.secret.encode())) for p in found_in(text, plants))
    merged: list[list[int]] = []
    for begin, end in ranges:
        if merged and begin < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    for begin, end in reversed(merged):
        data = data[:begin] + redact_secret(data[begin:end]).encode() + data[end:]
    return data.decode()


def layer_created_by(config: dict, layer_count: int, plants: list[Plant]) -> list[str | None]:
    """Per layer, the created_by of its history entry (the i-th entry without empty_layer),
    redacted; None where the layer has no entry or the entry no created_by."""
    made = [h for h in config.get("history") or [] if not h.get("empty_layer")]
    return [redact(made[i]["created_by"], plants) if i < len(made) and made[i].get("created_by")
            else None for i in range(layer_count)]


def findings_of(m: Member) -> list[tuple[str, Plant, str | None]]:
    """(path, plant, why it must not be reported or None) for every secret in a layer entry,
    the members of an archive included (path OUTER!MEMBER)."""
    reason = m.skip or (None if m.kind == "file" else m.kind)
    out = [(normalize(m.path), p, reason) for p in m.plants]
    for sub, p, why in m.inner:
        path = f"{normalize(m.path)}!{sub}"
        depth_skip = SKIP_DEPTH if path.count("!") > MAX_ARCHIVE_DEPTH else None
        out.append((path, p, reason or why or depth_skip))
    return out


# --- Golden results ---------------------------------------------------------------------------


class Golden:
    """Collects golden.json: what must be found, what must not, which layers must fail, what
    must be skipped."""

    def __init__(self, seed: int):
        self.seed = seed
        self.targets: dict[str, str] = {}
        self.layer_counts: dict[str, int] = {}
        self.blob_counts: dict[str, int] = {}
        self.expected: list[dict] = []
        self.not_expected: list[dict] = []
        self.expected_errors: list[dict] = []
        self.expected_skips: list[dict] = []

    def target(self, name: str, spec: str, layer_count: int, blob_count: int | None = None) -> None:
        self.targets[name] = spec
        self.layer_counts[name] = layer_count
        if blob_count is not None:
            self.blob_counts[name] = blob_count

    def _add(self, target: str, layer_index: int | None, path: str, plant: Plant,
             reason: str | None, platform: str | None = None,
             present: tuple[bool | None, dict | None] = (None, None),
             created_by: str | None = None) -> None:
        entry = {"target": target, "layer_index": layer_index, "path": path,
                 "rule_id": plant.rule_id, "secret_sha256": plant.sha256}
        if reason is None:
            self.expected.append({**entry, "platform": platform,
                                  "present_in_final_image": present[0], "removed_by": present[1],
                                  "created_by": created_by})
        else:
            self.not_expected.append({**entry, "reason": reason})

    def add_members(self, target: str, layer_index: int | None, members: list[Member],
                    skip_all: str | None = None) -> None:
        """The secrets of a bare layer or a directory: no image, so no platform, presence or
        creating instruction."""
        for m in members:
            for path, p, reason in findings_of(m):
                self._add(target, layer_index, path, p, skip_all or reason)

    def add_image(self, target: str, layers: list[list[Member]], config: dict,
                  config_plants: list[Plant], failed: frozenset[int] = frozenset()) -> None:
        """The secrets of an image: every layer's files (each copy its own entry, with its
        presence in the final image and its layer's created_by) and the config's virtual files.
        `config_plants` are the secrets planted in the config; `failed`, layers that fail."""
        platform = platform_of(config)
        created_by = layer_created_by(config, len(layers), config_plants)
        for i, members in enumerate(layers):
            for m in members:
                for path, p, reason in findings_of(m):
                    self._add(target, i, path, p, reason, platform,
                              presence(layers, i, path, failed), created_by[i])
        seen: set[str] = set()
        for name, text in config_files(config):
            for p in found_in(text, config_plants):
                seen.add(p.secret)
                self._add(target, None, name, p, None, platform, (True, None), None)
        assert seen == {p.secret for p in config_plants}, "a config plant is in no config file"

    def error(self, target: str, layer_index: int, contains: str) -> None:
        self.expected_errors.append(
            {"target": target, "layer_index": layer_index, "contains": contains})

    def skip(self, target: str, layer_index: int | None, path: str, contains: str) -> None:
        self.expected_skips.append(
            {"target": target, "layer_index": layer_index, "path": path, "contains": contains})

    def of(self, target: str, path: str, rule_id: str | None = None) -> list[dict]:
        """Expected entries of `target` at `path` (for the generator's own checks)."""
        return [e for e in self.expected if e["target"] == target and e["path"] == path
                and (rule_id is None or e["rule_id"] == rule_id)]

    def write(self, path: pathlib.Path) -> None:
        order = {name: i for i, name in enumerate(self.targets)}

        def key(e: dict) -> tuple:
            return (order[e["target"]], e.get("platform") or "",
                    -1 if e["layer_index"] is None else e["layer_index"],
                    e["path"], e["rule_id"], e["secret_sha256"])

        path.write_bytes(json_bytes({
            "seed": self.seed,
            "targets": self.targets,
            "layer_counts": self.layer_counts,
            "blob_counts": self.blob_counts,
            "expected": sorted(self.expected, key=key),
            "not_expected": sorted(self.not_expected, key=key),
            "expected_errors": self.expected_errors,
            "expected_skips": self.expected_skips,
        }))


# --- Corpus contents --------------------------------------------------------------------------


class Corpus:
    """The contents of every target. All randomness comes from one RNG seeded once, and the
    methods are called in a fixed order, so a seed determines every byte."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.secrets = SecretMaker(self.rng, builtin_min_entropy())
        self.filler = Filler(self.rng)

    def fillers(self, prefix: str, count: int) -> list[Member]:
        """`count` secret-free files of assorted kinds under `prefix`."""
        r, f, out = self.rng, self.filler, []
        for i in range(count):
            kind = i % 4
            if kind == 0:
                pkg = r.choice(_PACKAGES)
                out.append(text_file(f"{prefix}usr/share/doc/{pkg}-{i}/copyright",
                                     f.copyright(pkg)))
            elif kind == 1:
                out.append(text_file(f"{prefix}etc/{r.choice(_WORDS)}-{i}.conf",
                                     f.config(r.randint(5, 40))))
            elif kind == 2:
                out.append(text_file(f"{prefix}app/src/{r.choice(_WORDS)}_{i}.py",
                                     f.python(r.randint(2, 12))))
            else:
                out.append(text_file(f"{prefix}usr/share/app/templates/{r.choice(_WORDS)}-{i}.txt",
                                     f.prose(r.randint(3, 60))))
        return out

    def binary_with(self, path: str, plant: Plant, line: str) -> Member:
        """A file with NUL bytes in its first 8 KiB and `line` (holding the secret) inside."""
        head = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + self.rng.randbytes(2048)
        assert b"\0" in head[:BINARY_SNIFF_BYTES]
        data = head + b"\0" + line.encode() + b"\0" + self.rng.randbytes(1024)
        assert data.count(plant.secret.encode()) == 1
        return Member(path, data, plants=[plant], skip=SKIP_BINARY)

    def big_log(self, path: str) -> Member:
        """A ~2.5 MiB log with secrets straddling STRADDLE_OFFSETS and a PEM block straddling
        PEM_STRADDLE_OFFSET. `before` is how many bytes of the secret precede the offset."""
        s = self.secrets
        buf = self.filler.log_lines(BIG_FILE_BYTES)
        plan = [
            (STRADDLE_OFFSETS[0], 3, "\naws_access_key_id=", s.token("aws-access-key-id")),
            (STRADDLE_OFFSETS[1], 2, "\nexport GITHUB_TOKEN=", s.token("github-pat")),
            (STRADDLE_OFFSETS[2], 12, "\nstripe.api_key: ", s.token("stripe-secret-key")),
            (STRADDLE_OFFSETS[3], 4, "\nSLACK_BOT_TOKEN=", s.token("slack-bot-token")),
            (PEM_STRADDLE_OFFSET, 100, "\n", s.pem("private-key-rsa")),
        ]
        plants = []
        for offset, before, prefix, plant in plan:
            start = offset - before
            piece = (prefix + plant.secret + "\n").encode()
            buf[start - len(prefix) : start - len(prefix) + len(piece)] = piece
            assert buf[start : start + len(plant.secret)] == plant.secret.encode()
            plants.append(plant)
        assert len(buf) == BIG_FILE_BYTES
        for p in plants:
            assert buf.count(p.secret.encode()) == 1
        return Member(path, bytes(buf), plants=plants)

    def demo_layers(self) -> list[Layer]:
        s, f, r = self.secrets, self.filler, self.rng

        # Layer 0: the base. Multi-member gzip.
        akid, aks = s.token("aws-access-key-id"), s.token("aws-secret-access-key")
        rk = s.token("stripe-restricted-key")
        hook = s.token("slack-webhook-url")
        ssh_rsa = s.pem("private-key-rsa")
        env0 = (f"# application environment\nAPP_ENV=production\nLOG_LEVEL=info\n"
                f"AWS_REGION=eu-west-1\nAWS_ACCESS_KEY_ID={akid.secret}\n"
                f"AWS_SECRET_ACCESS_KEY={aks.secret}\nFEATURE_FLAGS=search,checkout\n")
        excluded_pat = s.token("github-pat")
        binary_pat = s.token("github-oauth-token")
        layer0 = [
            text_file("etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'
                      'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'),
            text_file("etc/hostname", "build-7f3a\n"),
            Member("dev/null", kind="chardev"),
            text_file("etc/app/.env", env0, [akid, aks]),
            text_file("etc/app/empty.conf", ""),
            Member("etc/app/env.link", kind="symlink", link=".env", plants=[akid, aks],
                   skip=SKIP_SYMLINK),
            text_file("root/.ssh/id_rsa", ssh_rsa.secret + "\n", [ssh_rsa]),
            Member("root/.ssh/id_rsa.bak", kind="hardlink", link="root/.ssh/id_rsa",
                   plants=[ssh_rsa], skip=SKIP_HARDLINK),
            text_file("root/.ssh/known_hosts",
                      "github.com ssh-ed25519 " + base64.b64encode(r.randbytes(51)).decode()
                      + "\n"),
            text_file("opt/legacy/oldfile", f"# removed in a later layer\nSTRIPE_KEY={rk.secret}\n",
                      [rk]),
            text_file("srv/somedir/notify.conf",
                      f"[slack]\nwebhook = https://{hook.secret}\nchannel = #deploys\n", [hook]),
            text_file("app/node_modules/pkg/.env", f"GITHUB_TOKEN={excluded_pat.secret}\n",
                      [excluded_pat], skip=SKIP_EXCLUDED),
            self.binary_with("usr/share/app/blob.bin", binary_pat,
                             f"oauth_token={binary_pat.secret}"),
            self.big_log("var/log/app/big.log"),
            *self.fillers("", 40),
        ]

        # Layer 1: dependencies. zstd. A whiteout, a GNU long name, an excluded site-packages.
        npm = s.token("npm-access-token")
        pypi = s.token("pypi-upload-token")
        pg, redis = s.password("postgres-connection-string"), s.password("redis-connection-string")
        glpat, glrt = s.token("gitlab-pat"), s.token("gitlab-runner-token")
        sendgrid_excluded = s.token("sendgrid-api-key")
        long_dir = ("app/src/main/resources/config/environments/production/overrides/regional/"
                    "eu-west-1/services/payments/")
        layer1 = [
            text_file("home/dev/.npmrc",
                      f"registry=https://registry.npmjs.org/\n"
                      f"//registry.npmjs.org/:_authToken={npm.secret}\nalways-auth=true\n",
                      [npm, Plant("npmrc-auth-token", npm.secret)]),
            text_file("home/dev/.pypirc",
                      f"[distutils]\nindex-servers =\n    pypi\n\n[pypi]\nusername = __token__\n"
                      f"password = {pypi.secret}\n", [pypi, Plant("pypirc-password", pypi.secret)]),
            text_file("app/config.yaml",
                      "server:\n  port: 8080\n  workers: 4\ndatabase:\n"
                      f"  url: postgres://orders:{pg.secret}@orders-db.internal:5432/orders"
                      "?sslmode=require\n  pool: 10\ncache:\n"
                      f"  url: redis://:{redis.secret}@cache.internal:6379/0\n", [pg, redis]),
            text_file("etc/gitlab-runner/config.toml",
                      'concurrent = 2\n\n[[runners]]\n  name = "builder"\n'
                      f'  url = "https://gitlab.example.com"\n  token = "{glrt.secret}"\n'
                      '  executor = "docker"\n', [glrt]),
            text_file("opt/legacy/.wh.oldfile", ""),
            text_file(long_dir + "gitlab.env", f"GITLAB_TOKEN={glpat.secret}\n", [glpat],
                      tar_format=tarfile.GNU_FORMAT),
            text_file("usr/lib/python3.11/site-packages/demo/settings.py",
                      f'SENDGRID_API_KEY = "{sendgrid_excluded.secret}"\n', [sendgrid_excluded],
                      skip=SKIP_EXCLUDED),
            text_file("app/docs/example.env", _DECOYS),
            *self.fillers("", 40),
        ]
        assert len(normalize(long_dir + "gitlab.env")) > 100

        # Layer 2: the application. Uncompressed, every path written as "./...". A pax entry.
        ghp, ghs = s.token("github-pat"), s.token("github-app-token")
        mongo, sendgrid = s.password("mongodb-connection-string"), s.token("sendgrid-api-key")
        dockercfg, slack_bot, hf = (s.token("docker-config-auth"), s.token("slack-bot-token"),
                                    s.token("huggingface-token"))
        pax_path = ("./app/données/" + "/".join(f"sous-répertoire-{i:02d}" for i in range(12))
                    + "/配置-slack.txt")
        layer2 = [
            Member("./", kind="dir"),
            text_file("./app/deploy.sh",
                      "#!/bin/sh\nset -eu\n# push the release tag\n"
                      f"export GITHUB_TOKEN={ghp.secret}\n"
                      'curl -fsS -H "Authorization: token $GITHUB_TOKEN" '
                      "https://api.github.com/repos/acme/app/releases\n", [ghp]),
            text_file("./app/ci/install-token.json",
                      f'{{"token": "{ghs.secret}", "expires_at": "2031-01-01T00:00:00Z"}}\n',
                      [ghs]),
            text_file("./app/settings.py",
                      '"""Production settings."""\n\nDEBUG = False\n'
                      f'MONGO_URI = "mongodb+srv://api:{mongo.secret}@'
                      'cluster0.x1y2z.mongodb.net/app"\n'
                      f'SENDGRID_API_KEY = "{sendgrid.secret}"\n', [mongo, sendgrid]),
            text_file("./root/.docker/config.json",
                      '{\n  "auths": {\n    "registry.example.com": {\n'
                      f'      "auth": "{dockercfg.secret}"\n    }}\n  }}\n}}\n',
                      [dockercfg]),
            text_file(pax_path, f"SLACK_BOT_TOKEN={slack_bot.secret}\n", [slack_bot],
                      tar_format=tarfile.PAX_FORMAT),
            text_file("./app/.hf_token", hf.secret, [hf]),  # no trailing newline: ends at EOF
            *self.fillers("./", 30),
        ]
        assert len(normalize(pax_path).encode()) > 255

        # Layer 3: the final touches. gzip. An opaque whiteout, a rewritten .env, more keys.
        akid3, aks3 = s.token("aws-access-key-id"), s.token("aws-secret-access-key")
        sk = s.token("stripe-secret-key")
        openssh, pkcs8 = s.pem("private-key-openssh", 400), s.pem("private-key-pkcs8")
        snakeoil = s.pem("private-key-pkcs8")
        dckr = s.token("dockerhub-pat")
        ustar_long = ("app/integrations/registry/credentials/dockerhub/production/ci-pipelines/"
                      "release-train/2024/dockerhub-token.env")
        layer3 = [
            text_file("srv/somedir/.wh..wh..opq", ""),
            text_file("srv/somedir/readme.txt", f.prose(5)),
            text_file("etc/app/.env",
                      f"APP_ENV=production\nAWS_ACCESS_KEY_ID={akid3.secret}\n"
                      f"AWS_SECRET_ACCESS_KEY={aks3.secret}\nSTRIPE_SECRET_KEY={sk.secret}\n",
                      [akid3, aks3, sk]),
            text_file("root/.ssh/id_ed25519", openssh.secret + "\n", [openssh]),
            text_file("app/certs/server.key", pkcs8.secret + "\n", [pkcs8]),
            text_file("etc/ssl/private/ssl-cert-snakeoil.key", snakeoil.secret + "\n", [snakeoil],
                      skip=SKIP_EXCLUDED),
            text_file(ustar_long, f'DOCKERHUB_TOKEN="{dckr.secret}"\n', [dckr]),  # ustar prefix
            text_file("app/start.sh",
                      "#!/bin/sh\nexec /app/bin/server --config /app/config.yaml\n"),
            *self.fillers("", 20),
        ]
        assert 100 < len(ustar_long) <= 255

        return [
            Layer(with_parent_dirs(layer0), "gzip-2", "ADD rootfs.tar / # multi-member gzip"),
            Layer(with_parent_dirs(layer1), "zstd", "RUN install-deps # zstd"),
            Layer(with_parent_dirs(layer2), "none", "COPY app /app # uncompressed"),
            Layer(with_parent_dirs(layer3), "gzip", "RUN finalize # gzip"),
        ]

    def secrets_layer(self) -> list[Member]:
        s = self.secrets
        fgpat, gkey = s.token("github-fine-grained-pat"), s.token("google-api-key")
        ec = s.pem("private-key-ec", 90)
        mysql, amqp = s.password("mysql-connection-string"), s.password("amqp-connection-string")
        vault, do = s.token("hashicorp-vault-token"), s.token("digitalocean-token")
        return with_parent_dirs([
            text_file("app/.env", f"GH_TOKEN={fgpat.secret}\nMAPS_API_KEY={gkey.secret}\n",
                      [fgpat, gkey]),
            text_file("app/keys/id_ecdsa", ec.secret + "\n", [ec]),
            text_file("app/db.conf",
                      f"[db]\nurl = mysql://shop:{mysql.secret}@mysql.internal:3306/shop\n"
                      f"[queue]\nbroker = amqp://jobs:{amqp.secret}@rabbitmq:5672/jobs\n",
                      [mysql, amqp]),
            text_file("app/vault.env", f"VAULT_ADDR=https://vault.internal:8200\n"
                      f"VAULT_TOKEN={vault.secret}\n", [vault]),
            text_file("app/do.env", f"DIGITALOCEAN_TOKEN={do.secret}\n", [do]),
            *self.fillers("", 6),
        ])

    def filler_layer(self, count: int) -> list[Member]:
        return with_parent_dirs(self.fillers("", count))

    def broken_layers(self) -> tuple[list[Member], list[Member], list[Member], list[Member]]:
        s = self.secrets
        gho, xapp = s.token("github-oauth-token"), s.token("slack-app-token")
        gldt, azure = s.token("gitlab-deploy-token"), s.token("azure-storage-account-key")
        dsa = s.pem("private-key-dsa", 400)
        good0 = with_parent_dirs([
            text_file("etc/broken/.env", f"GITHUB_OAUTH_TOKEN={gho.secret}\n", [gho]),
            *self.fillers("", 5),
        ])
        truncated1 = self.filler_layer(60)
        mismatched2 = with_parent_dirs([
            text_file("app/slack.env", f"SLACK_APP_TOKEN={xapp.secret}\n", [xapp],
                      skip=SKIP_DIGEST_MISMATCH),
            *self.fillers("", 5),
        ])
        good3 = with_parent_dirs([
            text_file("app/final.env",
                      f"CI_DEPLOY_PASSWORD={gldt.secret}\nAZURE_STORAGE_CONNECTION_STRING="
                      f"DefaultEndpointsProtocol=https;AccountName=acmeassets;"
                      f"AccountKey={azure.secret};EndpointSuffix=core.windows.net\n",
                      [gldt, azure]),
            text_file("app/keys/legacy_dsa", dsa.secret + "\n", [dsa]),
            *self.fillers("", 5),
        ])
        return good0, truncated1, mismatched2, good3

    def dir_files(self) -> list[Member]:
        s = self.secrets
        xoxp, dckr = s.token("slack-user-token"), s.token("dockerhub-pat")
        pg = s.password("postgres-connection-string")
        mongo = s.password("mongodb-connection-string")
        pgp = s.pem("private-key-pgp", 700)
        enc = s.pem("private-key-pkcs8-encrypted", 1200)
        sa_key = s.pem("private-key-pkcs8", json_escaped=True)
        npm_excluded, bin_secret = s.token("npm-access-token"), s.token("stripe-secret-key")
        sa_key_id = Plant("gcp-service-account-key", self.rng.randbytes(20).hex())
        sa_json = json.dumps({
            "type": "service_account", "project_id": "acme-prod",
            "private_key_id": sa_key_id.secret,
            "private_key": "PLACEHOLDER",
            "client_email": "ci@acme-prod.iam.gserviceaccount.com",
        }, indent=2).replace("PLACEHOLDER", sa_key.secret) + "\n"
        return [
            text_file(".env", f"SLACK_USER_TOKEN={xoxp.secret}\nDOCKERHUB_TOKEN={dckr.secret}\n",
                      [xoxp, dckr]),
            Member("link-to-env", kind="symlink", link=".env", plants=[xoxp, dckr],
                   skip=SKIP_SYMLINK),
            text_file("config/database.yml",
                      "production:\n"
                      f"  primary: postgresql://app:{pg.secret}@pg.internal:5432/app\n"
                      f"  events: mongodb://events:{mongo.secret}@mongo-0.mongo:27017/events\n",
                      [pg, mongo]),
            text_file("config/gcp-sa.json", sa_json, [sa_key, sa_key_id]),
            text_file("keys/release-signing.asc", pgp.secret + "\n", [pgp]),
            text_file("keys/backup.p8", enc.secret + "\n", [enc]),
            text_file("node_modules/lib/.npmrc", f"//registry.npmjs.org/:_authToken="
                      f"{npm_excluded.secret}\n",
                      [npm_excluded, Plant("npmrc-auth-token", npm_excluded.secret)],
                      skip=SKIP_EXCLUDED),
            self.binary_with("bin/tool", bin_secret, f"sk={bin_secret.secret}"),
            text_file("README.md", "# dir-demo\n\n" + self.filler.prose(12)),
            text_file("empty.txt", ""),
            *self.fillers("", 8),
        ]


    def semantics_image(self) -> tuple[list[Layer], dict, list[Plant], list[tuple[int, str, str]]]:
        """The image "semantics": (layers, config without rootfs, the secrets planted in the
        config, the skips expected as (layer, path, reason fragment))."""
        s, f, r = self.secrets, self.filler, self.rng

        # Layer 0: the base. gzip. Files that later layers remove in every way there is.
        wh_akid, wh_aks = s.token("aws-access-key-id"), s.token("aws-secret-access-key")
        dir_gho, dir_gldt = s.token("github-oauth-token"), s.token("gitlab-deploy-token")
        opq_bot = s.token("slack-bot-token")
        old_sk = s.token("stripe-secret-key")
        replaced_pg = s.password("postgres-connection-string")
        link_do = s.token("digitalocean-token")
        readd_old = s.token("sendgrid-api-key")
        kept_vault = s.token("hashicorp-vault-token")
        layer0 = [
            text_file("etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'),
            text_file("etc/app/secret.env", f"AWS_ACCESS_KEY_ID={wh_akid.secret}\n"
                      f"AWS_SECRET_ACCESS_KEY={wh_aks.secret}\n", [wh_akid, wh_aks]),
            text_file("opt/olddir/creds.txt", f"oauth_token: {dir_gho.secret}\n", [dir_gho]),
            text_file("opt/olddir/sub/deploy.env", f"CI_DEPLOY_PASSWORD={dir_gldt.secret}\n",
                      [dir_gldt]),
            text_file("srv/cache/token.txt", f"SLACK_BOT_TOKEN={opq_bot.secret}\n", [opq_bot]),
            text_file("app/config.env", f"APP_ENV=production\nSTRIPE_SECRET_KEY={old_sk.secret}\n",
                      [old_sk]),
            text_file("var/lib/appdata/db.conf",
                      f"url = postgres://app:{replaced_pg.secret}@db.internal:5432/app\n",
                      [replaced_pg]),
            text_file("usr/local/etc/app/api.env", f"DIGITALOCEAN_TOKEN={link_do.secret}\n",
                      [link_do]),
            text_file("etc/readd.env", f"SENDGRID_API_KEY={readd_old.secret}\n", [readd_old]),
            text_file("etc/vault/agent.env", f"VAULT_ADDR=https://vault.internal:8200\n"
                      f"VAULT_TOKEN={kept_vault.secret}\n", [kept_vault]),
            *self.fillers("", 10),
        ]

        # Layer 1: RUN with a build argument. zstd. Two whiteouts; the secrets it wrote are also
        # in its history entry, so its created_by is reported redacted.
        run_ghp, run_npm = s.token("github-pat"), s.token("npm-access-token")
        run_npmrc = Plant("npmrc-auth-token", run_npm.secret)
        run_line = (f"RUN |1 GH_TOKEN={run_ghp.secret} /bin/sh -c mkdir -p /root/.config/gh && "
                    'echo "github.com: {oauth_token: $GH_TOKEN}" > /root/.config/gh/hosts.yml && '
                    f'echo "//registry.npmjs.org/:_authToken={run_npm.secret}" > /root/.npmrc && '
                    "npm ci --omit=dev")
        layer1 = [
            text_file("opt/.wh.olddir", ""),
            text_file("etc/.wh.readd.env", ""),
            text_file("root/.config/gh/hosts.yml",
                      f"github.com:\n    user: ci-bot\n    oauth_token: {run_ghp.secret}\n"
                      "    git_protocol: https\n", [run_ghp]),
            text_file("root/.npmrc", f"//registry.npmjs.org/:_authToken={run_npm.secret}\n",
                      [run_npm, run_npmrc]),
            *self.fillers("", 10),
        ]

        # Layer 2: clean-up. Uncompressed. A whiteout, an opaque directory with a new file in the
        # same layer (which stays), a regular file where a directory was.
        opq_new, file_hf = s.token("slack-bot-token"), s.token("huggingface-token")
        layer2 = [
            text_file("etc/app/.wh.secret.env", ""),
            text_file("srv/cache/.wh..wh..opq", ""),
            text_file("srv/cache/new-token.txt", f"SLACK_BOT_TOKEN={opq_new.secret}\n", [opq_new]),
            text_file("var/lib/appdata", f"HF_TOKEN={file_hf.secret}\n", [file_hf]),
            *self.fillers("", 8),
        ]

        # Layer 3: new configuration. gzip. An overwrite, a re-added file, a symlink where a
        # directory was, an archive that layer 4 deletes.
        new_sk, readd_new = s.token("stripe-secret-key"), s.token("sendgrid-api-key")
        release_glrt = s.token("gitlab-runner-token")
        layer3 = [
            text_file("app/config.env", f"APP_ENV=production\nSTRIPE_SECRET_KEY={new_sk.secret}\n",
                      [new_sk]),
            text_file("etc/readd.env", f"SENDGRID_API_KEY={readd_new.secret}\n", [readd_new]),
            Member("usr/local/etc/app", kind="symlink", link="/etc/app"),
            archive_member(archive_file("opt/releases/old-release.tar.gz", [
                text_entry("release/.env", f"RUNNER_TOKEN={release_glrt.secret}\n",
                           [release_glrt])], "tar.gz")),
            *self.fillers("", 8),
        ]

        # Layer 4: the application's archives. zstd.
        manifest_mf = "Manifest-Version: 1.0\nCreated-By: Maven JAR Plugin 3.3.0\n"
        boot_pw, inner_ghs = s.password("spring-datasource-password"), s.token("github-app-token")
        deep_xapp, class_rk = s.token("slack-app-token"), s.token("stripe-restricted-key")
        deeper = archive_file("lib/deeper.jar", [
            text_entry("META-INF/MANIFEST.MF", manifest_mf),
            text_entry("secret.properties", f"slack.app-token={deep_xapp.secret}\n", [deep_xapp]),
        ], "zip")
        inner = archive_file("BOOT-INF/lib/inner.jar", [
            text_entry("META-INF/MANIFEST.MF", manifest_mf),
            text_entry("config.properties", f"github.app.token={inner_ghs.secret}\n", [inner_ghs]),
            deeper,
        ], "zip")
        inner.stored = True  # as Spring Boot stores nested jars
        class_data = (b"\xca\xfe\xba\xbe\x00\x00\x00\x3d" + r.randbytes(300) + b"\x01\x00\x20"
                      + class_rk.secret.encode() + r.randbytes(200))
        jar = archive_file("app/app.jar", [
            Entry("META-INF/"),
            text_entry("META-INF/MANIFEST.MF", manifest_mf + "Main-Class: org.springframework."
                       "boot.loader.launch.JarLauncher\nStart-Class: com.acme.App\n"),
            Entry("BOOT-INF/"),
            Entry("BOOT-INF/classes/"),
            text_entry("BOOT-INF/classes/application.properties",
                       "server.port=8080\nspring.datasource.username=app\n"
                       f"spring.datasource.password={boot_pw.secret}\n", [boot_pw]),
            Entry("BOOT-INF/classes/com/acme/Config.class", class_data, [class_rk],
                  skip=SKIP_BINARY),
            Entry("BOOT-INF/lib/"),
            inner,
        ], "zip")

        apk_gkey = s.token("google-api-key")
        apk = archive_file("app/mobile/app-release.apk", [
            Entry("AndroidManifest.xml", b"\x03\x00\x08\x00" + r.randbytes(400)),
            Entry("classes.dex", b"dex\n035\x00" + r.randbytes(600)),
            text_entry("assets/google-services.json",
                       '{\n  "client": [{\n    "api_key": [{"current_key": '
                       f'"{apk_gkey.secret}"}}]\n  }}]\n}}\n', [apk_gkey]),
        ], "zip")

        whl_fg = s.token("github-fine-grained-pat")
        whl = archive_file("app/wheels/acme_client-1.4.0-py3-none-any.whl", [
            text_entry("acme_client/__init__.py", '"""ACME API client."""\n__version__ = "1.4.0"\n'),
            text_entry("acme_client/_defaults.py", f'DEFAULT_TOKEN = "{whl_fg.secret}"\n', [whl_fg]),
            text_entry("acme_client-1.4.0.dist-info/METADATA",
                       "Metadata-Version: 2.1\nName: acme-client\nVersion: 1.4.0\n"),
            text_entry("acme_client-1.4.0.dist-info/WHEEL", "Wheel-Version: 1.0\n"
                       "Generator: bdist_wheel (0.42.0)\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        ], "zip")

        site_key = s.token("google-api-key")
        site = archive_file("app/static/site.tar.gz", [
            text_entry("site/index.html", "<!doctype html>\n<title>acme</title>\n<p>"
                       + f.words(30) + "</p>\n"),
            text_entry("site/assets/config.js", f'window.MAPS_API_KEY = "{site_key.secret}";\n',
                       [site_key]),
        ], "tar.gz")

        bundle_dckr, plugin_glpat = s.token("dockerhub-pat"), s.token("gitlab-pat")
        plugin = archive_file("vendor/plugin.tgz", [
            text_entry("plugin/.env", f"GITLAB_TOKEN={plugin_glpat.secret}\n", [plugin_glpat]),
        ], "tar.gz")
        bundle = archive_file("app/bundle.tar.zst", [
            text_entry("bundle/registry.env", f"DOCKERHUB_TOKEN={bundle_dckr.secret}\n",
                       [bundle_dckr]),
            plugin,
            text_entry("bundle/README", f.prose(6)),
        ], "tar.zst")

        # A jar cut inside its second member's (stored) data, before the secret: no central
        # directory, and the secret's bytes are not in the file.
        broken_ghs = s.token("github-app-token")
        broken_entries = [
            text_entry("META-INF/MANIFEST.MF", manifest_mf),
            Entry("config.properties", (f.config(40) + f"github.app.token={broken_ghs.secret}\n")
                  .encode(), [broken_ghs], skip=SKIP_CORRUPT, stored=True),
        ]
        full = zip_bytes(broken_entries)
        cut = full.index(broken_ghs.secret.encode()) - 64
        assert cut > full.index(b"config.properties") + len("config.properties")
        broken = Entry("app/lib/broken.jar", full[:cut], inner=inner_of(broken_entries))

        # A zip bomb: a small member with a secret (read), ~4 MiB of one repeated text line
        # (deflated ~340:1; the limit is hit inside it), then a member with a secret (skipped).
        bomb_first, bomb_late = s.token("slack-user-token"), s.token("stripe-secret-key")
        line = "2024-01-01T00:00:00.000Z INFO [health] GET /healthz 200 OK\n"
        bomb = archive_file("app/data/bomb.zip", [
            text_entry("README.txt", f"health log export\nSLACK_USER_TOKEN={bomb_first.secret}\n",
                       [bomb_first]),
            Entry("data/health.log", (line * (BOMB_MEMBER_BYTES // len(line))).encode()),
            text_entry("config/late.env", f"STRIPE_SECRET_KEY={bomb_late.secret}\n", [bomb_late],
                       skip=SKIP_ZIP_BOMB),
        ], "zip")
        limit = max(ARCHIVE_RATIO_FLOOR_BYTES, MAX_ARCHIVE_RATIO * len(bomb.data))
        assert limit < BOMB_MEMBER_BYTES - len(line), (len(bomb.data), limit)

        layer4 = [
            text_file("opt/releases/.wh.old-release.tar.gz", ""),
            archive_member(jar),
            archive_member(apk),
            archive_member(whl),
            archive_member(site),
            archive_member(bundle),
            archive_member(broken),
            archive_member(bomb),
            *self.fillers("", 6),
        ]
        # Every other archive stays far below the expansion limit.
        for a in (jar, apk, whl, site, bundle):
            assert len(a.data) < ARCHIVE_RATIO_FLOOR_BYTES // 8
        skips = [
            (4, "app/app.jar!BOOT-INF/lib/inner.jar!lib/deeper.jar", "depth"),
            (4, "app/lib/broken.jar", "corrupt"),
            (4, "app/data/bomb.zip", "zip-bomb"),
        ]

        # The config: secrets in Env, a label, Entrypoint and Cmd, and in the history entries that
        # set them (empty_layer) and in the RUN of layer 1.
        env_sk, env_hf = s.token("stripe-secret-key"), s.token("huggingface-token")
        label_hook = s.token("slack-webhook-url")
        entry_glpat, cmd_sg = s.token("gitlab-pat"), s.token("sendgrid-api-key")
        entrypoint = ["/app/bin/server", f"--gitlab-token={entry_glpat.secret}"]
        cmd = ["serve", "--sendgrid-key", cmd_sg.secret]
        label_key = "com.acme.alerts.slack-webhook"

        def h(created_by: str | None, empty: bool = False, **extra) -> dict:
            entry = {"created": CREATED, **({"created_by": created_by} if created_by else {}),
                     **extra}
            return {**entry, "empty_layer": True} if empty else entry

        history = [
            h("ADD base-rootfs.tar.gz / # gzip"),
            h("ARG BUILD_ID=20240101", empty=True),
            h(f"ENV STRIPE_API_KEY={env_sk.secret} HF_TOKEN={env_hf.secret}", empty=True),
            h(None, empty=True, comment="buildkit.dockerfile.v0"),  # no created_by: not scanned
            h(run_line),
            h(f"LABEL {label_key}=https://{label_hook.secret}", empty=True),
            h("RUN /bin/sh -c rm -rf /etc/app/secret.env /srv/cache/* /var/lib/appdata "
              "# uncompressed"),
            h("COPY config/ / # gzip"),
            h("WORKDIR /srv/app", empty=True),
            h("COPY dist/ /app/ # zstd, archives"),
            h("USER app", empty=True),
            h("ENTRYPOINT " + json.dumps(entrypoint, separators=(",", ":")), empty=True),
            h("CMD " + json.dumps(cmd, separators=(",", ":")), empty=True),
        ]
        config = config_dict(history, config={
            "User": "app",
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    f"STRIPE_API_KEY={env_sk.secret}", f"HF_TOKEN={env_hf.secret}",
                    "APP_ENV=production"],
            "Entrypoint": entrypoint,
            "Cmd": cmd,
            "WorkingDir": "/srv/app",
            "Labels": {"org.opencontainers.image.source": "https://github.com/acme/semantics",
                       label_key: f"https://{label_hook.secret}", "com.acme.team": "payments"},
        })
        config_plants = [env_sk, env_hf, label_hook, entry_glpat, cmd_sg, run_ghp, run_npm,
                         run_npmrc]
        layers = [
            Layer(with_parent_dirs(layer0), "gzip", ""),
            Layer(with_parent_dirs(layer1), "zstd", ""),
            Layer(with_parent_dirs(layer2), "none", ""),
            Layer(with_parent_dirs(layer3), "gzip", ""),
            Layer(with_parent_dirs(layer4), "zstd", ""),
        ]
        made = [e["created_by"] for e in history if not e.get("empty_layer")]
        assert len(made) == len(layers)
        for layer, created_by in zip(layers, made):
            layer.created_by = created_by
        return layers, config, config_plants, skips

    def multiarch_images(self) -> dict:
        """The members of the multi-platform image: a shared base layer, one layer per platform,
        an attestation layer; and the secrets of the configs."""
        s = self.secrets
        amqp, ghs = s.password("amqp-connection-string"), s.token("github-app-token")
        vault, do = s.token("hashicorp-vault-token"), s.token("digitalocean-token")
        att_ghp, env_dckr = s.token("github-pat"), s.token("dockerhub-pat")
        base = with_parent_dirs([
            text_file("etc/base/.env", f"BROKER_URL=amqp://app:{amqp.secret}@mq.internal:5672/app\n",
                      [amqp]),
            text_file("opt/shared/creds.json", f'{{"token": "{ghs.secret}"}}\n', [ghs]),
            *self.fillers("", 6),
        ])
        amd64 = with_parent_dirs([
            text_file("opt/shared/.wh.creds.json", ""),
            text_file("app/amd64.env", f"VAULT_TOKEN={vault.secret}\n", [vault]),
            *self.fillers("", 4),
        ])
        arm64 = with_parent_dirs([
            text_file("app/arm64.env", f"DIGITALOCEAN_TOKEN={do.secret}\n", [do]),
            *self.fillers("", 4),
        ])
        provenance = json.dumps({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "predicate": {"invocation": {"parameters": {
                "args": {"build-arg:GITHUB_TOKEN": att_ghp.secret}}}},
        }, indent=2) + "\n"
        attestation = with_parent_dirs([
            text_file("attestations/provenance.json", provenance, [att_ghp],
                      skip=SKIP_ATTESTATION),
        ])
        return {"base": base, "amd64": amd64, "arm64": arm64, "attestation": attestation,
                "env_plant": env_dckr}


# Near misses: placeholders and templates that no built-in rule may report.
_DECOYS = """\
# Copy to .env and fill in. Nothing below is a real credential.
AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX
AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}
GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
GITLAB_TOKEN=glpat-<your token here>
SLACK_BOT_TOKEN=xoxb-your-bot-token
SLACK_WEBHOOK=https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX
STRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx
DATABASE_URL=postgres://postgres:postgres@localhost:5432/postgres
MONGO_URL=mongodb://user:${MONGO_PASSWORD}@localhost:27017
REDIS_URL=redis://localhost:6379/0
BROKER_URL=amqp://guest:guest@localhost:5672//
NPM_TOKEN=${NPM_TOKEN}
-----BEGIN RSA PRIVATE KEY-----
<paste your key here>
-----END RSA PRIVATE KEY-----
"""


# --- Output ----------------------------------------------------------------------------------

_OUTPUTS = ("oci-demo", "oci-broken", "dir-demo", "layers", "docker-archive.tar", "oci-semantics",
            "oci-multiarch", "golden.json")


def write_dir(root: pathlib.Path, members: list[Member]) -> None:
    root.mkdir(parents=True)
    for m in members:
        path = root / m.path
        path.parent.mkdir(parents=True, exist_ok=True)
        if m.kind == "file":
            path.write_bytes(m.data)
        elif m.kind == "symlink":
            os.symlink(m.link, path)
        else:
            raise ValueError(f"{m.kind} entries are not written to directories")


def generate(outdir: pathlib.Path, seed: int) -> Golden:
    corpus, golden = Corpus(seed), Golden(seed)
    outdir.mkdir(parents=True, exist_ok=True)
    for name in _OUTPUTS:
        p = outdir / name
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()

    # oci-demo and docker-archive: the same image.
    demo = corpus.demo_layers()
    demo_config = config_dict(history_of([layer.created_by for layer in demo]))
    tars = write_oci_image(outdir / "oci-demo", "demo", demo, demo_config)
    write_docker_archive(outdir / "docker-archive.tar", "demo:latest", demo_config, tars)
    golden.target("oci-demo", "oci:OUTDIR/oci-demo:demo", len(demo), len(demo))
    golden.target("docker-archive", "docker-archive:OUTDIR/docker-archive.tar", len(demo),
                  len(demo))
    for target in ("oci-demo", "docker-archive"):
        golden.add_image(target, [layer.members for layer in demo], demo_config, [])
    check_demo(golden)

    # Standalone layers: one small secret-bearing tar in three encodings, three malformed blobs.
    layers_dir = outdir / "layers"
    layers_dir.mkdir()
    secrets = corpus.secrets_layer()
    secrets_tar = tar_bytes(secrets)
    for target, name, blob in (("layer-gz", "secrets.tar.gz", gzip_bytes(secrets_tar)),
                               ("layer-zst", "secrets.tar.zst", zstd_bytes(secrets_tar)),
                               ("layer-tar", "secrets.tar", secrets_tar)):
        (layers_dir / name).write_bytes(blob)
        golden.target(target, f"layer:OUTDIR/layers/{name}", 1, 1)
        golden.add_members(target, 0, secrets)

    truncated = gzip_bytes(tar_bytes(corpus.filler_layer(60)))
    (layers_dir / "truncated.tar.gz").write_bytes(truncated[: len(truncated) // 2])
    golden.target("layer-truncated-gz", "layer:OUTDIR/layers/truncated.tar.gz", 1, 1)
    golden.error("layer-truncated-gz", 0, "gzip")

    big_filler = tar_bytes(corpus.filler_layer(400))
    assert len(big_filler) > 2 * ZSTD_MAX_BLOCK_BYTES
    (layers_dir / "bad-frame.tar.zst").write_bytes(
        corrupt_second_zstd_block(zstd_bytes(big_filler)))
    golden.target("layer-bad-frame-zst", "layer:OUTDIR/layers/bad-frame.tar.zst", 1, 1)
    golden.error("layer-bad-frame-zst", 0, "zstd")

    # Three files, no directory entries: the second header follows the first file's data.
    three = [dataclasses.replace(m, path=f"file-{i}.txt")
             for i, m in enumerate(corpus.fillers("", 3))]
    second_header = TAR_BLOCK_BYTES + len(three[0].data) + (-len(three[0].data) % TAR_BLOCK_BYTES)
    (layers_dir / "bad-header.tar").write_bytes(
        corrupt_tar_checksum(tar_bytes(three), second_header))
    golden.target("layer-bad-header-tar", "layer:OUTDIR/layers/bad-header.tar", 1, 1)
    golden.error("layer-bad-header-tar", 0, "tar")

    # oci-broken: good, truncated gzip, digest mismatch, good.
    good0, trunc1, mismatch2, good3 = corpus.broken_layers()
    oci = OciLayout(outdir / "oci-broken")
    tars = [tar_bytes(m) for m in (good0, trunc1, mismatch2, good3)]
    blob0 = gzip_bytes(tars[0])
    blob1 = gzip_bytes(tars[1])
    blob1 = blob1[: len(blob1) // 2]
    blob2 = gzip_bytes(tars[2])
    # Same size, still a valid gzip of the same tar, but not the bytes the digest names.
    blob2_stored = (blob2[:GZIP_MTIME_OFFSET_BYTES] + b"\x01\x02\x03\x04"
                    + blob2[GZIP_MTIME_OFFSET_BYTES + 4 :])
    blob3 = zstd_bytes(tars[3])
    descriptors = [
        {"mediaType": MT_LAYER_GZIP, "digest": oci.put_blob(blob0), "size": len(blob0)},
        {"mediaType": MT_LAYER_GZIP, "digest": oci.put_blob(blob1), "size": len(blob1)},
        {"mediaType": MT_LAYER_GZIP, "digest": oci.put_blob(blob2, stored=blob2_stored),
         "size": len(blob2)},
        {"mediaType": MT_LAYER_ZSTD, "digest": oci.put_blob(blob3), "size": len(blob3)},
    ]
    broken_config = config_dict(history_of(["ADD good.tar /", "ADD truncated.tar /",
                                            "ADD tampered.tar /", "ADD good.tar.zst /"]))
    oci.add_image("broken", config_bytes(broken_config, tars), descriptors)
    oci.finish()
    golden.target("oci-broken", "oci:OUTDIR/oci-broken:broken", 4, 4)
    # The tampered blob is scanned as it streams and the mismatch shows only at its end: the
    # layer is reported as failed, and what was found in it is discarded (those bytes are not
    # the layer's). Layer 1 fails, so whether layer 0's files reach the final image is unknown.
    golden.add_image("oci-broken", [good0, trunc1, mismatch2, good3], broken_config, [],
                     failed=frozenset({1, 2}))
    golden.error("oci-broken", 1, "gzip")
    golden.error("oci-broken", 2, "digest")
    assert all(e["present_in_final_image"] is None for e in golden.of("oci-broken", "etc/broken/.env"))
    assert not golden.of("oci-broken", "app/slack.env")

    # dir-demo: a plain directory.
    files = corpus.dir_files()
    write_dir(outdir / "dir-demo", files)
    golden.target("dir-demo", "dir:OUTDIR/dir-demo", 1)
    golden.add_members("dir-demo", None, files)  # a directory has no layer: layer_index null

    # oci-semantics: removal by later layers, config secrets, nested archives.
    layers, config, config_plants, skips = corpus.semantics_image()
    write_oci_image(outdir / "oci-semantics", "semantics", layers, config)
    golden.target("oci-semantics", "oci:OUTDIR/oci-semantics:semantics", len(layers),
                  len(layers))
    golden.add_image("oci-semantics", [layer.members for layer in layers], config, config_plants)
    for layer_index, path, contains in skips:
        golden.skip("oci-semantics", layer_index, path, contains)
    check_semantics(golden, config_plants)

    # oci-multiarch: index.json -> image index -> amd64, arm64/v8 (shared base), attestation.
    write_multiarch(outdir / "oci-multiarch", corpus.multiarch_images(), golden)

    golden.write(outdir / "golden.json")
    return golden


def write_multiarch(root: pathlib.Path, parts: dict, golden: Golden) -> None:
    """An OCI layout whose index.json names one image index (ref "multi") listing a linux/amd64
    and a linux/arm64/v8 image that share their base layer blob, and an attestation manifest."""
    oci = OciLayout(root)
    base_tar = tar_bytes(parts["base"])
    base = oci.put_layer(gzip_bytes(base_tar), MT_LAYER_GZIP)  # one blob, listed twice
    dckr = parts["env_plant"]
    target = "oci-multiarch"
    golden.target(target, "oci:OUTDIR/oci-multiarch:multi", 4, 3)
    manifests = []
    for arch, variant, compression in (("amd64", None, "zstd"), ("arm64", "v8", "gzip")):
        top_tar = tar_bytes(parts[arch])
        top = oci.put_layer(_COMPRESS[compression](top_tar), _MEDIA_TYPE[compression])
        config = config_dict([
            {"created": CREATED, "created_by": "ADD base.tar.gz / # shared base layer"},
            {"created": CREATED, "created_by": f"ENV DOCKERHUB_TOKEN={dckr.secret}",
             "empty_layer": True},
            {"created": CREATED, "created_by": f"COPY app-{arch}.env /app/ # {compression}"},
        ], arch=arch, variant=variant, config={
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    f"DOCKERHUB_TOKEN={dckr.secret}"],
            "Cmd": ["/app/start.sh"],
        })
        platform = {"architecture": arch, "os": "linux", **({"variant": variant} if variant else {})}
        manifests.append(oci.manifest(config_bytes(config, [base_tar, top_tar]), [base, top],
                                      platform))
        golden.add_image(target, [parts["base"], parts[arch]], config, [dckr])
    # BuildKit's attestation manifest: a pseudo-image for the amd64 image; never scanned.
    att_tar = tar_bytes(parts["attestation"])
    att_config = json_bytes({"architecture": "unknown", "os": "unknown", "config": {},
                             "rootfs": {"type": "layers",
                                        "diff_ids": ["sha256:" + sha256_hex(att_tar)]}})
    manifests.append(oci.manifest(
        att_config, [oci.put_layer(gzip_bytes(att_tar), MT_LAYER_GZIP)],
        {"architecture": "unknown", "os": "unknown"},
        {"vnd.docker.reference.digest": manifests[0]["digest"],
         "vnd.docker.reference.type": "attestation-manifest"}))
    golden.add_members(target, 0, parts["attestation"])
    oci.add_index("multi", manifests)
    oci.finish()

    by_platform = {e["platform"]: e for e in golden.of(target, "opt/shared/creds.json")}
    assert by_platform["linux/amd64"]["removed_by"] == {"layer_index": 1, "reason": "whiteout"}
    assert by_platform["linux/arm64/v8"]["present_in_final_image"] is True
    assert len(golden.of(target, "etc/base/.env")) == 2
    assert len(golden.of(target, "config:Env[1]")) == 2


def _removed(golden: Golden, target: str, path: str, layer: int) -> dict | None:
    [entry] = {json.dumps(e["removed_by"]): e for e in golden.of(target, path)
               if e["layer_index"] == layer}.values()
    return entry["removed_by"]


def check_demo(golden: Golden) -> None:
    """The generic presence code against the demo image's planted cases."""
    for target in ("oci-demo", "docker-archive"):
        assert _removed(golden, target, "opt/legacy/oldfile", 0) == {"layer_index": 1,
                                                                      "reason": REMOVED_WHITEOUT}
        assert _removed(golden, target, "srv/somedir/notify.conf", 0) == {
            "layer_index": 3, "reason": REMOVED_OPAQUE}
        assert _removed(golden, target, "etc/app/.env", 0) == {"layer_index": 3,
                                                                "reason": REMOVED_OVERWRITTEN}
        assert _removed(golden, target, "etc/app/.env", 3) is None
        assert all(e["platform"] == "linux/amd64" and e["created_by"]
                   for e in golden.expected if e["target"] == target)
        assert sum(not e["present_in_final_image"] for e in golden.expected
                   if e["target"] == target) == 4  # oldfile, notify.conf, the old .env's two keys


def check_semantics(golden: Golden, config_plants: list[Plant]) -> None:
    """The generic presence, attribution and config code against oci-semantics' planted cases."""
    t = "oci-semantics"
    wh, opq, over = REMOVED_WHITEOUT, REMOVED_OPAQUE, REMOVED_OVERWRITTEN
    cases = [
        ("etc/app/secret.env", 0, {"layer_index": 2, "reason": wh}),
        ("opt/olddir/creds.txt", 0, {"layer_index": 1, "reason": wh}),
        ("opt/olddir/sub/deploy.env", 0, {"layer_index": 1, "reason": wh}),
        ("srv/cache/token.txt", 0, {"layer_index": 2, "reason": opq}),
        ("srv/cache/new-token.txt", 2, None),
        ("app/config.env", 0, {"layer_index": 3, "reason": over}),
        ("app/config.env", 3, None),
        ("var/lib/appdata/db.conf", 0, {"layer_index": 2, "reason": over}),
        ("var/lib/appdata", 2, None),
        ("usr/local/etc/app/api.env", 0, {"layer_index": 3, "reason": over}),
        ("etc/readd.env", 0, {"layer_index": 1, "reason": wh}),
        ("etc/readd.env", 3, None),
        ("etc/vault/agent.env", 0, None),
        ("opt/releases/old-release.tar.gz!release/.env", 3, {"layer_index": 4, "reason": wh}),
        ("app/app.jar!BOOT-INF/lib/inner.jar!config.properties", 4, None),
    ]
    for path, layer, removed_by in cases:
        assert _removed(golden, t, path, layer) == removed_by, (path, layer)
    # Layer 1's created_by: both secrets masked, the npm token's two identical ranges once.
    ghp, npm = (p for p in config_plants if p.rule_id in ("github-pat", "npm-access-token"))
    [run] = {e["created_by"] for e in golden.of(t, "root/.npmrc")}
    assert run.startswith("RUN |1 GH_TOKEN=ghp_\u202640 /bin/sh -c mkdir"), run
    assert '_authToken=npm_\u202640" > /root/.npmrc' in run and ghp.secret not in run
    assert npm.secret not in run
    assert {e["created_by"] for e in golden.of(t, "etc/app/secret.env")} == {
        "ADD base-rootfs.tar.gz / # gzip"}
    assert len(golden.of(t, "history[4].created_by")) == 3  # ghp, npm twice
    assert len(golden.of(t, "history[2].created_by")) == 2  # the ENV line (k counts empty_layer)
    for name in ("config:Env[1]", "config:Env[2]", "config:Cmd", "config:Entrypoint",
                 "config:Labels[com.acme.alerts.slack-webhook]", "history[5].created_by",
                 "history[11].created_by", "history[12].created_by"):
        assert len(golden.of(t, name)) == 1, name
    assert all(e["layer_index"] is None and e["present_in_final_image"] and e["created_by"] is None
               for e in golden.expected if e["path"].startswith(("config:", "history[")))
    not_expected = {e["reason"] for e in golden.not_expected if e["target"] == t}
    assert {SKIP_DEPTH, SKIP_ZIP_BOMB, SKIP_CORRUPT, SKIP_BINARY} <= not_expected
    assert golden.of(t, "app/data/bomb.zip!README.txt")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", type=pathlib.Path)
    ap.add_argument("--seed", type=int, help="default: a random seed, printed")
    args = ap.parse_args(argv)
    if shutil.which("zstd") is None:
        print("error: the zstd command-line tool is required", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"seed: {seed}")
    golden = generate(args.outdir, seed)
    total = sum(p.stat().st_size for p in args.outdir.rglob("*") if p.is_file()
                and not p.is_symlink())
    print(f"wrote {args.outdir}: {len(golden.expected)} expected findings, "
          f"{len(golden.not_expected)} that must not be reported, "
          f"{len(golden.expected_errors)} expected errors, {len(golden.expected_skips)} expected "
          f"skips, {total / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
