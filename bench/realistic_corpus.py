#!/usr/bin/env python3
"""Builds the benchmark suite's corpus: a realistic container image and two synthetic layers.

Usage:
    python3 bench/realistic_corpus.py [--cache DIR] [--only image|worst-case|big] [--force]

Everything goes under CACHE/realistic/ (default ~/.cache/layersift-bench, or
$LAYERSIFT_BENCH_CACHE); nothing is written into the repository. Each part is built once, in a
temporary directory renamed into place when complete, and reused by later runs.

    image/layers/NN-NAME.tar    the uncompressed layers of the realistic image, in order:
                                01-debian-base   debootstrap --variant=minbase bookworm
                                02-build-tools   build-essential, git, curl, python3 installed
                                                 into it with apt (apt lists removed: whiteouts)
                                03-node-app      npm install of a dozen popular packages
                                04-app-secrets   the application, with planted fake secrets
                                05-cleanup       deletes one secret file (a whiteout) and adds one
    image/oci-gzip/             OCI layout, ref "realistic", the layers gzip -6
    image/oci-zstd/             the same image with zstd -3 layers
    image/planted.json          where every planted secret is: rule, path, line, layer, sha256
                                of the value (never the value itself)
    image/build-info.json       sizes, file counts, tool versions, the mirror used
    worst-case/worst-case.tar.gz   text files dense with near-miss keywords (token, password,
                                   aws, key=) that no rule should confirm
    big/big-2g.tar.gz              the image's layers repeated under copyN/ to >= 2 GB

Needs: root (debootstrap and chroot), debootstrap, npm, gzip, zstd and network access to the
Debian mirror named in this machine's apt sources and to the npm registry.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import pathlib
import random
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "corpus"))
import generate as corpus  # noqa: E402  (the test corpus's secret generator and OCI writer)

# --- Named limits and constants -------------------------------------------------------------

SUITE = "bookworm"
REF_NAME = "realistic"
GZIP_LEVEL = 6
ZSTD_LEVEL = 3
COPY_BUFFER_BYTES = 1 << 20
BIG_LAYER_MIN_BYTES = 2_000_000_000    # the memory-scaling layer: at least 2 GB uncompressed
WORST_CASE_FILES = 16
WORST_CASE_FILE_BYTES = 16 << 20       # 16 files of 16 MiB: 256 MiB of dense near-misses
WORST_CASE_LINE_POOL = 50_000          # distinct lines the worst-case files are drawn from
BUILD_TOOLS = ["build-essential", "git", "curl", "ca-certificates", "python3"]
NPM_PACKAGES = ["typescript", "lodash", "react", "react-dom", "express", "webpack", "eslint",
                "@babel/core", "moment", "axios", "rxjs", "prettier"]
CORPUS_VERSION = 1  # bump when the recipe changes: cached parts built by an older one are rebuilt


def log(message: str) -> None:
    print(f"corpus: {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, check=True, **kw)


def sha256_file(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(COPY_BUFFER_BYTES):
            h.update(block)
    return h.hexdigest()


# --- The Debian mirror, from this machine's apt sources ---------------------------------------


def debian_mirror() -> str:
    """The first http(s) URI of a Debian archive (not the security archive) in apt's sources,
    in deb822 (.sources) or one-line (.list) form."""
    candidates: list[str] = []
    sources = pathlib.Path("/etc/apt")
    files = [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*.list")),
             *sorted((sources / "sources.list.d").glob("*.sources"))]
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M))
                if "deb" in fields.get("Types", "").split() and SUITE in fields.get("Suites", ""):
                    candidates += fields.get("URIs", "").split()
        else:
            for line in text.splitlines():
                parts = line.split("#", 1)[0].split()
                if len(parts) >= 3 and parts[0] == "deb":
                    uri_index = 2 if parts[1].startswith("[") else 1
                    if SUITE in parts[uri_index + 1:uri_index + 2]:
                        candidates.append(parts[uri_index])
    for uri in candidates:
        if uri.startswith(("http://", "https://")) and "security" not in uri:
            return uri
    raise SystemExit("corpus: error: no Debian mirror for " + SUITE + " in /etc/apt/sources.list"
                     " or /etc/apt/sources.list.d/*; debootstrap needs one")


# --- Layers as differences between root-filesystem snapshots ----------------------------------


@dataclasses.dataclass(frozen=True)
class Meta:
    """What makes an entry different from its previous state: a changed file is re-added."""

    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    ctime_ns: int
    link: str


def snapshot(root: pathlib.Path) -> dict[str, Meta]:
    """Every path under root (relative, sorted parents first) with its metadata."""
    out: dict[str, Meta] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            link = os.readlink(full) if stat.S_ISLNK(st.st_mode) else ""
            # A directory's times change whenever an entry inside it does; that is how a layer
            # comes to carry the directory entry again, as docker's diff does.
            out[os.path.relpath(full, root)] = Meta(st.st_mode, st.st_uid, st.st_gid,
                                                    0 if stat.S_ISDIR(st.st_mode) else st.st_size,
                                                    st.st_mtime_ns, st.st_ctime_ns, link)
    return out


def changes(before: dict[str, Meta], after: dict[str, Meta]) -> tuple[list[str], list[str]]:
    """(paths added or changed, topmost paths deleted) between two snapshots."""
    changed = [p for p, m in after.items() if before.get(p) != m]
    deleted = sorted(p for p in before if p not in after)
    deleted_set = set(deleted)
    topmost = [p for p in deleted if os.path.dirname(p) not in deleted_set]
    return changed, topmost


def write_layer_tar(root: pathlib.Path, changed: list[str], deleted: list[str],
                    out: pathlib.Path) -> None:
    """A PAX tar of the changed paths (parents before children) plus an empty .wh.NAME whiteout
    for every deleted path, as an OCI layer records deletions."""
    tmp = out.with_suffix(".partial")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.copybufsize = COPY_BUFFER_BYTES
        for path in sorted(changed):
            tar.add(root / path, arcname=path, recursive=False)
        for path in deleted:
            info = tarfile.TarInfo(os.path.join(os.path.dirname(path),
                                                ".wh." + os.path.basename(path)))
            info.mtime = int(time.time())
            tar.addfile(info)
    tmp.rename(out)


# --- Building the root filesystem stage by stage ---------------------------------------------


class Chroot:
    """Runs commands inside the root filesystem with /proc mounted and services kept down."""

    def __init__(self, root: pathlib.Path):
        self.root = root

    def __enter__(self) -> "Chroot":
        shutil.copyfile("/etc/resolv.conf", self.root / "etc/resolv.conf")
        policy = self.root / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")  # invoke-rc.d: do not start services
        policy.chmod(0o755)
        self.proc_mounted = subprocess.run(["mount", "-t", "proc", "proc",
                                            str(self.root / "proc")]).returncode == 0
        return self

    def run(self, shell: str) -> None:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
               "LC_ALL": "C", "HOME": "/root"}
        run(["chroot", str(self.root), "/bin/sh", "-c", shell], env=env)

    def __exit__(self, *exc) -> None:
        if self.proc_mounted:
            subprocess.run(["umount", "-l", str(self.root / "proc")])
        (self.root / "usr/sbin/policy-rc.d").unlink(missing_ok=True)
        (self.root / "etc/resolv.conf").write_text("")  # the build host's resolver is not kept


def stage_base(root: pathlib.Path, mirror: str) -> str:
    run(["debootstrap", "--variant=minbase", SUITE, str(root), mirror],
        stdout=subprocess.DEVNULL)
    return f"debootstrap --variant=minbase {SUITE} / {mirror}"


def stage_build_tools(root: pathlib.Path) -> str:
    command = ("apt-get update -qq && apt-get install -y -qq --no-install-recommends "
               + " ".join(BUILD_TOOLS)
               + " && apt-get clean && rm -rf /var/lib/apt/lists/*")
    with Chroot(root) as chroot:
        chroot.run(command)
    return "RUN " + command


def stage_node_app(root: pathlib.Path) -> str:
    app = root / "app"
    app.mkdir(exist_ok=True)
    (app / "package.json").write_text(json.dumps(
        {"name": "storefront", "version": "1.4.2", "private": True}, indent=2) + "\n")
    run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *NPM_PACKAGES],
        cwd=app, stdout=subprocess.DEVNULL)
    return "RUN npm install " + " ".join(NPM_PACKAGES)


@dataclasses.dataclass
class Planted:
    rule_id: str
    path: str
    line: int
    layer: int
    secret_sha256: str
    in_final_image: bool = True


class SecretFiles:
    """Writes the application's files with planted fake secrets and records where each one is.

    The values come from the test corpus's generator (corpus/generate.py), so each is a fresh
    random value in its rule's format that clears the rule's entropy floor."""

    def __init__(self, root: pathlib.Path, layer: int, seed: int):
        self.root = root
        self.layer = layer
        self.rng = random.Random(seed)
        self.maker = corpus.SecretMaker(self.rng, corpus.builtin_min_entropy())
        self.filler = corpus.Filler(self.rng)
        self.planted: list[Planted] = []

    def write(self, path: str, parts: list[str | corpus.Plant]) -> None:
        """Concatenates `parts`; each Plant is written as its secret and recorded by line."""
        text = ""
        for part in parts:
            if isinstance(part, corpus.Plant):
                line = text.count("\n") + 1
                self.planted.append(Planted(part.rule_id, path, line, self.layer, part.sha256))
                text += part.secret
            else:
                text += part
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def stage_app_secrets(root: pathlib.Path, layer: int, seed: int) -> tuple[str, list[Planted]]:
    f = SecretFiles(root, layer, seed)
    s = f.maker
    tok, pw = s.token, s.password
    f.write("app/.env", [
        "NODE_ENV=production\nPORT=8080\n",
        "AWS_ACCESS_KEY_ID=", tok("aws-access-key-id"), "\n",
        "AWS_SECRET_ACCESS_KEY=", tok("aws-secret-access-key"), "\n",
        "STRIPE_SECRET_KEY=", tok("stripe-secret-key"), "\n",
        "DATABASE_URL=postgres://storefront:", pw("postgres-connection-string"),
        "@orders-db.internal:5432/storefront\n"])
    f.write("app/config/production.yaml", [
        "server:\n  port: 8080\n  workers: 4\nnotifications:\n  slack:\n    bot_token: ",
        tok("slack-bot-token"), "\n  email:\n    provider: sendgrid\n    api_key: ",
        tok("sendgrid-api-key"), "\nintegrations:\n  github:\n    token: ", tok("github-pat"),
        "\n"])
    f.write("app/src/config.js", [
        "'use strict';\n\n", f.filler.python(3).replace('"""', "//"), "\nmodule.exports = {\n",
        "  mapsKey: '", tok("google-api-key"), "',\n",
        "  cacheUrl: 'redis://:", pw("redis-connection-string"), "@cache.internal:6379/0',\n};\n"])
    f.write("app/.npmrc", ["registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=",
                           tok("npm-access-token"), "\n"])
    f.write("root/.aws/credentials", [
        "[default]\naws_access_key_id = ", tok("aws-access-key-id"),
        "\naws_secret_access_key = ", tok("aws-secret-access-key"), "\nregion = eu-west-1\n"])
    f.write("root/.ssh/id_rsa", [s.pem("private-key-rsa"), "\n"])
    f.write("root/.docker/config.json", [
        '{\n  "auths": {\n    "registry.example.com": {\n      "auth": "',
        tok("docker-config-auth"), '"\n    }\n  }\n}\n'])
    f.write("app/deploy/release.sh", [
        "#!/bin/sh\nset -e\nexport GITLAB_TOKEN=", tok("gitlab-pat"),
        "\nexport HF_TOKEN=", tok("huggingface-token"), "\nexec ./node_modules/.bin/tsc -p .\n"])
    # Deleted by the next layer: gone from the final image, still in this layer's blob.
    f.write("app/.env.production", [
        "GITHUB_TOKEN=", tok("github-fine-grained-pat"), "\n",
        "SLACK_WEBHOOK=https://", tok("slack-webhook-url"), "\n"])
    # Ordinary application files around them.
    for i in range(40):
        f.write(f"app/src/lib/module{i:02d}.js", [f.filler.python(12).replace('"""', "//")])
        f.write(f"app/config/defaults{i:02d}.conf", [f.filler.config(60)])
    f.write("app/README.md", [f.filler.prose(200)])
    return "COPY . /app", f.planted


