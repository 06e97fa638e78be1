#!/usr/bin/env python3
"""Incremental-scan benchmark: what the state store saves on a registry whose images share base
layers. A real docker-registry on 127.0.0.1 (the test fixture in tests/support) holds --images
images built by corpus/shared_base.py (a base-os layer common to all, one of two runtime layers,
and an app layer each); layersift scans the whole registry (registry://HOST --tags all) with a
state file, as a scheduled job would:

  first:      an empty state file: every unique layer is downloaded and scanned
  unchanged:  the same registry again: manifests only, every layer recalled
  one new:    after one more image is pushed: only its new layer (and config) is read
  no state:   the same registry with --no-state, for reference

Each row: median of --runs runs (the first and third rows start from a copy of the state file
they need, so every run does the same work), wall seconds, blobs downloaded (counted by
layersift), bytes downloaded. The ratio unchanged/first is the figure issue 8 asks to be under
10%.

Usage: python3 bench/run_incremental_bench.py [--bin DIR] [--runs N] [--images N]
           [--base-files N] [--base-file-kib N] [--app-files N] [--app-file-kib N] [--results DIR]
Writes bench/results/DATE-HOST-incremental.md and .raw.tsv.
"""
import argparse
import datetime
import json
import pathlib
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "corpus"))

from support.registry_fixture import Registry  # noqa: E402
import shared_base  # noqa: E402


def scan(binary, host, *flags):
    """One scan of the whole registry; returns (wall seconds, stats of the JSON report)."""
    args = [str(binary), "scan", "--quiet", "--format", "json", "--no-ignore-file", "--plain-http",
            "--tags", "all", *flags, f"registry://{host}"]
    start = time.monotonic()
    result = subprocess.run(args, capture_output=True, text=True)
    wall = time.monotonic() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"scan failed ({result.returncode}): {result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    if report["errors"]:
        raise SystemExit(f"scan reported errors: {report['errors'][:3]}")
    return wall, report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=str(REPO / "build"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--images", type=int, default=20)
    # Defaults: a 190 MB (uncompressed) base layer and 10 MB app layers, so that the registry's
    # first scan reads about 400 MB, as a small team's registry would hold.
    parser.add_argument("--base-files", type=int, default=8000)
    parser.add_argument("--base-file-kib", type=int, default=24)
    parser.add_argument("--app-files", type=int, default=400)
    parser.add_argument("--app-file-kib", type=int, default=24)
    parser.add_argument("--results", default=str(REPO / "bench" / "results"))
    args = parser.parse_args()
    binary = pathlib.Path(args.bin) / "layersift"

    with tempfile.TemporaryDirectory(prefix="layersift-incremental-") as tmp_name:
        tmp = pathlib.Path(tmp_name)
        print("bench: building the images", file=sys.stderr)
        images = shared_base.SharedBaseImages(tmp / "layouts", args.images, seed=8,
                                              base_files=args.base_files,
                                              base_file_kib=args.base_file_kib,
                                              app_files=args.app_files,
                                              app_file_kib=args.app_file_kib)
        images.write()
        stored = {}
        for image in images.images:
            for blob in (image.layout / "blobs" / "sha256").iterdir():
                stored["sha256:" + blob.name] = blob.stat().st_size
        unique_bytes = sum(stored[d] for d in images.unique_layers())
        rows = {"first": [], "unchanged": [], "one new": [], "no state": []}
        with Registry(auth="none") as reg:
            for image in images.images:
                reg.upload_layout(f"{image.layout}:v1", f"team/app{image.index:02d}:v1")
            base_state = tmp / "after-first.db"
            # Warm-up (page cache, registry), and the state the "unchanged" row starts from.
            scan(binary, reg.host, "--state", str(base_state))
            for run in range(args.runs):
                print(f"bench: run {run + 1}/{args.runs}", file=sys.stderr)
                fresh = tmp / f"first-{run}.db"
                rows["first"].append(scan(binary, reg.host, "--state", str(fresh)))
                rows["unchanged"].append(scan(binary, reg.host, "--state", str(fresh)))
                rows["no state"].append(scan(binary, reg.host, "--no-state"))
            new = images.add_image(args.images)
            reg.upload_layout(f"{new.layout}:v1", f"team/app{new.index:02d}:v1")
            for run in range(args.runs):
                copy = tmp / f"new-{run}.db"
                shutil.copy(base_state, copy)
                rows["one new"].append(scan(binary, reg.host, "--state", str(copy)))

    host = socket.gethostname()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    results = pathlib.Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    base = results / f"{stamp}-{host}-incremental"
    with open(base.with_suffix(".raw.tsv"), "w") as raw:
        raw.write("row\trun\twall_seconds\tblob_requests\tblob_bytes\tlayers_recalled\tfindings\n")
        for name, runs in rows.items():
            for n, (wall, report) in enumerate(runs):
                registry = report["stats"].get("registry", {})
                raw.write(f"{name}\t{n}\t{wall:.4f}\t{registry.get('blob_requests', 0)}\t"
                          f"{registry.get('blob_bytes', 0)}\t{report['stats'].get('blobs_recalled', '')}\t"
                          f"{len(report['findings'])}\n")
    median = {name: statistics.median(w for w, _ in runs) for name, runs in rows.items()}
    lines = [
        f"# Incremental scans ({stamp}, {host})",
        "",
        f"- machine: {platform.processor() or platform.machine()}, "
        f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores",
        f"- registry: {args.images} images (+1 pushed for the last row), "
        f"{len(images.unique_layers()) - 1} unique layers before the push, "
        f"{unique_bytes / 1e6:.1f} MB stored (compressed); base-os "
        f"{args.base_files} files x {args.base_file_kib} KiB, app layers {args.app_files} files x "
        f"{args.app_file_kib} KiB",
        f"- median of {args.runs} runs; wall time of the whole `layersift scan registry://HOST --tags all`",
        "",
        "| row | wall s | blobs downloaded | MB downloaded | findings |",
        "|---|---|---|---|---|",
    ]
    for name, runs in rows.items():
        _, report = runs[0]
        registry = report["stats"].get("registry", {})
        lines.append(f"| {name} | {median[name]:.3f} | {registry.get('blob_requests', 0)} | "
                     f"{registry.get('blob_bytes', 0) / 1e6:.1f} | {len(report['findings'])} |")
    lines += ["", f"unchanged / first: **{100 * median['unchanged'] / median['first']:.1f}%**; "
                  f"one new / first: {100 * median['one new'] / median['first']:.1f}%"]
    base.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
