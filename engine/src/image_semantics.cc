#include "layersift/engine/image_semantics.h"

#include <algorithm>

namespace layersift {

namespace {
constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
}  // namespace

std::string_view RemovalReasonName(RemovalReason reason) {
  switch (reason) {
    case RemovalReason::kWhiteout: return "whiteout";
    case RemovalReason::kOpaqueDirectory: return "opaque-directory";
    case RemovalReason::kOverwritten: return "overwritten";
  }
  return "?";
}

void LayerEntries::Add(std::string_view path, bool is_directory) {
  while (path.ends_with('/')) path.remove_suffix(1);
  if (path.empty()) return;
  const size_t slash = path.rfind('/');
  const std::string_view dir = slash == std::string_view::npos ? "" : path.substr(0, slash);
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  Kind kind = is_directory ? Kind::kDirectory : Kind::kOther;
  std::string_view stored = path;
  if (name == kOpaqueMarker) {
    kind = Kind::kOpaque;
    stored = dir;  // the root itself may be opaque: stored as ""
  } else if (name.starts_with(kWhiteoutPrefix)) {
    if (name.starts_with(".wh..wh.")) return;  // aufs hard-link bookkeeping, not a removal
    kind = Kind::kWhiteout;
    // DIR/.wh.NAME removes DIR/NAME: store "DIR/NAME" (the prefix cut out of the name).
    const size_t begin = paths_.size();
    paths_.append(dir);
    if (!dir.empty()) paths_.push_back('/');
    paths_.append(name.substr(kWhiteoutPrefix.size()));
    entries_.push_back(Entry{static_cast<uint32_t>(begin), static_cast<uint32_t>(paths_.size() - begin), kind});
    return;
  }
  const size_t begin = paths_.size();
  paths_.append(stored);
  entries_.push_back(Entry{static_cast<uint32_t>(begin), static_cast<uint32_t>(stored.size()), kind});
}

void LayerEntries::Index() {
  // A path can appear twice (a whiteout and a new file of the same name; tar allows repeats):
  // removals are what matter to lower layers, and they sort above plain entries.
  std::sort(entries_.begin(), entries_.end(), [this](const Entry& a, const Entry& b) {
    const int order = PathOf(a).compare(PathOf(b));
    return order != 0 ? order < 0 : a.kind > b.kind;
  });
}

bool LayerEntries::Find(std::string_view path, Kind* kind) const {
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), path,
                                   [this](const Entry& e, std::string_view p) { return PathOf(e) < p; });
  if (it == entries_.end() || PathOf(*it) != path) return false;
  *kind = it->kind;
  return true;
}

bool LayerEntries::Removes(std::string_view path, RemovalReason* reason) const {
  // The path itself: any entry replaces it, a whiteout removes it. An opaque marker recorded at
  // the path means a directory there, which also replaces a file.
  Kind kind;
  if (Find(path, &kind)) {
    *reason = kind == Kind::kWhiteout ? RemovalReason::kWhiteout : RemovalReason::kOverwritten;
    return true;
  }
  // Its ancestors, nearest first: a whiteout or a non-directory there removes the whole subtree,
  // an opaque marker hides what lower layers put under it. A directory entry changes nothing.
  std::string_view ancestor = path;
  for (size_t slash = ancestor.rfind('/'); slash != std::string_view::npos; slash = ancestor.rfind('/')) {
    ancestor = ancestor.substr(0, slash);
    if (!Find(ancestor, &kind)) continue;
    switch (kind) {
      case Kind::kDirectory: continue;
      case Kind::kOther: *reason = RemovalReason::kOverwritten; return true;
      case Kind::kWhiteout: *reason = RemovalReason::kWhiteout; return true;
      case Kind::kOpaque: *reason = RemovalReason::kOpaqueDirectory; return true;
    }
  }
  // The root made opaque ("/.wh..wh..opq"): everything below is hidden.
  if (Find(std::string_view(), &kind) && kind == Kind::kOpaque) {
    *reason = RemovalReason::kOpaqueDirectory;
    return true;
  }
  return false;
}

Presence PresenceOf(const std::vector<const LayerEntries*>& layers, int layer, std::string_view path) {
  Presence presence;
  if (layer < 0 || static_cast<size_t>(layer) >= layers.size()) return presence;
  for (size_t m = static_cast<size_t>(layer) + 1; m < layers.size(); ++m) {
    if (layers[m] == nullptr) return presence;  // unknown: that layer may have removed it
    RemovalReason reason;
    if (layers[m]->Removes(path, &reason)) {
      presence.known = true;
      presence.present = false;
      presence.removed_by_layer = static_cast<int>(m);
      presence.reason = reason;
      return presence;
    }
  }
  presence.known = true;
  presence.present = true;
  return presence;
}

}  // namespace layersift
