#include "layer_reader.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>

#include "layersift/engine/decompress.h"

namespace layersift {

namespace {

// An archive's members expanded past a zip-bomb guard. Not a SourceError: it is caught where the
// top-level archive began, through any nested ones, and nothing in between may take it for
// corruption.
class ArchiveLimitError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One archive that is deliberately not expanded (too large to hold in memory).
class ArchiveNotExpanded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Kept between zips so that small ones cost no allocation; a buffer grown past this by a large
// zip is given back.
constexpr size_t kKeptZipBufferBytes = 16 << 20;

bool EndsWith(std::string_view name, std::string_view suffix) {
  if (name.size() < suffix.size()) return false;
  const std::string_view tail = name.substr(name.size() - suffix.size());
  for (size_t i = 0; i < suffix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(tail[i])) != suffix[i]) return false;
  }
  return true;
}

// Names of archives worth opening. The format is then decided by the bytes, not the name: an
// Alpine .apk is a gzip tar, an Android .apk a zip.
bool IsArchiveName(std::string_view name) {
  for (std::string_view suffix : {".zip", ".jar", ".war", ".ear", ".whl", ".apk", ".tar", ".tgz",
                                  ".tar.gz", ".tar.zst", ".tzst"}) {
    if (EndsWith(name, suffix)) return true;
  }
  return false;
}

enum class ArchiveKind { kNone, kZip, kTarStream };

ArchiveKind ArchiveKindOf(std::span<const uint8_t> head) {
  auto starts = [&](std::initializer_list<uint8_t> magic) {
    return head.size() >= magic.size() && std::equal(magic.begin(), magic.end(), head.begin());
  };
  if (starts({'P', 'K', 3, 4}) || starts({'P', 'K', 5, 6})) return ArchiveKind::kZip;  // 5 6: empty
  if (starts({0x1f, 0x8b}) || starts({0x28, 0xb5, 0x2f, 0xfd})) return ArchiveKind::kTarStream;
  if (head.size() >= 262 && std::memcmp(head.data() + 257, "ustar", 5) == 0) return ArchiveKind::kTarStream;
  return ArchiveKind::kNone;
}

// The current entry's data as a ByteSource, its first block peeked to tell the archive kind.
// Records in *outer_failed whether the walker it reads from failed: that is corruption of the
// enclosing layer or archive, not of the archive being opened. (The flag lives with the caller:
// a walker that owns this source may destroy it while the exception is still on its way.)
class EntryData final : public ByteSource {
 public:
  EntryData(EntrySource& outer, bool* outer_failed) : outer_(outer), outer_failed_(outer_failed) {}

  std::span<const uint8_t> Peek() {
    if (!peeked_) {
      pending_ = Pull();
      peeked_ = true;
    }
    return pending_;
  }

 private:
  std::span<const uint8_t> NextImpl() override {
    if (peeked_ && !pending_.empty()) {
      const std::span<const uint8_t> block = pending_;
      pending_ = {};
      return block;
    }
    return Pull();
  }
  std::span<const uint8_t> Pull() {
    try {
      return outer_.ReadData();
    } catch (...) {
      *outer_failed_ = true;
      throw;
    }
  }

  EntrySource& outer_;
  bool* outer_failed_;
  bool peeked_ = false;
  std::span<const uint8_t> pending_;
};

// Reads an EntryData as the data of one entry (a file with an archive's name that is not one).
class SingleEntry final : public EntrySource {
 public:
  explicit SingleEntry(ByteSource& data) : data_(data) {}
  bool NextEntry(EntryInfo&) override { return false; }
  std::span<const uint8_t> ReadData() override { return data_.Next(); }

 private:
  ByteSource& data_;
};

}  // namespace

// What the archive being expanded (at depth 1, with everything nested in it) may still expand to.
struct LayerReader::ArchiveBudget {
  uint64_t archive_bytes = 0;  // its stored size
  uint64_t expanded_bytes = 0;
};