def stage_cleanup(root: pathlib.Path, planted: list[Planted]) -> str:
    (root / "app/.env.production").unlink()
    for p in planted:
        if p.path == "app/.env.production":
            p.in_final_image = False
    (root / "app/VERSION").write_text("1.4.2\n")
    return "RUN rm /app/.env.production && echo 1.4.2 > /app/VERSION"


# --- Compression and the OCI layouts ----------------------------------------------------------


def compress(src: pathlib.Path, dst: pathlib.Path, kind: str) -> None:
    cmd = (["gzip", f"-{GZIP_LEVEL}", "-n", "-c"] if kind == "gzip"
           else ["zstd", f"-{ZSTD_LEVEL}", "-q", "-c", "-T1"])
    with open(dst, "wb") as out:
        run([*cmd, str(src)], stdout=out)


def write_layout(root: pathlib.Path, kind: str, layer_tars: list[pathlib.Path],
                 config: dict) -> list[dict]:
    """An OCI layout holding the image with `kind` (gzip, zstd) layers; returns the layer
    descriptors."""
    layout = corpus.OciLayout(root)
    blobs = root / "blobs" / "sha256"
    descriptors = []
    for tar in layer_tars:
        tmp = blobs / (tar.name + "." + kind)
        compress(tar, tmp, kind)
        digest = sha256_file(tmp)
        size = tmp.stat().st_size
        tmp.rename(blobs / digest)
        media_type = corpus.MT_LAYER_GZIP if kind == "gzip" else corpus.MT_LAYER_ZSTD
        descriptors.append({"mediaType": media_type, "digest": "sha256:" + digest, "size": size})
    layout.add_image(REF_NAME, corpus.json_bytes(config), descriptors)
    layout.finish()
    return descriptors


