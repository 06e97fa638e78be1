// layersift_fetch_blob: downloads one registry blob through layersift's RangeDownloader and
// throws the bytes away (optionally hashing them), so that the benchmark can set the downloader
// against `curl -o /dev/null` on the same blob.
//
//   layersift_fetch_blob [--plain-http] [--connections N] [--range-size BYTES] [--verify]
//                        REGISTRY/REPO@sha256:DIGEST SIZE_BYTES
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "layersift/engine/digest.h"
#include "layersift/fetch/image_reference.h"
#include "layersift/fetch/registry_client.h"

int main(int argc, char** argv) {
  using namespace layersift;
  RegistryOptions options;
  bool verify = false;
  int i = 1;
  for (; i < argc && std::strncmp(argv[i], "--", 2) == 0; ++i) {
    const std::string flag = argv[i];
    if (flag == "--plain-http") {
      options.plain_http = true;
    } else if (flag == "--verify") {
      verify = true;
    } else if (flag == "--connections" && i + 1 < argc) {
      options.download.connections_per_blob = static_cast<unsigned>(std::atoi(argv[++i]));
    } else if (flag == "--range-size" && i + 1 < argc) {
      options.download.range_size_bytes = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (argc - i != 2) {
    std::fprintf(stderr,
                 "usage: %s [--plain-http] [--connections N] [--range-size BYTES] [--verify] "
                 "REGISTRY/REPO@DIGEST SIZE_BYTES\n",
                 argv[0]);
    return 2;
  }
  try {
    const ImageReference reference = ParseImageReference(argv[i]);
    const uint64_t size = std::strtoull(argv[i + 1], nullptr, 10);
    RegistryClient client(options);
    const auto start = std::chrono::steady_clock::now();
    std::unique_ptr<ByteSource> blob = client.OpenBlob(reference.registry, reference.repository, reference.digest, size);
    if (verify) blob = std::make_unique<DigestingSource>(std::move(blob), reference.digest);
    uint64_t bytes = 0;
    for (std::span<const uint8_t> block = blob->Next(); !block.empty(); block = blob->Next()) bytes += block.size();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const DownloadStats stats = client.download_stats();
    std::printf("%llu bytes in %.3f s (%.0f MB/s), %llu range requests, %llu retries\n",
                static_cast<unsigned long long>(bytes), seconds, static_cast<double>(bytes) / 1e6 / seconds,
                static_cast<unsigned long long>(stats.requests), static_cast<unsigned long long>(stats.retries));
    if (bytes != size) {
      std::fprintf(stderr, "got %llu bytes, expected %llu\n", static_cast<unsigned long long>(bytes),
                   static_cast<unsigned long long>(size));
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "layersift_fetch_blob: %s\n", e.what());
    return 1;
  }
  return 0;
}