namespace {

// Counts the bytes of members read and stops the archive at a zip-bomb guard.
class BudgetedEntries final : public EntrySource {
 public:
  BudgetedEntries(EntrySource& inner, uint64_t* expanded_bytes, uint64_t archive_bytes,
                  const ScanOptions& options)
      : inner_(inner), expanded_bytes_(expanded_bytes), archive_bytes_(archive_bytes), options_(options) {}

  bool NextEntry(EntryInfo& info) override { return inner_.NextEntry(info); }

  std::span<const uint8_t> ReadData() override {
    const std::span<const uint8_t> block = inner_.ReadData();
    const uint64_t expanded = *expanded_bytes_ += block.size();
    if (expanded > options_.max_archive_expanded_bytes) {
      throw ArchiveLimitError("zip-bomb guard: members expand to more than " +
                              std::to_string(options_.max_archive_expanded_bytes) +
                              " bytes (--max-archive-expanded); the rest of the archive is not scanned");
    }
    if (expanded > kArchiveRatioFloorBytes &&
        static_cast<unsigned __int128>(expanded) >
            static_cast<unsigned __int128>(options_.max_archive_ratio) * std::max<uint64_t>(archive_bytes_, 1)) {
      throw ArchiveLimitError("zip-bomb guard: members expand to more than " +
                              std::to_string(options_.max_archive_ratio) + " times the archive's " +
                              std::to_string(archive_bytes_) +
                              " bytes (--max-archive-ratio); the rest of the archive is not scanned");
    }
    return block;
  }

 private:
  EntrySource& inner_;
  uint64_t* expanded_bytes_;
  uint64_t archive_bytes_;
  const ScanOptions& options_;
};

}  // namespace

LayerReader::LayerReader(ChunkPool& pool, const PathFilter& filter, size_t context_bytes,
                         const ScanOptions& options, std::function<void(Chunk*)> emit)
    : pool_(pool),
      filter_(filter),
      context_bytes_(context_bytes),
      carry_bytes_(2 * context_bytes),
      options_(options),
      emit_(std::move(emit)),
      carry_(2 * context_bytes),
      paths_(static_cast<size_t>(std::max(options.max_archive_depth, 0)) + 1),
      zip_buffers_(paths_.size()) {}

void LayerReader::Read(uint32_t job, EntrySource& entries, LayerResult& result, const ReadPlan& plan) {
  job_ = job;
  file_seq_ = 0;
  budget_ = nullptr;
  try {
    ReadEntries(entries, result, plan, 0);
  } catch (...) {
    Flush();
    throw;
  }
  Flush();
}

void LayerReader::ReadEntries(EntrySource& entries, LayerResult& result, const ReadPlan& plan,
                              int depth) {
  StageStats& stats = result.stats;
  std::string& path = paths_[static_cast<size_t>(depth)];
  EntryInfo info;
  while (entries.NextEntry(info)) {
    ThrowIfStopped();
    if (depth == 0 && plan.entries != nullptr) {
      plan.entries->Add(info.path, info.type == EntryType::kDirectory);
    }
    switch (info.type) {
      case EntryType::kRegular:
        break;
      case EntryType::kSymlink:
      case EntryType::kHardlink:
        ++stats.links_skipped;  // never followed: the target is scanned where it is stored
        continue;
      default:
        continue;  // directories, devices, FIFOs have no contents to scan
    }
    ++stats.files_seen;
    if (depth > 0) ++stats.archive_members;
    const size_t slash = info.path.rfind('/');
    const std::string_view name = slash == std::string_view::npos ? info.path : info.path.substr(slash + 1);
    if (depth == 0 && plan.whiteouts && name.starts_with(".wh.")) {
      ++stats.whiteouts;
      continue;
    }
    if (plan.apply_path_filter && filter_.Excludes(info.path)) {
      ++stats.files_excluded;
      continue;
    }
    if (info.size_bytes == 0) {
      ++stats.files_empty;
      continue;
    }
    if (depth == 0) {
      path.assign(info.path);
    } else {
      path.assign(paths_[static_cast<size_t>(depth) - 1]);
      path.push_back('!');
      path.append(info.path);
    }
    if (plan.expand_archives && options_.max_archive_depth > 0 && IsArchiveName(name)) {
      if (depth + 1 > options_.max_archive_depth) {
        Skip(result, path, "archive nested deeper than --max-archive-depth " +
                               std::to_string(options_.max_archive_depth) + ": not expanded");
        continue;
      }
      ExpandArchive(entries, info.size_bytes, result, plan, depth + 1);
      continue;
    }
    ReadFile(entries, path, info.size_bytes, stats);
  }
}

