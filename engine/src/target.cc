#include "layersift/engine/target.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "layersift/engine/decompress.h"
#include "layersift/engine/digest.h"
#include "layersift/engine/entry_source.h"
#include "layersift/fetch/file_source.h"
#include "layersift/fetch/image_reference.h"
#include "layersift/fetch/registry_client.h"

namespace layersift {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kMaxMetadataBytes = 16 << 20;  // index, manifests and configs are small JSON

constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";

std::string ReadSource(ByteSource& source, const std::string& what) {
  std::string text;
  for (std::span<const uint8_t> block = source.Next(); !block.empty(); block = source.Next()) {
    if (text.size() + block.size() > kMaxMetadataBytes) {
      throw SourceError(what + " is larger than " + std::to_string(kMaxMetadataBytes) + " bytes");
    }
    text.append(reinterpret_cast<const char*>(block.data()), block.size());
  }
  return text;
}

json ParseJson(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw TargetError(what + " is not valid JSON: " + e.what());
  }
}

std::string PlatformOf(const json& config) {
  if (!config.is_object()) return "";
  const std::string os = config.value("os", "");
  const std::string arch = config.value("architecture", "");
  if (os.empty() && arch.empty()) return "";
  std::string platform = os + "/" + arch;
  const std::string variant = config.value("variant", "");
  if (!variant.empty()) platform += "/" + variant;
  return platform;
}

// The string items of a JSON array, or the string itself; anything else contributes nothing.
std::string JoinedStrings(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  std::string joined;
  if (!value.is_array()) return joined;
  for (const json& item : value) {
    if (!item.is_string()) continue;
    if (!joined.empty()) joined.push_back(' ');
    joined += item.get<std::string>();
  }
  return joined;
}

json ParseConfig(const std::string& config_json) {
  json config = json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  return config.is_object() ? config : json::object();
}

void RequireDigest(const std::string& digest) {
  if (!IsSha256Digest(digest)) throw TargetError("unsupported or malformed digest '" + digest + "'");
}

