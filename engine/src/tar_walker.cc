#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>

#include "layersift/engine/entry_source.h"

namespace layersift {

std::string_view NormalizeEntryPath(std::string_view path) {
  for (;;) {
    if (path.starts_with("./")) {
      path.remove_prefix(2);
    } else if (path.starts_with("/")) {
      path.remove_prefix(1);
    } else {
      return path;
    }
  }
}

namespace {

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchiveHandle = std::unique_ptr<archive, ArchiveDeleter>;

// ARCHIVE_WARN still delivers the entry (e.g. a name in an unexpected charset). ARCHIVE_RETRY,
// which sorts above WARN, means a damaged header that libarchive would skip: for us an error, since
// whatever lay under the damage would go unscanned.
bool Usable(int rc) { return rc == ARCHIVE_OK || rc == ARCHIVE_WARN; }

// The next non-empty data block of the current entry, in libarchive's buffer (no copy); empty at
// the entry's end or on failure, which sets *failed. Sparse files' holes are not materialised.
std::span<const uint8_t> NextDataBlock(archive* a, bool* failed) {
  const void* block = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  for (;;) {
    const int rc = archive_read_data_block(a, &block, &size, &offset);
    if (rc == ARCHIVE_EOF) return {};
    if (!Usable(rc)) {
      *failed = true;
      return {};
    }
    if (size > 0) return {static_cast<const uint8_t*>(block), size};
  }
}

ArchiveHandle NewTarReader() {
  ArchiveHandle handle(archive_read_new());
  if (!handle) throw SourceError("libarchive: out of memory");
  // Tar only (ustar, pax, GNU): a layer is a tar by definition, and every extra format is attack
  // surface. Compression is undone before libarchive sees the stream.
  archive_read_support_format_tar(handle.get());
  return handle;
}

EntryType TypeOf(archive_entry* entry) {
  if (archive_entry_hardlink(entry) != nullptr) return EntryType::kHardlink;
  switch (archive_entry_filetype(entry)) {
    case AE_IFREG: return EntryType::kRegular;
    case AE_IFDIR: return EntryType::kDirectory;
    case AE_IFLNK: return EntryType::kSymlink;
    default: return EntryType::kOther;
  }
}

// Walks a tar stream pulled from a ByteSource, or a zip archive held in memory, with libarchive.
class ArchiveWalker final : public EntrySource {
 public:
  explicit ArchiveWalker(std::unique_ptr<ByteSource> stream)
      : stream_(std::move(stream)), archive_(NewTarReader()), format_("tar") {
    if (archive_read_open(archive_.get(), this, nullptr, &ArchiveWalker::Read, nullptr) != ARCHIVE_OK) {
      Fail("cannot open tar stream");
    }
  }

  // A zip's index (the central directory) is at its end, so it is read from memory, where
  // libarchive can seek; entries are then read through the index, as unzip does, not by the
  // local headers a streaming reader would trust.
  explicit ArchiveWalker(std::span<const uint8_t> zip) : archive_(archive_read_new()), format_("zip") {
    if (!archive_) throw SourceError("libarchive: out of memory");
    archive_read_support_format_zip_seekable(archive_.get());
    if (archive_read_open_memory(archive_.get(), zip.data(), zip.size()) != ARCHIVE_OK) {
      Fail("cannot open zip archive");
    }
  }

  bool NextEntry(EntryInfo& info) override {
    archive_entry* entry = nullptr;
    const int rc = archive_read_next_header(archive_.get(), &entry);
    if (rc == ARCHIVE_EOF) return false;
    if (!Usable(rc)) Fail(format_ == std::string_view("zip") ? "bad zip entry" : "bad tar header");
    const char* path = archive_entry_pathname(entry);
    if (path == nullptr) path = "";
    info.path = NormalizeEntryPath(path);
    info.type = TypeOf(entry);
    info.size_bytes = archive_entry_size_is_set(entry) ? static_cast<uint64_t>(archive_entry_size(entry)) : 0;
    ++entries_;
    return true;
  }