void LayerReader::ExpandArchive(EntrySource& entries, uint64_t size_bytes, LayerResult& result,
                                const ReadPlan& plan, int depth) {
  const std::string& path = paths_[static_cast<size_t>(depth) - 1];
  const bool top = budget_ == nullptr;
  ArchiveBudget budget{size_bytes, 0};
  if (top) budget_ = &budget;
  bool outer_failed = false;
  auto owned_data = std::make_unique<EntryData>(entries, &outer_failed);
  EntryData* const data = owned_data.get();  // valid until a tar walker takes it over
  std::unique_ptr<EntrySource> inner;
  try {
    const ArchiveKind kind = ArchiveKindOf(data->Peek());
    if (kind == ArchiveKind::kNone) {
      // Named like an archive, but it is not one: an ordinary file, scanned as such.
      SingleEntry single(*data);
      ReadFile(single, path, size_bytes, result.stats);
    } else {
      std::vector<uint8_t>& zip = zip_buffers_[static_cast<size_t>(depth)];
      if (kind == ArchiveKind::kZip) {
        zip.clear();
        for (std::span<const uint8_t> block = data->Next(); !block.empty(); block = data->Next()) {
          if (zip.size() + block.size() > options_.max_zip_bytes) {
            throw ArchiveNotExpanded("zip archive larger than " + std::to_string(options_.max_zip_bytes) +
                                     " bytes (--max-zip-size): not expanded");
          }
          zip.insert(zip.end(), block.begin(), block.end());
        }
        if (top) budget.archive_bytes = zip.size();
        inner = NewZipWalker(zip);
      } else {
        inner = NewTarWalker(OpenDecompressed(std::move(owned_data)));
      }
      ++result.stats.archives_expanded;
      BudgetedEntries budgeted(*inner, &budget_->expanded_bytes, budget_->archive_bytes, options_);
      ReadEntries(budgeted, result, plan, depth);
      if (zip.capacity() > kKeptZipBufferBytes) std::vector<uint8_t>().swap(zip);
    }
  } catch (const ArchiveLimitError& e) {
    if (!top) throw;  // the guard stops the whole top-level archive
    budget_ = nullptr;
    Skip(result, path, e.what());
  } catch (const ArchiveNotExpanded& e) {
    Skip(result, path, e.what());
  } catch (const SourceError& e) {
    if (outer_failed) {
      if (top) budget_ = nullptr;
      throw;  // the enclosing layer or archive is corrupt, not this one
    }
    Skip(result, path, std::string("corrupt archive: ") + e.what());
  }
  if (top) budget_ = nullptr;
}

void LayerReader::Skip(LayerResult& result, std::string_view path, std::string reason) {
  ++result.stats.archives_skipped;
  ScanSkip skip;
  skip.path = std::string(path);
  skip.reason = std::move(reason);
  result.skipped.push_back(std::move(skip));
}