// A string member of a JSON object, or "" (configs are untrusted: a wrong type is no value).
std::string StringField(const json& object, const char* key) {
  if (!object.is_object()) return "";
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

constexpr std::string_view kHistoryFilePrefix = "history[";
constexpr std::string_view kHistoryFileSuffix = "].created_by";

std::vector<ConfigFile> ConfigFilesFrom(const json& config) {
  std::vector<ConfigFile> files;
  if (!config.is_object()) return files;
  auto add = [&files](std::string name, std::string content) {
    if (!content.empty()) files.push_back(ConfigFile{std::move(name), std::move(content)});
  };
  const json container = config.value("config", json::object());
  if (container.is_object()) {
    const json env = container.value("Env", json::array());
    if (env.is_array()) {
      for (size_t i = 0; i < env.size(); ++i) {
        if (env[i].is_string()) add("config:Env[" + std::to_string(i) + "]", env[i].get<std::string>());
      }
    }
    const json labels = container.value("Labels", json::object());
    if (labels.is_object()) {
      // Scanned as KEY=value: rules that look for a name next to the value see the label's key.
      for (const auto& [key, value] : labels.items()) {
        if (value.is_string()) add("config:Labels[" + key + "]", key + "=" + value.get<std::string>());
      }
    }
    for (const char* field : {"Cmd", "Entrypoint", "User", "WorkingDir"}) {
      if (container.contains(field)) add(std::string("config:") + field, JoinedStrings(container[field]));
    }
  }
  const json history = config.value("history", json::array());
  if (history.is_array()) {
    for (size_t k = 0; k < history.size(); ++k) {
      add(std::string(kHistoryFilePrefix) + std::to_string(k) + std::string(kHistoryFileSuffix),
          StringField(history[k], "created_by"));
    }
  }
  return files;
}

void AttributeLayersFrom(const json& config, std::vector<LayerDescriptor>& layers) {
  const json history = config.is_object() ? config.value("history", json::array()) : json::array();
  if (!history.is_array()) return;
  size_t layer = 0;
  for (size_t k = 0; k < history.size() && layer < layers.size(); ++k) {
    if (!history[k].is_object()) continue;
    // Instructions that change no files (ENV, LABEL, ARG, ...) are recorded without a layer.
    const auto empty = history[k].find("empty_layer");
    if (empty != history[k].end() && empty->is_boolean() && empty->get<bool>()) continue;
    layers[layer].history_index = static_cast<int>(k);
    layers[layer].created_by = StringField(history[k], "created_by");
    layers[layer].created_by_redacted = layers[layer].created_by;
    ++layer;
  }
}

// Reads the config's platform, virtual files and history into `image`.
void ApplyConfig(const json& config, ImageDescriptor& image) {
  image.platform = PlatformOf(config);
  image.config_files = ConfigFilesFrom(config);
  AttributeLayersFrom(config, image.layers);
  const json rootfs = config.is_object() ? config.value("rootfs", json::object()) : json::object();
  const json diff_ids = rootfs.is_object() ? rootfs.value("diff_ids", json::array()) : json::array();
  for (size_t i = 0; i < image.layers.size() && diff_ids.is_array() && i < diff_ids.size(); ++i) {
    if (diff_ids[i].is_string()) image.layers[i].diff_id = diff_ids[i].get<std::string>();
  }
}

bool PlatformMatches(const std::string& platform, const std::vector<std::string>& wanted) {
  if (wanted.empty()) return true;
  for (const std::string& w : wanted) {
    // "linux/arm64" names the arm64 image whatever its variant; "linux/arm64/v8" only that one.
    if (platform == w || platform.rfind(w + "/", 0) == 0) return true;
  }
  return false;
}

// Where an image's manifests and blobs come from: an OCI layout on disk or a registry. The walk
// over indexes and manifests (ImageWalk) is the same for both.
class ImageStore {
 public:
  virtual ~ImageStore() = default;
  // The manifest or index `digest`, verified against it. `media_type` comes in from the
  // descriptor (may be empty) and goes out as the store knows it.
  virtual std::string ReadManifest(const std::string& digest, std::string& media_type) = 0;
  // A small blob (the image config), verified against its digest.
  virtual std::string ReadBlob(const std::string& digest, uint64_t size_bytes) = 0;
  // Opens a layer blob as stored, when the scan gets to it.
  virtual std::function<std::unique_ptr<ByteSource>()> LayerOpener(const json& descriptor) = 0;
};

// Reads all of `source`, verified against `digest`, as a small document.
std::string ReadVerified(std::unique_ptr<ByteSource> source, const std::string& digest, const std::string& what) {
  try {
    DigestingSource verified(std::move(source), digest);
    return ReadSource(verified, what + " " + digest);
  } catch (const SourceError& e) {
    throw TargetError(what + " " + digest + ": " + e.what());
  }
}

bool IsIndex(const std::string& media_type, const json& document) {
  if (media_type == kOciIndex || media_type == kDockerManifestList) return true;
  // An OCI index may omit its mediaType: it is the document with manifests and no layers.
  return media_type.empty() && document.is_object() && document.contains("manifests") &&
         !document.contains("layers");
}

// Expands indexes (keeping the platforms asked for) and turns manifests into images.
class ImageWalk {
 public:
  ImageWalk(ImageStore& store, const ResolveOptions& options)
      : store_(store), platforms_(options.platforms), recall_(options.recall_image) {}

  void AddDescriptor(const json& descriptor, const std::string& reference, int depth,
                     const std::string& index_digest) {
    const std::string digest = descriptor.value("digest", "");
    if (AddRecalled(digest, reference, index_digest)) return;
    std::string media_type = descriptor.value("mediaType", "");
    const std::string text = store_.ReadManifest(digest, media_type);
    AddDocument(ParseJson(text, "manifest " + digest), media_type, digest, reference,
                descriptor.value("platform", json()), depth, index_digest);
  }

  void AddDocument(const json& document, std::string media_type, const std::string& digest,
                   const std::string& reference, const json& platform_hint, int depth,
                   const std::string& index_digest = "") {
    if (media_type.empty() && document.is_object()) media_type = document.value("mediaType", "");
    if (IsIndex(media_type, document)) {
      if (depth > 4) throw TargetError("image index nesting deeper than 4 levels at " + digest);
      for (const json& child : document.value("manifests", json::array())) {
        // BuildKit stores provenance and SBOM attestations as pseudo-images: not image content.
        const json annotations = child.value("annotations", json::object());
        if (annotations.value("vnd.docker.reference.type", "") == "attestation-manifest") continue;
        // A platform not asked for is not fetched at all (a registry round trip per image).
        const std::string platform = PlatformOf(child.value("platform", json()));
        if (!platform.empty() && !PlatformMatches(platform, platforms_)) {
          skipped_platforms_.push_back(platform);
          continue;
        }
        AddDescriptor(child, reference, depth + 1, digest);
      }
      return;
    }
    if (!document.is_object() || document.value("schemaVersion", json(0)) != json(2)) {
      throw TargetError("image manifest " + digest + " has an unsupported schemaVersion");
    }
    if (AddRecalled(digest, reference, index_digest)) return;  // its config need not be read
    ImageDescriptor image;
    image.image_digest = digest;
    image.reference = reference;
    image.index_digest = index_digest;
    const json config_descriptor = document.value("config", json::object());
    const std::string config_digest = config_descriptor.value("digest", "");
    json config;
    if (!config_digest.empty()) {
      const std::string text = store_.ReadBlob(config_digest, config_descriptor.value("size", uint64_t{0}));
      config = ParseJson(text, "image config " + config_digest);
      image.config_digest = config_digest;
    }
    int index = 0;
    for (const json& layer : document.value("layers", json::array())) {
      LayerDescriptor desc;
      desc.index = index++;
      desc.digest = layer.value("digest", "");
      desc.media_type = layer.value("mediaType", "");
      desc.size_bytes = layer.value("size", uint64_t{0});
      desc.verify_digest = true;
      for (const json& url : layer.value("urls", json::array())) {
        if (url.is_string()) desc.urls.push_back(url.get<std::string>());
      }
      if (!IsSha256Digest(desc.digest)) {
        throw TargetError("layer " + std::to_string(desc.index) + " of manifest " + digest +
                          " has an unsupported or malformed digest '" + desc.digest + "'");
      }
      desc.open = store_.LayerOpener(layer);
      image.layers.push_back(std::move(desc));
    }
    if (!config.is_null()) ApplyConfig(config, image);
    if (image.platform.empty()) image.platform = PlatformOf(platform_hint);
    images_.push_back(std::move(image));
  }

  std::vector<ImageDescriptor>& images() { return images_; }
  const std::vector<std::string>& skipped_platforms() const { return skipped_platforms_; }

 private:
  // The image of a manifest the state store knows, with its layers opened from this store.
  bool AddRecalled(const std::string& digest, const std::string& reference, const std::string& index_digest) {
    if (!recall_ || !IsSha256Digest(digest)) return false;
    std::optional<ImageDescriptor> image = recall_(digest);
    if (!image) return false;
    image->image_digest = digest;
    image->reference = reference;
    image->index_digest = index_digest;
    image->recalled = true;
    for (LayerDescriptor& layer : image->layers) {
      json descriptor = {{"digest", layer.digest}, {"mediaType", layer.media_type}, {"size", layer.size_bytes}};
      if (!layer.urls.empty()) descriptor["urls"] = layer.urls;
      layer.verify_digest = true;
      layer.open = store_.LayerOpener(descriptor);
    }
    images_.push_back(std::move(*image));
    return true;
  }

  ImageStore& store_;
  const std::vector<std::string>& platforms_;
  const std::function<std::optional<ImageDescriptor>(const std::string&)>& recall_;
  std::vector<ImageDescriptor> images_;
  std::vector<std::string> skipped_platforms_;
};

// Where a non-distributable ("foreign") layer is published: the first of its descriptor's urls,
// or "" for any other layer.
std::string ForeignLayerUrl(const json& descriptor) {
  const std::string media_type = descriptor.value("mediaType", "");
  if (media_type.find(".foreign.") == std::string::npos && media_type.find("nondistributable") == std::string::npos) {
    return "";
  }
  const json urls = descriptor.value("urls", json::array());
  return urls.is_array() && !urls.empty() && urls[0].is_string() ? urls[0].get<std::string>() : "";
}

class OciLayout final : public ImageStore {
 public:
  explicit OciLayout(std::string dir) : dir_(std::move(dir)) {}

  std::string BlobPath(const std::string& digest) const {
    RequireDigest(digest);
    return dir_ + "/blobs/sha256/" + digest.substr(7);
  }

  std::string ReadManifest(const std::string& digest, std::string& media_type) override {
    return ReadVerified(OpenFile(digest), digest, "manifest");
  }

  std::string ReadBlob(const std::string& digest, uint64_t) override {
    return ReadVerified(OpenFile(digest), digest, "image config");
  }

  std::function<std::unique_ptr<ByteSource>()> LayerOpener(const json& descriptor) override {
    const std::string path = BlobPath(descriptor.value("digest", ""));
    if (const std::string url = ForeignLayerUrl(descriptor); !url.empty()) {
      // A non-distributable layer is usually left out of a layout: say where it lives.
      return [path, url]() -> std::unique_ptr<ByteSource> {
        std::error_code ec;
        if (!fs::exists(path, ec)) {
          throw SourceError("non-distributable layer not in the layout (it is published at " + url + ")");
        }
        return std::make_unique<FileSource>(path);
      };
    }
    return [path] { return std::make_unique<FileSource>(path); };
  }

  std::vector<ImageDescriptor> Resolve(const std::string& tag, ImageWalk& walk) {
    std::ifstream in(dir_ + "/index.json", std::ios::binary);
    if (!in) throw TargetError("cannot read " + dir_ + "/index.json");
    std::stringstream text;
    text << in.rdbuf();
    const json index = ParseJson(text.str(), dir_ + "/index.json");
    std::vector<std::string> available;
    size_t matched = 0;
    for (const json& descriptor : index.value("manifests", json::array())) {
      const json annotations = descriptor.value("annotations", json::object());
      const std::string name = annotations.value("org.opencontainers.image.ref.name", "");
      if (!name.empty()) available.push_back(name);
      if (!tag.empty() && name != tag) continue;
      ++matched;
      walk.AddDescriptor(descriptor, name, 0, "");
    }
    if (!tag.empty() && matched == 0) {
      std::string list;
      for (const std::string& name : available) list += (list.empty() ? "" : ", ") + name;
      throw TargetError("tag '" + tag + "' not found in " + dir_ +
                        (list.empty() ? " (it has no tagged manifest)" : " (tags: " + list + ")"));
    }
    return std::move(walk.images());
  }

 private:
  std::unique_ptr<ByteSource> OpenFile(const std::string& digest) const {
    try {
      return std::make_unique<FileSource>(BlobPath(digest));
    } catch (const SourceError& e) {
      throw TargetError(e.what());
    }
  }

  std::string dir_;
};

// Images pulled from a registry: manifests by digest, blobs streamed by the registry client.
class RegistryStore final : public ImageStore {
 public:
  RegistryStore(std::shared_ptr<RegistryClient> client, ImageReference reference)
      : client_(std::move(client)), reference_(std::move(reference)) {}

  std::string ReadManifest(const std::string& digest, std::string& media_type) override {
    RequireDigest(digest);
    ManifestResponse manifest = Fetch(digest);
    if (!manifest.media_type.empty()) media_type = manifest.media_type;
    return std::move(manifest.bytes);
  }

  std::string ReadBlob(const std::string& digest, uint64_t size_bytes) override {
    RequireDigest(digest);
    if (size_bytes > kMaxMetadataBytes) {
      throw TargetError("image config " + digest + " is larger than " + std::to_string(kMaxMetadataBytes) + " bytes");
    }
    return ReadVerified(Guard([&] {
                          return client_->OpenBlob(reference_.registry, reference_.repository, digest, size_bytes);
                        }),
                        digest, "image config");
  }

  std::function<std::unique_ptr<ByteSource>()> LayerOpener(const json& descriptor) override {
    const std::string digest = descriptor.value("digest", "");
    const uint64_t size = descriptor.value("size", uint64_t{0});
    std::shared_ptr<RegistryClient> client = client_;
    if (const std::string url = ForeignLayerUrl(descriptor); !url.empty()) {
      // Non-distributable layers are not in the registry: they come from where they are published.
      return [client, url, size, digest] { return client->OpenUrl(url, size, digest + " at " + url); };
    }
    const ImageReference reference = reference_;
    return [client, reference, digest, size]() -> std::unique_ptr<ByteSource> {
      try {
        return client->OpenBlob(reference.registry, reference.repository, digest, size);
      } catch (const RegistryError& e) {
        throw SourceError(e.what());
      }
    };
  }

  std::vector<ImageDescriptor> Resolve(ImageWalk& walk) {
    const ManifestResponse manifest = Fetch(reference_.ManifestReference());
    const std::string digest = "sha256:" + Sha256::HexOf(manifest.bytes);
    walk.AddDocument(ParseJson(manifest.bytes, "manifest " + reference_.ToString()), manifest.media_type, digest,
                     reference_.ToString(), json(), 0);
    return std::move(walk.images());
  }

 private:
  // A manifest by tag or digest; one asked for by digest must hash to it (registries are not
  // trusted to serve what they were asked for), and one whose Docker-Content-Digest disagrees
  // with its bytes is refused.
  ManifestResponse Fetch(const std::string& reference) {
    ManifestResponse manifest =
        Guard([&] { return client_->GetManifest(reference_.registry, reference_.repository, reference); });
    const std::string digest = "sha256:" + Sha256::HexOf(manifest.bytes);
    if (reference.rfind("sha256:", 0) == 0 && digest != reference) {
      throw TargetError("manifest " + reference + " from " + reference_.registry + "/" + reference_.repository +
                        " hashes to " + digest + ": not what was asked for");
    }
    if (!manifest.header_digest.empty() && manifest.header_digest.rfind("sha256:", 0) == 0 &&
        manifest.header_digest != digest) {
      throw TargetError("manifest " + reference + ": the registry says its digest is " + manifest.header_digest +
                        " but its bytes hash to " + digest);
    }
    return manifest;
  }

  template <typename F>
  static auto Guard(F&& call) -> decltype(call()) {
    try {
      return call();
    } catch (const RegistryError& e) {
      throw TargetError(e.what());
    }
  }

  std::shared_ptr<RegistryClient> client_;
  ImageReference reference_;
};

std::vector<ImageDescriptor> ResolveDockerArchive(const std::string& path) {
  json manifest;
  try {
    manifest = ParseJson(ReadTarMember(path, "manifest.json", kMaxMetadataBytes),
                         path + " manifest.json");
  } catch (const SourceError& e) {
    throw TargetError(e.what());
  }
  if (!manifest.is_array()) throw TargetError(path + ": manifest.json is not a list of images");
  std::vector<ImageDescriptor> images;
  for (const json& entry : manifest) {
    ImageDescriptor image;
    const std::string config_path = entry.value("Config", "");
    const json tags = entry.value("RepoTags", json::array());
    if (tags.is_array() && !tags.empty() && tags[0].is_string()) image.reference = tags[0];
    json config;
    if (!config_path.empty()) {
      try {
        const std::string config_text = ReadTarMember(path, config_path, kMaxMetadataBytes);
        image.image_digest = "sha256:" + Sha256::HexOf(config_text);  // docker's image ID
        image.config_digest = image.image_digest;
        config = ParseJson(config_text, path + " " + config_path);
      } catch (const SourceError& e) {
        throw TargetError(e.what());
      }
    }
    const json diff_ids = config.is_object() && config.contains("rootfs")
                              ? config["rootfs"].value("diff_ids", json::array())
                              : json::array();
    int index = 0;
    for (const json& layer_path_json : entry.value("Layers", json::array())) {
      const std::string layer_path = layer_path_json.get<std::string>();
      LayerDescriptor desc;
      desc.index = index;
      // Newer docker save output names layers blobs/sha256/<hex>: the path is the digest, so it is
      // verified. Classic output names them <id>/layer.tar: report the diff_id from the config.
      const std::string prefix = "blobs/sha256/";
      if (layer_path.rfind(prefix, 0) == 0 && IsSha256Digest("sha256:" + layer_path.substr(prefix.size()))) {
        desc.digest = "sha256:" + layer_path.substr(prefix.size());
        desc.verify_digest = true;
      } else if (diff_ids.is_array() && static_cast<size_t>(index) < diff_ids.size()) {
        desc.digest = diff_ids[static_cast<size_t>(index)].get<std::string>();
      }
      desc.open = [path, layer_path] { return NewTarMemberSource(path, layer_path); };
      image.layers.push_back(std::move(desc));
      ++index;
    }
    if (!config.is_null()) ApplyConfig(config, image);
    images.push_back(std::move(image));
  }
  return images;
}

std::vector<ImageDescriptor> ResolveLayerFile(const std::string& path) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) throw TargetError("cannot read layer " + path + ": " + ec.message());
  LayerDescriptor desc;
  desc.index = 0;
  desc.size_bytes = size;
  desc.open = [path] { return std::make_unique<FileSource>(path); };
  ImageDescriptor image;
  image.layers.push_back(std::move(desc));
  return {image};
}