  std::span<const uint8_t> ReadData() override {
    bool failed = false;
    const std::span<const uint8_t> block = NextDataBlock(archive_.get(), &failed);
    if (failed) Fail(format_ == std::string_view("zip") ? "bad zip entry data" : "bad tar entry data");
    return block;
  }

 private:
  static la_ssize_t Read(archive* a, void* self_ptr, const void** buffer) {
    auto* self = static_cast<ArchiveWalker*>(self_ptr);
    try {
      const std::span<const uint8_t> block = self->stream_->Next();
      *buffer = block.data();
      return static_cast<la_ssize_t>(block.size());
    } catch (...) {
      // libarchive is C: keep the exception out of it and rethrow it once libarchive returns.
      // (A source may throw more than SourceError: a nested archive's zip-bomb guard, say.)
      self->pending_ = std::current_exception();
      archive_set_error(a, EIO, "read failed");
      return -1;
    }
  }

  [[noreturn]] void Fail(const char* what) {
    if (pending_) std::rethrow_exception(pending_);
    const char* message = archive_error_string(archive_.get());
    throw SourceError(std::string(what) + " (entry " + std::to_string(entries_ + 1) + "): " +
                      (message ? message : "unknown libarchive error"));
  }

  std::unique_ptr<ByteSource> stream_;  // null for a zip in memory
  ArchiveHandle archive_;
  const char* format_;
  std::exception_ptr pending_;  // what the read callback caught
  uint64_t entries_ = 0;
};

// Opens a tar file on disk, positioned at nothing yet.
ArchiveHandle OpenTarFile(const std::string& path) {
  ArchiveHandle handle = NewTarReader();
  if (archive_read_open_filename(handle.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    const char* message = archive_error_string(handle.get());
    throw SourceError("cannot read " + path + " as a tar archive: " +
                      (message ? message : "unknown error"));
  }
  return handle;
}

// Advances `handle` to `member_path`; throws if it is not there.
void SeekTarMember(archive* handle, const std::string& archive_path, const std::string& member_path) {
  const std::string_view wanted = NormalizeEntryPath(member_path);
  archive_entry* entry = nullptr;
  int rc;
  while (Usable(rc = archive_read_next_header(handle, &entry))) {
    const char* name = archive_entry_pathname(entry);
    if (name != nullptr && NormalizeEntryPath(name) == wanted) return;
  }
  if (rc == ARCHIVE_EOF) throw SourceError(archive_path + " has no member " + member_path);
  const char* message = archive_error_string(handle);
  throw SourceError("cannot read " + archive_path + ": " + (message ? message : "bad tar header"));
}

class TarMemberSource final : public ByteSource {
 public:
  TarMemberSource(const std::string& archive_path, const std::string& member_path)
      : archive_path_(archive_path), member_path_(member_path), archive_(OpenTarFile(archive_path)) {
    SeekTarMember(archive_.get(), archive_path, member_path);
  }

 private:
  std::span<const uint8_t> NextImpl() override {
    bool failed = false;
    const std::span<const uint8_t> block = NextDataBlock(archive_.get(), &failed);
    if (failed) {
      const char* message = archive_error_string(archive_.get());
      throw SourceError("cannot read member " + member_path_ + " of " + archive_path_ + ": " +
                        (message ? message : "bad tar data"));
    }
    return block;
  }

  std::string archive_path_;
  std::string member_path_;
  ArchiveHandle archive_;
};

class DirectoryWalker final : public EntrySource {
 public:
  DirectoryWalker(const std::string& root, std::function<void(const std::string&)> on_error)
      : root_(root), on_error_(std::move(on_error)), buffer_(1 << 20) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::file_status status = fs::symlink_status(root_, ec);
    if (ec) throw SourceError("cannot read " + root + ": " + ec.message());
    if (!fs::is_directory(status)) {
      single_file_ = true;
    } else {
      it_ = fs::recursive_directory_iterator(root_, fs::directory_options::skip_permission_denied, ec);
      if (ec) throw SourceError("cannot list " + root + ": " + ec.message());
    }
  }
  ~DirectoryWalker() override { CloseFile(); }

  bool NextEntry(EntryInfo& info) override {
    namespace fs = std::filesystem;
    CloseFile();
    for (;;) {
      fs::path path;
      if (single_file_) {
        if (single_done_) return false;
        single_done_ = true;
        path = root_;
        current_path_ = root_.filename().string();
      } else {
        if (started_) {
          std::error_code ec;
          it_.increment(ec);
          if (ec) {
            on_error_("cannot list below " + it_->path().string() + ": " + ec.message());
            continue;
          }
        }
        started_ = true;
        if (it_ == fs::recursive_directory_iterator()) return false;
        path = it_->path();
        current_path_ = fs::relative(path, root_).generic_string();
      }
      std::error_code ec;
      const fs::file_status status = fs::symlink_status(path, ec);
      info.path = current_path_;
      info.size_bytes = 0;
      if (fs::is_symlink(status)) {
        info.type = EntryType::kSymlink;
      } else if (fs::is_directory(status)) {
        info.type = EntryType::kDirectory;
      } else if (fs::is_regular_file(status)) {
        info.type = EntryType::kRegular;
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd_ < 0) {
          on_error_("cannot open " + path.string() + ": " + std::strerror(errno));
          continue;
        }
        struct stat st;
        if (::fstat(fd_, &st) == 0) info.size_bytes = static_cast<uint64_t>(st.st_size);
        current_full_path_ = path.string();
      } else {
        info.type = EntryType::kOther;
      }
      return true;
    }
  }