void LayerReader::ReadFile(EntrySource& entries, std::string_view path, uint64_t size_bytes,
                           StageStats& stats) {
  const uint32_t file_seq = file_seq_++;
  uint64_t consumed = 0;  // file bytes copied into chunks
  uint64_t own_next = 0;  // where the next piece's owned region starts, in file offsets
  size_t carry_len = 0;
  std::span<const uint8_t> block;
  bool at_end = false;
  bool multi_piece = false;
  for (uint32_t piece = 0; !at_end; ++piece) {
    if (piece > 0) ThrowIfStopped();
    // A piece must bring enough new bytes to own some (a first piece owns all but its last
    // context_bytes_, a later one all of its new bytes), or the rest of the file; the first piece
    // also holds the whole binary probe.
    const uint64_t remaining = size_bytes > consumed ? size_bytes - consumed : 1;
    const size_t fresh = piece == 0 ? std::max(context_bytes_ + 1, kBinaryProbeBytes) : 1;
    EnsureSpace(carry_len + static_cast<size_t>(std::min<uint64_t>(remaining, fresh)));

    Segment segment;
    segment.file_seq = file_seq;
    segment.piece = piece;
    segment.data_begin = static_cast<uint32_t>(chunk_->used_bytes);
    segment.file_offset = consumed - carry_len;
    uint8_t* const data = chunk_->data.get();
    std::memcpy(data + chunk_->used_bytes, carry_.data(), carry_len);
    chunk_->used_bytes += carry_len;
    while (chunk_->used_bytes < chunk_->capacity_bytes) {
      if (block.empty()) {
        block = entries.ReadData();
        if (block.empty()) {
          at_end = true;
          break;
        }
      }
      const size_t n = std::min(block.size(), chunk_->capacity_bytes - chunk_->used_bytes);
      std::memcpy(data + chunk_->used_bytes, block.data(), n);
      chunk_->used_bytes += n;
      consumed += n;
      block = block.subspan(n);
    }
    // The chunk filled up exactly at the end of the file: look ahead, so the last piece knows it
    // is the last and owns everything to the end.
    if (!at_end && block.empty() && consumed >= size_bytes) {
      block = entries.ReadData();
      at_end = block.empty();
    }
    const size_t length = chunk_->used_bytes - segment.data_begin;
    if (piece == 0) {
      const size_t probe = std::min(length, kBinaryProbeBytes);
      if (!options_.scan_binaries && std::memchr(data + segment.data_begin, 0, probe) != nullptr) {
        chunk_->used_bytes = segment.data_begin;  // drop it; the rest is skipped with the entry
        ++stats.files_binary_skipped;
        return;
      }
      ++stats.files_scanned;
    }
    multi_piece = multi_piece || !at_end;
    segment.multi_piece = multi_piece;
    segment.data_end = static_cast<uint32_t>(chunk_->used_bytes);
    segment.own_begin = static_cast<uint32_t>(own_next - segment.file_offset);
    segment.own_end = static_cast<uint32_t>(at_end ? length : length - context_bytes_);
    own_next = segment.file_offset + segment.own_end;
    stats.bytes_scanned += segment.own_end - segment.own_begin;
    segment.path_begin = static_cast<uint32_t>(chunk_->paths.size());
    segment.path_size = static_cast<uint32_t>(path.size());
    chunk_->paths.append(path);
    chunk_->segments.push_back(segment);
    if (!at_end) {
      carry_len = std::min(carry_bytes_, length);
      std::memcpy(carry_.data(), data + chunk_->used_bytes - carry_len, carry_len);
      Flush();
    }
  }
}

void LayerReader::EnsureSpace(size_t bytes) {
  if (chunk_ != nullptr && chunk_->capacity_bytes - chunk_->used_bytes < bytes) Flush();
  if (chunk_ == nullptr) chunk_ = pool_.Acquire(job_);
}

void LayerReader::Flush() {
  if (chunk_ == nullptr) return;
  if (chunk_->segments.empty()) {
    pool_.Release(chunk_);
  } else {
    emit_(chunk_);
  }
  chunk_ = nullptr;
}

}  // namespace layersift
