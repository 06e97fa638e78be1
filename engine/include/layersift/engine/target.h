// What the user asked to scan, resolved into images and layer blobs.
#ifndef LAYERSIFT_ENGINE_TARGET_H_
#define LAYERSIFT_ENGINE_TARGET_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
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
  // The Dockerfile instruction that made the layer: the created_by of the history entry it maps
  // to (history entries with empty_layer: true make no layer). Empty when the config has none.
  int history_index = -1;
  std::string created_by;
  std::string created_by_redacted;  // with the secrets the scan found in it masked (after a scan)
};

// A piece of the image config scanned as if it were a file: its name is stable across runs
// ("config:Env[3]", "config:Labels[org.example.token]", "history[5].created_by").
struct ConfigFile {
  std::string name;
  std::string content;
};

struct ImageDescriptor {
  std::string image_digest;  // manifest digest (OCI) or image ID (docker-archive); may be empty
  std::string reference;     // tag or ref name, if any
  std::string platform;      // os/arch[/variant] from the config, if known
  std::string config_digest; // "sha256:<hex>" of the config blob, if the image has one
  std::vector<LayerDescriptor> layers;
  // Env, Labels, Cmd, Entrypoint, User, WorkingDir and every history[].created_by; empty for
  // images without a config (bare layers).
  std::vector<ConfigFile> config_files;
};

// The virtual files and the layer attribution of an image config (a parsed JSON document).
// Layers beyond the config's history get no attribution. Exposed for tests.
std::vector<ConfigFile> ConfigFilesOf(const std::string& config_json);
void AttributeLayers(const std::string& config_json, std::vector<LayerDescriptor>& layers);

// k for the virtual file "history[k].created_by", -1 for any other name.
int HistoryIndexOfConfigFile(std::string_view name);

enum class TargetKind { kOciLayout, kDockerArchive, kLayer, kDirectory };

// Targets made of images with configs and layer order (OCI layouts, docker archives), where
// attribution and presence in the final image mean something; not bare layers or directories.
inline bool HasImageSemantics(TargetKind kind) {
  return kind == TargetKind::kOciLayout || kind == TargetKind::kDockerArchive;
}

struct Target {
  std::string spec;  // as the user wrote it
  TargetKind kind = TargetKind::kLayer;
  std::string path;
  std::vector<ImageDescriptor> images;  // directories have none: they are walked as files
};

// Resolves `spec`: oci:DIR[:TAG], docker-archive:FILE, layer:FILE, dir:PATH, or a bare path
// recognised by its content (an OCI layout directory, a docker save tar, a gzip/zstd/tar layer,
// any other directory or file). Throws TargetError.
// `platforms`, when not empty, keeps only the images of those platforms ("os/arch[/variant]";
// "linux/arm64" also matches "linux/arm64/v8"); a target left with no image is an error that
// names the platforms it has.
Target ResolveTarget(const std::string& spec, const std::vector<std::string>& platforms = {});

std::string_view TargetKindName(TargetKind kind);

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_TARGET_H_
