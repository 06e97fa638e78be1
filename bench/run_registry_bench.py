#!/usr/bin/env python3
"""Registry pull benchmark: what pulling from a registry costs next to reading the same image
from disk, and what layersift's range downloader does next to curl. Everything runs against a
real docker-registry started on 127.0.0.1 (the test fixture in tests/support), on one machine,
in one run, alternating the rows so that they share the machine's state.

Rows (median of --runs timed runs after one warm-up each; wall time, CPU time, peak RSS):
  scan oci:      layersift scan of a >= 500 MB image (the layer benchmark's layer-500) from its
                 OCI layout on disk
  scan registry: the same image from the registry (docker://...)
  scan registry 2g: a 2.2 GB (uncompressed) image from the registry, to show that peak memory
                 follows --max-memory and the download buffers, not the layer size
  curl:          `curl -s -o /dev/null` of a 1 GiB blob from the registry
  fetch:         the same blob through layersift's RangeDownloader (bench/fetch_blob.cc),
                 bytes thrown away: 4 parallel 16 MiB ranges (the default), and one streaming
                 request (--fetch-connections 1); "fetch + sha256" also hashes them as a scan does

Usage: python3 bench/run_registry_bench.py [--runs N] [--bin DIR] [--cache DIR] [--results DIR]
  --bin      the build directory holding layersift and bench/layersift_fetch_blob (default build/)
  --cache    the layer benchmark's cache (default $LAYERSIFT_BENCH_CACHE or ~/.cache/layersift-bench);
             missing layers are built with bench/run_layer_bench.sh --build-only
Writes bench/results/DATE-HOST-registry.md and .raw.tsv.
"""
import argparse
import datetime
import gzip
import hashlib
import json
import os
import pathlib
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from support.registry_fixture import Registry, require_tools  # noqa: E402

