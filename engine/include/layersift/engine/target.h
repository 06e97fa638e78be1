// What the user asked to scan, resolved into images and layer blobs.
#ifndef LAYERSIFT_ENGINE_TARGET_H_
#define LAYERSIFT_ENGINE_TARGET_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "layersift/fetch/byte_source.h"
#include "layersift/fetch/registry_client.h"

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
  std::string diff_id;       // the config's rootfs.diff_ids entry (digest of the tar), if any
  std::vector<std::string> urls;  // where a non-distributable layer is published
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
  std::string index_digest;  // the index it was reached through, if any
  // Rebuilt from the state store instead of read from its manifest and config (see
  // ResolveOptions::recall_image): it has no config files, and its layers' created_by is only the
  // redacted text.
  bool recalled = false;
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

enum class TargetKind { kOciLayout, kDockerArchive, kLayer, kDirectory, kRegistry };

// Targets made of images with configs and layer order (OCI layouts, docker archives), where
// attribution and presence in the final image mean something; not bare layers or directories.
inline bool HasImageSemantics(TargetKind kind) {
  return kind == TargetKind::kOciLayout || kind == TargetKind::kDockerArchive ||
         kind == TargetKind::kRegistry;
}

struct Target {
  std::string spec;  // as the user wrote it
  TargetKind kind = TargetKind::kLayer;
  std::string path;  // the local path, or the normalised image reference
  std::vector<ImageDescriptor> images;  // directories have none: they are walked as files
};

struct ResolveOptions {
  // When not empty, only the images of these platforms are kept ("os/arch[/variant]";
  // "linux/arm64" also matches "linux/arm64/v8"); a target left with no image is an error that
  // names the platforms it has. Index entries of other platforms are not even fetched.
  std::vector<std::string> platforms;
  // The client for registry targets, made on first use; without it they are an error.
  std::function<std::shared_ptr<RegistryClient>()> registry;
  // An image manifest already known (from the state store), by digest, or nullopt. A known
  // manifest's image is rebuilt from what it returns instead of reading the manifest (when reached
  // through an index) and its config: an image whose tag still points where it did costs one
  // manifest request.
  std::function<std::optional<ImageDescriptor>(const std::string& manifest_digest)> recall_image;
};

// Resolves `spec`: oci:DIR[:TAG], docker-archive:FILE, layer:FILE, dir:PATH,
// docker://REGISTRY/REPO[:TAG][@DIGEST], or a bare path recognised by its content (an OCI layout
// directory, a docker save tar, a gzip/zstd/tar layer, any other directory or file); a bare spec
// that is no local path and reads as an image reference ("alpine:3", "localhost:5000/app") is
// pulled from its registry. Registry manifests are verified against the digest asked for and
// against Docker-Content-Digest. Throws TargetError naming the spec.
Target ResolveTarget(const std::string& spec, const ResolveOptions& options);
Target ResolveTarget(const std::string& spec, const std::vector<std::string>& platforms = {});

std::string_view TargetKindName(TargetKind kind);

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_TARGET_H_