  std::span<const uint8_t> ReadData() override {
    if (fd_ < 0) return {};
    ssize_t got;
    do {
      got = ::read(fd_, buffer_.data(), buffer_.size());
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
      on_error_("cannot read " + current_full_path_ + ": " + std::strerror(errno));
      got = 0;
    }
    if (got == 0) {
      CloseFile();
      return {};
    }
    return {buffer_.data(), static_cast<size_t>(got)};
  }

 private:
  void CloseFile() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::filesystem::path root_;
  std::function<void(const std::string&)> on_error_;
  std::filesystem::recursive_directory_iterator it_;
  bool single_file_ = false;
  bool single_done_ = false;
  bool started_ = false;
  std::string current_path_;
  std::string current_full_path_;
  int fd_ = -1;
  std::vector<uint8_t> buffer_;
};

}  // namespace

std::unique_ptr<EntrySource> NewTarWalker(std::unique_ptr<ByteSource> tar_stream) {
  return std::make_unique<ArchiveWalker>(std::move(tar_stream));
}

std::unique_ptr<EntrySource> NewZipWalker(std::span<const uint8_t> zip) {
  return std::make_unique<ArchiveWalker>(zip);
}

std::unique_ptr<EntrySource> NewDirectoryWalker(
    const std::string& root, std::function<void(const std::string&)> on_error) {
  return std::make_unique<DirectoryWalker>(root, std::move(on_error));
}

std::unique_ptr<ByteSource> NewTarMemberSource(const std::string& archive_path,
                                               const std::string& member_path) {
  return std::make_unique<TarMemberSource>(archive_path, member_path);
}

std::vector<std::string> ListTarMembers(const std::string& archive_path, size_t limit) {
  ArchiveHandle handle = OpenTarFile(archive_path);
  std::vector<std::string> names;
  archive_entry* entry = nullptr;
  int rc;
  while (names.size() < limit && Usable(rc = archive_read_next_header(handle.get(), &entry))) {
    const char* name = archive_entry_pathname(entry);
    if (name != nullptr) names.emplace_back(NormalizeEntryPath(name));
  }
  if (names.empty()) throw SourceError(archive_path + " is not a readable tar archive");
  return names;
}

std::string ReadTarMember(const std::string& archive_path, const std::string& member_path,
                          size_t max_bytes) {
  TarMemberSource source(archive_path, member_path);
  std::string text;
  for (std::span<const uint8_t> block = source.Next(); !block.empty(); block = source.Next()) {
    if (text.size() + block.size() > max_bytes) {
      throw SourceError(member_path + " in " + archive_path + " is larger than " +
                        std::to_string(max_bytes) + " bytes");
    }
    text.append(reinterpret_cast<const char*>(block.data()), block.size());
  }
  return text;
}

}  // namespace layersift
