// Walking the files of a layer (a tar stream) or of a local directory, one entry at a time.
#ifndef LAYERSIFT_ENGINE_ENTRY_SOURCE_H_
#define LAYERSIFT_ENGINE_ENTRY_SOURCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "layersift/fetch/byte_source.h"

namespace layersift {

enum class EntryType { kRegular, kDirectory, kSymlink, kHardlink, kOther };

struct EntryInfo {
  // Normalised: no leading "./" or "/". Valid until the next NextEntry().
  std::string_view path;
  EntryType type = EntryType::kOther;
  uint64_t size_bytes = 0;
};

// Contract: NextEntry() advances to the next entry (skipping what is left of the current one's
// data) and returns false at the end. ReadData() returns the next block of the current entry's
// data, empty at its end; blocks are valid until the next call. Corruption throws SourceError.
class EntrySource {
 public:
  virtual ~EntrySource() = default;
  virtual bool NextEntry(EntryInfo& info) = 0;
  virtual std::span<const uint8_t> ReadData() = 0;
};

// Walks a tar stream (ustar, pax, GNU long names; no other formats, no compression filters:
// decompression happens before, in the ByteSource chain) with libarchive, fed through read
// callbacks so nothing touches the disk.
std::unique_ptr<EntrySource> NewTarWalker(std::unique_ptr<ByteSource> tar_stream);

// Walks a zip archive (zip, jar, war, apk, whl...) held in memory, which must outlive the walker.
// Corruption, and entries libarchive cannot decode (encrypted, unknown compression), throw
// SourceError.
std::unique_ptr<EntrySource> NewZipWalker(std::span<const uint8_t> zip);

// Walks a local directory tree (or a single file) without following symbolic links. Paths are
// relative to `root` (a single file is reported under its own name). Unreadable entries are
// reported through `on_error` and skipped, so one bad file does not end the walk.
std::unique_ptr<EntrySource> NewDirectoryWalker(
    const std::string& root, std::function<void(const std::string&)> on_error);

// A ByteSource over one member of a tar file on disk (e.g. a layer inside `docker save` output).
// Throws SourceError if the member is missing.
std::unique_ptr<ByteSource> NewTarMemberSource(const std::string& archive_path,
                                               const std::string& member_path);

// Names of the regular files at the top of a tar file on disk, up to `limit` entries, to sniff
// what kind of archive it is. Throws SourceError if it is not a readable tar.
std::vector<std::string> ListTarMembers(const std::string& archive_path, size_t limit);

// Reads a whole (small) member of a tar file on disk, e.g. manifest.json; at most `max_bytes`.
std::string ReadTarMember(const std::string& archive_path, const std::string& member_path,
                          size_t max_bytes);

// Strips leading "./" and "/" from an archive path.
std::string_view NormalizeEntryPath(std::string_view path);

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_ENTRY_SOURCE_H_