// Recognises a bare path by what it holds.
TargetKind Sniff(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return fs::exists(fs::path(path) / "oci-layout", ec) ? TargetKind::kOciLayout
                                                          : TargetKind::kDirectory;
  }
  if (!fs::exists(path, ec)) throw TargetError(path + " does not exist");
  uint8_t head[512 + 8] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(head), sizeof(head));
  const size_t got = static_cast<size_t>(in.gcount());
  if ((got >= 2 && head[0] == 0x1f && head[1] == 0x8b) ||
      (got >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd)) {
    return TargetKind::kLayer;
  }
  if (got >= 262 && std::string_view(reinterpret_cast<char*>(head) + 257, 5) == "ustar") {
    try {
      for (const std::string& name : ListTarMembers(path, 1 << 20)) {
        if (name == "manifest.json") return TargetKind::kDockerArchive;
      }
    } catch (const SourceError&) {
      // Not a readable tar after all: scan it as a layer and let the layer report why.
    }
    return TargetKind::kLayer;
  }
  return TargetKind::kDirectory;
}

}  // namespace

std::vector<ConfigFile> ConfigFilesOf(const std::string& config_json) {
  return ConfigFilesFrom(ParseConfig(config_json));
}

void AttributeLayers(const std::string& config_json, std::vector<LayerDescriptor>& layers) {
  AttributeLayersFrom(ParseConfig(config_json), layers);
}

