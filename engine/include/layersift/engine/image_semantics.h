// How the layers of an image combine into the filesystem a container sees (OCI image spec, "Image
// Layer Filesystem Changeset"): which files a layer added are still there at the end.
#ifndef LAYERSIFT_ENGINE_IMAGE_SEMANTICS_H_
#define LAYERSIFT_ENGINE_IMAGE_SEMANTICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "layersift/engine/scanner.h"

namespace layersift {

// The entries of one layer, as changes to the layers below: paths added (files, directories,
// links) and paths removed (whiteouts, opaque directories). Paths are stored back to back in one
// buffer, so recording an entry costs no allocation once the buffers have grown.
class LayerEntries {
 public:
  enum class Kind : uint8_t {
    kDirectory,  // a directory: merged with the one below, never replaces it
    kOther,      // a file, symlink, hardlink or device: replaces whatever was at its path
    kWhiteout,   // from DIR/.wh.NAME: DIR/NAME is removed from the layers below
    kOpaque,     // from DIR/.wh..wh..opq: the layers below contribute nothing under DIR
  };

  LayerEntries() = default;
  LayerEntries(const LayerEntries&) = delete;  // the index points into paths_
  LayerEntries& operator=(const LayerEntries&) = delete;

  // Records a tar entry (path normalised, no leading "./" or "/"). Whiteout names are recognised
  // here; other ".wh..wh." names (aufs bookkeeping) are ignored.
  void Add(std::string_view path, bool is_directory);

  size_t size() const { return entries_.size(); }

  // Sorts the entries for lookup (no allocation per entry: a layer can hold a million files);
  // call once, after the last Add(). Then const and thread-safe.
  void Index();

  // Whether this layer removes `path` of a lower layer, and why. Requires Index().
  bool Removes(std::string_view path, RemovalReason* reason) const;

  // A compact form for the state store (sorted paths, each stored as the length it shares with
  // the previous one and the rest), and back. Requires Index(); Deserialize returns an indexed
  // object and throws std::runtime_error for bytes that are not a serialized LayerEntries.
  std::string Serialize() const;
  static std::shared_ptr<LayerEntries> Deserialize(std::string_view bytes);

 private:
  struct Entry {
    uint32_t path_begin;
    uint32_t path_size;
    Kind kind;
  };
  std::string_view PathOf(const Entry& e) const { return {paths_.data() + e.path_begin, e.path_size}; }

  // The kind that decides for lower layers at `path` (see Index), if the layer has the path.
  bool Find(std::string_view path, Kind* kind) const;

  std::string paths_;
  std::vector<Entry> entries_;  // after Index(): sorted by path, the deciding kind first
};

// Presence of `path` (added by layer `layer` of an image whose layers' entries are `layers`, from
// the base up) in the image's final filesystem. A null entry is a layer that could not be read
// completely: if no earlier layer decides, presence is unknown.
Presence PresenceOf(const std::vector<const LayerEntries*>& layers, int layer, std::string_view path);

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_IMAGE_SEMANTICS_H_
