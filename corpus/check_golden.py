#!/usr/bin/env python3
"""Re-derives a generated corpus's golden.json with a Python model of the scanner, and diffs.

Usage:
    python3 corpus/check_golden.py OUTDIR [--rules rules/builtin]

A check on corpus/generate.py and on the rules, not on the engine: it reads every target in
OUTDIR/golden.json the way layersift is specified to (OCI layouts, docker-archive, single layer
blobs, directories; gzip incl. multi-member, zstd, plain tar; digests verified; only regular
files; default path exclusions; files with a NUL in the first 8 KiB skipped), runs the enabled
rules with tools/check_rules.py's model of the engine's matching, and compares:

  * the findings with "expected" (as a multiset);
  * the per-layer errors with "expected_errors" (target, layer index, substring);
  * a second pass with exclusions, binary detection and digest checks switched off must find every
    "not_expected" entry whose reason is one of those, proving the planted negatives are real
    secrets that only the filter hides.

Exit status 0 when everything matches. Needs PyYAML (through tools/check_rules.py) and `zstd`.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import pathlib
import re
import subprocess
import sys
import tarfile
import zlib
from collections import Counter

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tools"))
import check_rules  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
BINARY_SNIFF_BYTES = 8192
FILTER_REASONS = ("excluded-path", "binary", "digest-mismatch")


class LayerError(Exception):
    """A layer that cannot be read to its end; the message is what an error report would say."""


class Scanner:
    def __init__(self, rules, excluded: list[re.Pattern], filters: bool):
        self.rules = [r for r in rules if r.enabled]
        self.excluded = excluded
        self.filters = filters

    def scan_file(self, path: str, data: bytes) -> list[tuple[str, str, str]]:
        """(path, rule_id, secret_sha256) for every finding in one regular file."""
        path = path[2:] if path.startswith("./") else path.lstrip("/")
        if self.filters:
            if any(p.search("/" + path) for p in self.excluded):
                return []
            if b"\0" in data[:BINARY_SNIFF_BYTES]:
                return []
        lowered = data.lower()
        return [(path, f.rule_id, hashlib.sha256(f.secret).hexdigest())
                for rule in self.rules
                for f in check_rules.find_secrets(rule, data, lowered)]

    def scan_tar(self, tar: bytes) -> list[tuple[str, str, str]]:
        try:
            tf = tarfile.open(fileobj=io.BytesIO(tar), mode="r:")
            members = tf.getmembers()
        except tarfile.TarError as e:
            raise LayerError(f"tar: {e}") from e
        # tarfile stops quietly at a bad header after the first; a scanner must not.
        if any(tar[tf.offset :]):
            raise LayerError(f"tar: invalid header at offset {tf.offset}")
        out = []
        for m in members:
            if m.isreg():
                out += self.scan_file(m.name, tf.extractfile(m).read())
        return out

    def scan_blob(self, blob: bytes, digest: str | None = None):
        if digest and self.filters and "sha256:" + hashlib.sha256(blob).hexdigest() != digest:
            raise LayerError(f"digest mismatch: blob does not hash to {digest}")
        return self.scan_tar(decompress(blob))


def decompress(blob: bytes) -> bytes:
    if blob[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(blob)
        except (EOFError, OSError, zlib.error) as e:
            raise LayerError(f"gzip: {e}") from e
    if blob[:4] == b"\x28\xb5\x2f\xfd":
        p = subprocess.run(["zstd", "-d", "-c", "-q"], input=blob, capture_output=True)
        if p.returncode:
            raise LayerError(f"zstd: {p.stderr.decode(errors='replace').strip()}")
        return p.stdout
    return blob


def oci_layers(root: pathlib.Path, ref: str):
    """Yields (blob bytes, digest) for each layer of the image named `ref`."""
    def blob(digest: str) -> bytes:
        return (root / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()

    index = json.loads((root / "index.json").read_text())
    [desc] = [m for m in index["manifests"]
              if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref]
    manifest = json.loads(blob(desc["digest"]))
    for layer in manifest["layers"]:
        yield blob(layer["digest"]), layer["digest"]


def docker_layers(path: pathlib.Path):
    with tarfile.open(path) as tf:
        [manifest] = json.loads(tf.extractfile("manifest.json").read())
        for name in manifest["Layers"]:
            yield tf.extractfile(name).read(), None


def scan_target(scanner: Scanner, spec: str):
    """Returns ({layer_index: findings}, {layer_index: error message})."""
    transport, rest = spec.split(":", 1)
    findings, errors = {}, {}
    if transport == "dir":
        root = pathlib.Path(rest)
        out = []
        for dirpath, _, names in os.walk(root):
            for name in names:
                full = pathlib.Path(dirpath) / name
                if full.is_symlink() or not full.is_file():
                    continue
                out += scanner.scan_file(full.relative_to(root).as_posix(), full.read_bytes())
        return {0: out}, {}
    if transport == "oci":
        path, ref = rest.rsplit(":", 1)
        layers = oci_layers(pathlib.Path(path), ref)
    elif transport == "docker-archive":
        layers = docker_layers(pathlib.Path(rest))
    elif transport == "layer":
        layers = [(pathlib.Path(rest).read_bytes(), None)]
    else:
        raise ValueError(f"unknown transport in {spec!r}")
    for i, (blob, digest) in enumerate(layers):
        try:
            findings[i] = scanner.scan_blob(blob, digest)
        except LayerError as e:
            errors[i] = str(e)
    return findings, errors


def scan_all(golden: dict, outdir: pathlib.Path, scanner: Scanner):
    found, errors = Counter(), {}
    for target, spec in golden["targets"].items():
        per_layer, errs = scan_target(scanner, spec.replace("OUTDIR", str(outdir)))
        for i, items in per_layer.items():
            found.update((target, i, *item) for item in items)
        errors.update({(target, i): msg for i, msg in errs.items()})
    return found, errors


def key(e: dict) -> tuple:
    return (e["target"], e["layer_index"], e["path"], e["rule_id"], e["secret_sha256"])


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", type=pathlib.Path)
    ap.add_argument("--rules", default=str(REPO / "rules" / "builtin"))
    args = ap.parse_args(argv)
    golden = json.loads((args.outdir / "golden.json").read_text())
    rules, rule_errors = check_rules.load_rules([args.rules])
    if rule_errors:
        print("\n".join(rule_errors), file=sys.stderr)
        return 2
    excluded = [re.compile(line) for line in
                (REPO / "rules" / "default-excluded-paths.txt").read_text().splitlines()
                if line and not line.startswith("#")]

    problems = []
    found, errors = scan_all(golden, args.outdir, Scanner(rules, excluded, filters=True))
    want = Counter(key(e) for e in golden["expected"])
    for k in sorted((want - found).elements()):
        problems.append(f"missing: {k}")
    for k in sorted((found - want).elements()):
        problems.append(f"unexpected: {k}")
    want_errors = {(e["target"], e["layer_index"]): e["contains"]
                   for e in golden["expected_errors"]}
    for where, msg in sorted(errors.items()):
        if where not in want_errors:
            problems.append(f"unexpected error at {where}: {msg}")
        elif want_errors[where] not in msg:
            problems.append(f"error at {where} lacks {want_errors[where]!r}: {msg}")
    for where in sorted(set(want_errors) - set(errors)):
        problems.append(f"missing error at {where} (containing {want_errors[where]!r})")

    unfiltered, _ = scan_all(golden, args.outdir, Scanner(rules, excluded, filters=False))
    for e in golden["not_expected"]:
        if e["reason"] in FILTER_REASONS and unfiltered[key(e)] == 0:
            problems.append(f"not_expected entry is not a finding even unfiltered: {key(e)}")
        if e["reason"] not in FILTER_REASONS and unfiltered[key(e)]:
            problems.append(f"link entry was scanned: {key(e)}")

    for p in problems:
        print(p, file=sys.stderr)
    print(f"{sum(found.values())} findings, {len(errors)} layer errors, "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