int HistoryIndexOfConfigFile(std::string_view name) {
  if (!name.starts_with(kHistoryFilePrefix) || !name.ends_with(kHistoryFileSuffix)) return -1;
  const std::string_view digits = name.substr(
      kHistoryFilePrefix.size(), name.size() - kHistoryFilePrefix.size() - kHistoryFileSuffix.size());
  int index = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  return error == std::errc() && end == digits.data() + digits.size() && !digits.empty() ? index : -1;
}

std::string_view TargetKindName(TargetKind kind) {
  switch (kind) {
    case TargetKind::kOciLayout: return "oci";
    case TargetKind::kDockerArchive: return "docker-archive";
    case TargetKind::kLayer: return "layer";
    case TargetKind::kDirectory: return "dir";
    case TargetKind::kRegistry: return "docker";
  }
  return "?";
}

namespace {

// A bare spec that is no local path is an image reference ("alpine", "localhost:5000/app:1"),
// unless it is written like a path or a file name, which then simply does not exist.
bool LooksLikeLocalPath(const std::string& spec) {
  if (spec.empty() || spec[0] == '/' || spec[0] == '.' || spec[0] == '~') return true;
  for (const char* suffix : {".tar", ".tar.gz", ".tgz", ".gz", ".zst", ".tzst", ".json"}) {
    if (spec.ends_with(suffix)) return true;
  }
  return false;
}

}  // namespace

