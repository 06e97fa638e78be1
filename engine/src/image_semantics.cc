#include "layersift/engine/image_semantics.h"

#include <algorithm>
#include <stdexcept>

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

namespace {

constexpr char kEntriesFormat = 1;

void PutVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

uint64_t GetVarint(std::string_view& in) {
  uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) throw std::runtime_error("layer entries: truncated");
    const uint8_t byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  throw std::runtime_error("layer entries: malformed length");
}

}  // namespace

std::string LayerEntries::Serialize() const {
  std::string out(1, kEntriesFormat);
  PutVarint(out, entries_.size());
  std::string_view previous;
  for (const Entry& e : entries_) {
    const std::string_view path = PathOf(e);
    size_t shared = 0;
    while (shared < previous.size() && shared < path.size() && previous[shared] == path[shared]) ++shared;
    out.push_back(static_cast<char>(e.kind));
    PutVarint(out, shared);
    PutVarint(out, path.size() - shared);
    out.append(path.substr(shared));
    previous = path;
  }
  return out;
}

std::shared_ptr<LayerEntries> LayerEntries::Deserialize(std::string_view in) {
  if (in.empty() || in.front() != kEntriesFormat) throw std::runtime_error("layer entries: unknown format");
  in.remove_prefix(1);
  auto entries = std::make_shared<LayerEntries>();
  const uint64_t count = GetVarint(in);
  if (count > in.size()) throw std::runtime_error("layer entries: count larger than the data");
  entries->entries_.reserve(count);
  uint32_t previous_begin = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (in.empty()) throw std::runtime_error("layer entries: truncated");
    const uint8_t kind = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    if (kind > static_cast<uint8_t>(Kind::kOpaque)) throw std::runtime_error("layer entries: bad kind");
    const uint64_t shared = GetVarint(in);
    const uint64_t rest = GetVarint(in);
    const uint64_t previous_size = i == 0 ? 0 : entries->entries_.back().path_size;
    if (shared > previous_size || rest > in.size()) throw std::runtime_error("layer entries: bad path length");
    const uint32_t begin = static_cast<uint32_t>(entries->paths_.size());
    // The shared prefix is copied from the previous path (append may reallocate: copy by index).
    for (uint64_t k = 0; k < shared; ++k) entries->paths_.push_back(entries->paths_[previous_begin + k]);
    entries->paths_.append(in.substr(0, rest));
    in.remove_prefix(rest);
    entries->entries_.push_back(Entry{begin, static_cast<uint32_t>(shared + rest), static_cast<Kind>(kind)});
    previous_begin = begin;
  }
  if (!in.empty()) throw std::runtime_error("layer entries: trailing bytes");
  entries->Index();
  return entries;
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