MB = 10 ** 6
BLOB_BYTES = 1 << 30
GOAL_SCAN_RATIO = 1.15
GOAL_FETCH_RATIO = 1.10
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256_file(path, opener=open):
    h = hashlib.sha256()
    with opener(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def cached_digest(path, opener=open, tag=""):
    """A file's SHA-256 (of its content, or of its gunzipped content), remembered beside it."""
    memo = pathlib.Path(str(path) + f".sha256{tag}")
    if memo.exists() and memo.stat().st_mtime >= path.stat().st_mtime:
        return memo.read_text().strip()
    digest = sha256_file(path, opener)
    memo.write_text(digest + "\n")
    return digest


def json_bytes(doc):
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def write_layout(root, images):
    """An OCI layout with one single-layer image per (tag, layer path, diff_id); blobs are
    hard links to the cached files, so nothing large is copied."""
    if root.exists():
        shutil.rmtree(root)
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (root / "oci-layout").write_bytes(json_bytes({"imageLayoutVersion": "1.0.0"}))

    def put(data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        (blobs / digest[7:]).write_bytes(data)
        return digest

    manifests = []
    for tag, layer, diff_id, media_type in images:
        digest = cached_digest(layer)
        target = blobs / digest[7:]
        if not target.exists():
            os.link(layer, target)
        config = json_bytes({"architecture": "amd64", "os": "linux",
                             "config": {"Env": ["PATH=/usr/bin"]},
                             "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                             "history": [{"created_by": f"COPY {layer.name} /"}]})
        manifest = json_bytes({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": put(config), "size": len(config)},
            "layers": [{"mediaType": media_type, "digest": digest, "size": layer.stat().st_size}]})
        manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "digest": put(manifest), "size": len(manifest),
                          "annotations": {"org.opencontainers.image.ref.name": tag}})
    (root / "index.json").write_bytes(json_bytes({"schemaVersion": 2, "manifests": manifests}))


def timed(command):
    """Runs `command` under /usr/bin/time; returns (wall s, cpu s, peak RSS MiB)."""
    fmt = "%e %U %S %M"
    result = subprocess.run(["/usr/bin/time", "-f", fmt, *command], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    last = result.stderr.strip().splitlines()[-1]
    if result.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}: {result.stderr[-2000:]}")
    wall, user, system, rss_kb = last.split()
    return float(wall), float(user) + float(system), int(rss_kb) / 1024


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    return [f"- CPU: {cpu}, nproc {os.cpu_count()}",
            f"- memory: {mem_kb / 1048576:.1f} GiB",
            f"- kernel: {platform.system()} {platform.release()} {platform.machine()}",
            f"- load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bin", default=str(REPO / "build"))
    parser.add_argument("--cache", default=os.environ.get(
        "LAYERSIFT_BENCH_CACHE", str(pathlib.Path.home() / ".cache" / "layersift-bench")))
    parser.add_argument("--results", default=str(REPO / "bench" / "results"))
    args = parser.parse_args()
    require_tools()
    for tool in ("curl", "/usr/bin/time"):
        if not shutil.which(tool):
            sys.exit(f"missing {tool}: run tools/setup.sh")
    binary = pathlib.Path(args.bin) / "layersift"
    fetch_tool = pathlib.Path(args.bin) / "bench" / "layersift_fetch_blob"
    for tool in (binary, fetch_tool):
        if not tool.exists():
            sys.exit(f"{tool} is missing: build first (bash tools/build.sh build)")
    cache = pathlib.Path(args.cache)
    needed = [cache / "layer-500.tar", cache / "layer-500.tar.gz", cache / "layer-2g.tar.gz"]
    if not all(p.exists() for p in needed):
        subprocess.run(["bash", str(REPO / "bench" / "run_layer_bench.sh"), "--build-only",
                        "--cache", str(cache)], check=True)
    blob_path = cache / "blob-1g.bin"
    if not blob_path.exists() or blob_path.stat().st_size != BLOB_BYTES:
        print("bench: writing a 1 GiB random blob", file=sys.stderr)
        tmp = blob_path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            for _ in range(BLOB_BYTES >> 24):
                f.write(os.urandom(1 << 24))
        tmp.rename(blob_path)

    print("bench: hashing the layers (once; cached beside them)", file=sys.stderr)
    diff_500 = cached_digest(cache / "layer-500.tar")
    diff_2g = cached_digest(cache / "layer-2g.tar.gz", gzip.open, ".diff_id")
    layout = cache / "registry-bench-oci"
    write_layout(layout, [("img500", cache / "layer-500.tar.gz", diff_500, LAYER_MEDIA_TYPE),
                          ("img2g", cache / "layer-2g.tar.gz", diff_2g, LAYER_MEDIA_TYPE),
                          ("blob1g", blob_path, cached_digest(blob_path),
                           "application/vnd.oci.image.layer.v1.tar")])
    blob_digest = cached_digest(blob_path)

    scan = [str(binary), "scan", "--quiet", "--no-state", "--format", "json", "--output", "/dev/null",
            "--no-ignore-file"]
    with Registry(auth="none") as reg:
        print(f"bench: uploading to the registry at {reg.host}", file=sys.stderr)
        for tag in ("img500", "img2g", "blob1g"):
            reg.upload_layout(f"{layout}:{tag}", f"bench:{tag}")
        rows = {
            "scan oci: img500": scan + [f"oci:{layout}:img500"],
            "scan registry: img500": scan + ["--plain-http", f"docker://{reg.host}/bench:img500"],
            "scan oci: img2g": scan + [f"oci:{layout}:img2g"],
            "scan registry: img2g": scan + ["--plain-http", f"docker://{reg.host}/bench:img2g"],
            "curl -s -o /dev/null: blob 1 GiB": [
                "curl", "-s", "-f", "-o", "/dev/null", f"http://{reg.host}/v2/bench/blobs/{blob_digest}"],
            "layersift fetch: blob 1 GiB": [
                str(fetch_tool), "--plain-http", f"{reg.host}/bench@{blob_digest}", str(BLOB_BYTES)],
            "layersift fetch, 1 connection: blob 1 GiB": [
                str(fetch_tool), "--plain-http", "--connections", "1", f"{reg.host}/bench@{blob_digest}",
                str(BLOB_BYTES)],
            "layersift fetch + sha256: blob 1 GiB": [
                str(fetch_tool), "--plain-http", "--verify", f"{reg.host}/bench@{blob_digest}",
                str(BLOB_BYTES)],
        }
        raw = {name: [] for name in rows}
        for name, command in rows.items():  # warm-up: page cache, connections, first runs
            timed(command)
        for run in range(args.runs):
            for name, command in rows.items():
                raw[name].append(timed(command))
            print(f"bench: run {run + 1}/{args.runs} done", file=sys.stderr)

    median = {name: tuple(statistics.median(r[i] for r in runs) for i in range(3))
              for name, runs in raw.items()}
    uncompressed = {"img500": (cache / "layer-500.tar").stat().st_size,
                    "img2g": int((cache / "layer-2g.tar.size").read_text())}
    now = datetime.datetime.now(datetime.timezone.utc)
    stem = f"{now:%Y-%m-%d}-{socket.gethostname()}-{now:%H%M%S}-registry"
    results = pathlib.Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    with open(results / f"{stem}.raw.tsv", "w") as f:
        f.write("row\trun\twall_s\tcpu_s\tpeak_rss_mib\n")
        for name, runs in raw.items():
            for i, (wall, cpu, rss) in enumerate(runs):
                f.write(f"{name}\t{i + 1}\t{wall:.3f}\t{cpu:.3f}\t{rss:.1f}\n")

    def mbps(name):
        size = BLOB_BYTES if "blob" in name else uncompressed[name.rsplit(" ", 1)[-1]]
        return size / MB / median[name][0]

    scan_ratio = median["scan registry: img500"][0] / median["scan oci: img500"][0]
    curl_wall = median["curl -s -o /dev/null: blob 1 GiB"][0]
    fetch_ratio = median["layersift fetch: blob 1 GiB"][0] / curl_wall
    single_ratio = median["layersift fetch, 1 connection: blob 1 GiB"][0] / curl_wall
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain"],
                           capture_output=True, text=True).stdout.strip()
    lines = [f"# layersift registry benchmark, {now:%Y-%m-%d %H:%M:%S} UTC on {socket.gethostname()}",
             "", "## Machine", "", *machine(),
             f"- layersift: `{binary}`, repository at {commit}{' (uncommitted changes)' if dirty else ''}",
             "- registry: Debian docker-registry (distribution 2.8) on 127.0.0.1, plain HTTP, "
             "filesystem storage, anonymous; blobs uploaded through its API",
             f"- images: img500 = one layer, `layer-500.tar.gz` ({(cache / 'layer-500.tar.gz').stat().st_size / MB:.1f} MB "
             f"stored, {uncompressed['img500'] / MB:.1f} MB uncompressed); img2g = `layer-2g.tar.gz` "
             f"({(cache / 'layer-2g.tar.gz').stat().st_size / MB:.1f} MB stored, {uncompressed['img2g'] / MB:.1f} MB "
             "uncompressed); blob 1 GiB = random bytes",
             "- scans: default flags (`--fetch-connections 4`, `--range-size 16MiB`, `--max-memory 512MiB`), "
             "the built-in rules",
             f"- method: median of {args.runs} runs after 1 warm-up, rows alternating, page cache warm, "
             f"`/usr/bin/time`; raw runs in `{stem}.raw.tsv` beside this report",
             "", "## Results", "",
             "| row | wall s | CPU s | MB/s | peak RSS MiB |", "|---|---:|---:|---:|---:|"]
    for name in rows:
        wall, cpu, rss = median[name]
        lines.append(f"| {name} | {wall:.2f} | {cpu:.2f} | {mbps(name):.0f} | {rss:.1f} |")
    lines += ["", "## Against the goals", "",
              f"- scan from the registry / scan from the OCI layout (img500): **{scan_ratio:.2f}x** "
              f"(goal <= {GOAL_SCAN_RATIO}x: {'met' if scan_ratio <= GOAL_SCAN_RATIO else 'NOT met'})",
              f"- layersift fetch / curl (1 GiB blob), 4 ranges in parallel (default): **{fetch_ratio:.2f}x** "
              f"(goal <= {GOAL_FETCH_RATIO}x: {'met' if fetch_ratio <= GOAL_FETCH_RATIO else 'NOT met'})",
              f"- layersift fetch / curl (1 GiB blob), one streaming request: **{single_ratio:.2f}x** "
              f"(goal <= {GOAL_FETCH_RATIO}x: {'met' if single_ratio <= GOAL_FETCH_RATIO else 'NOT met'})",
              f"- peak RSS from the registry: {median['scan registry: img500'][2]:.1f} MiB for img500, "
              f"{median['scan registry: img2g'][2]:.1f} MiB for img2g "
              f"({uncompressed['img2g'] / uncompressed['img500']:.1f}x the data); from disk "
              f"{median['scan oci: img500'][2]:.1f} / {median['scan oci: img2g'][2]:.1f} MiB"]
    report = "\n".join(lines) + "\n"
    (results / f"{stem}.md").write_text(report)
    print(report)
    print(f"bench: wrote {results / (stem + '.md')}", file=sys.stderr)


if __name__ == "__main__":
    main()