Target ResolveTarget(const std::string& spec, const std::vector<std::string>& platforms) {
  return ResolveTarget(spec, ResolveOptions{platforms, nullptr});
}

Target ResolveTarget(const std::string& spec, const ResolveOptions& options) {
  Target target;
  target.spec = spec;
  std::string rest = spec;
  std::string tag;
  auto take_prefix = [&](std::string_view prefix) {
    if (rest.rfind(prefix, 0) != 0) return false;
    rest = rest.substr(prefix.size());
    return true;
  };
  std::error_code ec;
  if (take_prefix("oci:")) {
    target.kind = TargetKind::kOciLayout;
    const size_t colon = rest.rfind(':');
    if (!fs::is_directory(rest, ec) && colon != std::string::npos &&
        rest.find('/', colon) == std::string::npos) {
      tag = rest.substr(colon + 1);
      rest = rest.substr(0, colon);
    }
  } else if (take_prefix("docker-archive:")) {
    target.kind = TargetKind::kDockerArchive;
  } else if (take_prefix("layer:")) {
    target.kind = TargetKind::kLayer;
  } else if (take_prefix("dir:")) {
    target.kind = TargetKind::kDirectory;
  } else if (spec.rfind("docker://", 0) == 0) {
    target.kind = TargetKind::kRegistry;
  } else if (!fs::exists(spec, ec) && !LooksLikeLocalPath(spec)) {
    const size_t colon = spec.find(':');
    const std::string prefix = spec.substr(0, colon);
    // skopeo's other transports ("containers-storage:app") read like name:tag references.
    static constexpr std::string_view kOtherTransports[] = {
        "containers-storage", "docker-daemon", "oci-archive", "ostree", "sif", "tarball"};
    if (colon != std::string::npos &&
        (spec.compare(colon, 3, "://") == 0 ||
         std::find(std::begin(kOtherTransports), std::end(kOtherTransports), prefix) != std::end(kOtherTransports))) {
      throw TargetError(spec + ": unknown transport '" + prefix +
                        "' (expected oci:, docker-archive:, layer:, dir: or docker://)");
    }
    try {
      ParseImageReference(spec);
      target.kind = TargetKind::kRegistry;
    } catch (const ReferenceError& e) {
      if (colon != std::string::npos && colon > 1 && spec.find('/') > colon) {
        throw TargetError(spec + ": unknown transport '" + spec.substr(0, colon) +
                          "' (expected oci:, docker-archive:, layer:, dir: or docker://)");
      }
      throw TargetError(spec + " does not exist, and is not an image reference either (" + e.what() + ")");
    }
  } else {
    target.kind = Sniff(spec);
  }
  if (rest.empty()) throw TargetError(spec + ": no path given");
  target.path = rest;
  if (target.kind != TargetKind::kRegistry && !fs::exists(rest, ec)) {
    throw TargetError(spec + ": " + rest + " does not exist");
  }
  std::vector<std::string> skipped_platforms;
  try {
    switch (target.kind) {
      case TargetKind::kOciLayout: {
        if (!fs::is_directory(rest, ec)) throw TargetError(rest + " is not a directory");
        OciLayout layout(rest);
        ImageWalk walk(layout, options);
        target.images = layout.Resolve(tag, walk);
        skipped_platforms = walk.skipped_platforms();
        break;
      }
      case TargetKind::kRegistry: {
        ImageReference reference;
        try {
          reference = ParseImageReference(rest);
        } catch (const ReferenceError& e) {
          throw TargetError(e.what());
        }
        target.path = reference.ToString();
        if (!options.registry) throw TargetError("registry targets are not available here");
        RegistryStore store(options.registry(), reference);
        ImageWalk walk(store, options);
        target.images = store.Resolve(walk);
        skipped_platforms = walk.skipped_platforms();
        break;
      }
      case TargetKind::kDockerArchive:
        target.images = ResolveDockerArchive(rest);
        break;
      case TargetKind::kLayer:
        target.images = ResolveLayerFile(rest);
        break;
      case TargetKind::kDirectory:
        break;
    }
    if (!options.platforms.empty() && target.kind != TargetKind::kDirectory && target.kind != TargetKind::kLayer) {
      std::string available;
      for (const std::string& platform : skipped_platforms) available += (available.empty() ? "" : ", ") + platform;
      std::vector<ImageDescriptor> kept;
      for (ImageDescriptor& image : target.images) {
        available += (available.empty() ? "" : ", ") + (image.platform.empty() ? "unknown" : image.platform);
        if (PlatformMatches(image.platform, options.platforms)) kept.push_back(std::move(image));
      }
      if (kept.empty()) {
        throw TargetError("no image for the platform(s) asked for (it has: " + available + ")");
      }
      target.images = std::move(kept);
    }
  } catch (const TargetError& e) {
    throw TargetError(spec + ": " + e.what());
  }
  return target;
}

}  // namespace layersift