def build_image(out: pathlib.Path, seed: int) -> None:
    mirror = debian_mirror()
    work = out.with_name(out.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    rootfs, layers_dir = work / "rootfs", work / "layers"
    layers_dir.mkdir(parents=True)
    layer_tars: list[pathlib.Path] = []
    history: list[str] = []
    planted: list[Planted] = []
    before: dict[str, Meta] = {}

    def commit(name: str, created_by: str) -> None:
        nonlocal before
        after = snapshot(rootfs)
        changed, deleted = changes(before, after)
        tar = layers_dir / f"{len(layer_tars) + 1:02d}-{name}.tar"
        write_layer_tar(rootfs, changed, deleted, tar)
        log(f"layer {tar.name}: {len(changed)} entries, {len(deleted)} whiteouts, "
            f"{tar.stat().st_size / 1e6:.1f} MB")
        layer_tars.append(tar)
        history.append(created_by)
        before = after

    commit("debian-base", stage_base(rootfs, mirror))
    commit("build-tools", stage_build_tools(rootfs))
    commit("node-app", stage_node_app(rootfs))
    created_by, planted = stage_app_secrets(rootfs, len(layer_tars), seed)
    commit("app-secrets", created_by)
    commit("cleanup", stage_cleanup(rootfs, planted))
    shutil.rmtree(rootfs)

    # The config carries one more planted secret, in Env, where only an image scanner looks.
    config_secret = corpus.SecretMaker(random.Random(seed + 1),
                                       corpus.builtin_min_entropy()).token("npm-access-token")
    diff_ids = ["sha256:" + sha256_file(t) for t in layer_tars]
    config = {
        "created": corpus.CREATED, "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                           "NODE_ENV=production", "NPM_TOKEN=" + config_secret.secret],
                   "Cmd": ["node", "/app/src/server.js"], "WorkingDir": "/app"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": corpus.CREATED, "created_by": c} for c in history],
    }
    for kind in ("gzip", "zstd"):
        write_layout(work / f"oci-{kind}", kind, layer_tars, config)

    (work / "planted.json").write_text(json.dumps({
        "files": [dataclasses.asdict(p) for p in planted],
        "config": [{"rule_id": config_secret.rule_id, "path": "config:Env[2]",
                    "secret_sha256": config_secret.sha256}],
    }, indent=2) + "\n")
    (work / "build-info.json").write_text(json.dumps({
        "corpus_version": CORPUS_VERSION, "seed": seed, "mirror": mirror, "suite": SUITE,
        "built": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "npm_packages": NPM_PACKAGES, "build_tools": BUILD_TOOLS,
        "layers": [{"name": t.stem, "created_by": h, "tar_bytes": t.stat().st_size,
                    "files": tar_file_count(t)} for t, h in zip(layer_tars, history)],
    }, indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)


def tar_file_count(path: pathlib.Path) -> int:
    with tarfile.open(path) as tar:
        return sum(1 for m in tar if m.isreg())


# --- The synthetic layers ---------------------------------------------------------------------

# Near misses: each line carries the keywords the rules look for (token, password, secret, aws,
# key=, AKIA, ghp_, xoxb-, sk_live_...) next to values that are placeholders, variables, too short
# or of the wrong alphabet, so every rule's regex runs and none confirms.
_NEAR_MISS_TEMPLATES = [
    'token = get_token(user_id="{w}")  # refresh when the {w} token expires',
    'password: ${{{W}_PASSWORD}}',
    'aws_region = "us-east-1"  # aws {w} {w} key=None',
    'key={w}_{w}; secret=<{w}>; api_key=os.environ["{W}_KEY"]',
    'export AWS_SECRET_ACCESS_KEY=$(cat /run/secrets/{w})',
    'AKIA{short}  # not an access key: {w} {w}',
    'Authorization: Bearer {{{{ .Values.{w}.token }}}}',
    'ghp_{short} gho_{w} xoxb-{n}-{w} sk_live_{w} glpat-{w}',
    'db_password = "changeme"  # {w} {w} {w}',
    'private_key_path = "/etc/{w}/{w}.pem"  # -----BEGIN nothing-----',
    'client_secret: "{w}-{w}"  token_url: https://{w}.example.com/oauth/token',
    '"apiKey": "{w}", "password": "", "secretKey": null, "aws": {{"key": "{w}"}}',
    'mongodb://{w}:{{password}}@{w}.internal:27017/{w}',
    'postgres://{w}@{w}:5432/{w}?password=',
    '{w}_token={n} {w}_key={n} {w}_secret={w}',
]


def near_miss_lines(rng: random.Random, count: int) -> list[str]:
    words = corpus._WORDS
    out = []
    for _ in range(count):
        template = rng.choice(_NEAR_MISS_TEMPLATES)
        line = re.sub(r"\{w\}", lambda _: rng.choice(words), template)
        line = re.sub(r"\{W\}", lambda _: rng.choice(words).upper(), line)
        line = line.replace("{short}", "".join(rng.choices("ABCDEFGHIJ234567", k=6)))
        line = line.replace("{n}", str(rng.randint(10, 99999)))
        out.append(line.format() + "\n")
    return out


def build_worst_case(out: pathlib.Path, seed: int) -> None:
    rng = random.Random(seed)
    pool = near_miss_lines(rng, WORST_CASE_LINE_POOL)
    work = out.with_name(out.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    files = work / "tree" / "srv" / "config"
    files.mkdir(parents=True)
    for i in range(WORST_CASE_FILES):
        size, chunks = 0, []
        while size < WORST_CASE_FILE_BYTES:
            chunk = "".join(rng.choices(pool, k=4096))
            chunks.append(chunk)
            size += len(chunk)
        (files / f"settings-{i:02d}.conf").write_text("".join(chunks)[:WORST_CASE_FILE_BYTES])
    tar = work / "worst-case.tar"
    run(["tar", "-C", str(work / "tree"), "--sort=name", "--numeric-owner", "-cf", str(tar),
         "srv"])
    compress(tar, work / "worst-case.tar.gz", "gzip")
    (work / "worst-case.tar.size").write_text(f"{tar.stat().st_size}\n")
    tar.unlink()
    shutil.rmtree(work / "tree")
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)


def build_big(out: pathlib.Path, image: pathlib.Path) -> None:
    """The image's layers (whiteouts and device nodes left out) copied under copy1/, copy2/...
    until the tar reaches BIG_LAYER_MIN_BYTES."""
    layer_tars = sorted((image / "layers").glob("*.tar"))
    work = out.with_name(out.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tar_path = work / "big-2g.tar"
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as big:
        big.copybufsize = COPY_BUFFER_BYTES
        copy = 0
        while big.offset < BIG_LAYER_MIN_BYTES:
            copy += 1
            for layer in layer_tars:
                with tarfile.open(layer) as src:
                    for member in src:
                        if (os.path.basename(member.name).startswith(".wh.")
                                or member.ischr() or member.isblk() or member.isfifo()):
                            continue
                        member.name = f"copy{copy}/{member.name}"
                        if member.islnk():
                            member.linkname = f"copy{copy}/{member.linkname}"
                        big.addfile(member, src.extractfile(member) if member.isreg() else None)
    compress(tar_path, work / "big-2g.tar.gz", "gzip")
    (work / "big-2g.tar.size").write_text(f"{tar_path.stat().st_size}\n")
    tar_path.unlink()
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)


# --- Main ---------------------------------------------------------------------------------------


def is_built(part: pathlib.Path) -> bool:
    stamp = part / "corpus-version"
    return stamp.is_file() and stamp.read_text().strip() == str(CORPUS_VERSION)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=pathlib.Path,
                        default=pathlib.Path(os.environ.get(
                            "LAYERSIFT_BENCH_CACHE", pathlib.Path.home() / ".cache/layersift-bench")))
    parser.add_argument("--only", choices=["image", "worst-case", "big"], action="append",
                        help="build only these parts (repeatable; default all)")
    parser.add_argument("--force", action="store_true", help="rebuild even if already built")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the planted secrets and the worst-case text "
                             "(default: drawn at random and recorded)")
    args = parser.parse_args(argv)
    cache = args.cache.resolve()
    if cache == REPO or REPO in cache.parents:
        parser.error(f"the cache must live outside the repository: {cache}")
    parts = args.only or ["image", "worst-case", "big"]
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    base = cache / "realistic"
    base.mkdir(parents=True, exist_ok=True)
    for part in parts:
        out = base / part
        if is_built(out) and not args.force:
            log(f"{part}: already built in {out}")
            continue
        if part == "image":
            if os.geteuid() != 0:
                raise SystemExit("corpus: error: building the image needs root (debootstrap, "
                                 "chroot); run it as root or with sudo")
            for tool in ("debootstrap", "npm", "gzip", "zstd"):
                if not shutil.which(tool):
                    raise SystemExit(f"corpus: error: '{tool}' not found; "
                                     "bash tools/setup.sh --bench installs it")
            build_image(out, seed)
        elif part == "worst-case":
            build_worst_case(out, seed)
        else:
            if not is_built(base / "image"):
                raise SystemExit("corpus: error: the big layer is made from the image's layers: "
                                 "build the image first (--only image)")
            build_big(out, base / "image")
        (out / "corpus-version").write_text(f"{CORPUS_VERSION}\n")
        log(f"{part}: built in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
