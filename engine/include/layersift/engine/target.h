// What the user asked to scan, resolved into images and layer blobs.
#ifndef LAYERSIFT_ENGINE_TARGET_H_
#define LAYERSIFT_ENGINE_TARGET_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "layersift/fetch/byte_source.h"

namespace layersift {

// A target that cannot be resolved (missing file, malformed index.json, unknown tag). The message
// names the target.
class TargetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LayerDescriptor {
  int index = 0;             // position in the image, from the base layer up
  std::string digest;        // "sha256:<hex>", or empty when only the scan can compute it
  std::string media_type;    // informational: decompression is chosen by magic bytes
  uint64_t size_bytes = 0;   // the blob's size as stored, 0 if unknown
  bool verify_digest = false;  // true: a blob that does not hash to `digest` fails the layer
  std::function<std::unique_ptr<ByteSource>()> open;  // the blob as stored (compressed)
};

struct ImageDescriptor {
  std::string image_digest;  // manifest digest (OCI) or image ID (docker-archive); may be empty
  std::string reference;     // tag or ref name, if any
  std::string platform;      // os/arch[/variant] from the config, if known
  std::vector<LayerDescriptor> layers;
};

enum class TargetKind { kOciLayout, kDockerArchive, kLayer, kDirectory };

struct Target {
  std::string spec;  // as the user wrote it
  TargetKind kind = TargetKind::kLayer;
  std::string path;
  std::vector<ImageDescriptor> images;  // directories have none: they are walked as files
};

// Resolves `spec`: oci:DIR[:TAG], docker-archive:FILE, layer:FILE, dir:PATH, or a bare path
// recognised by its content (an OCI layout directory, a docker save tar, a gzip/zstd/tar layer,
// any other directory or file). Throws TargetError.
Target ResolveTarget(const std::string& spec);

std::string_view TargetKindName(TargetKind kind);

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_TARGET_H_
