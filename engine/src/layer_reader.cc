#include "layer_reader.h"

#include <algorithm>
#include <cstring>

namespace layersift {

LayerReader::LayerReader(ChunkPool& pool, const PathFilter& filter, size_t context_bytes,
                         bool scan_binaries, std::function<void(Chunk*)> emit)
    : pool_(pool),
      filter_(filter),
      context_bytes_(context_bytes),
      carry_bytes_(2 * context_bytes),
      scan_binaries_(scan_binaries),
      emit_(std::move(emit)),
      carry_(2 * context_bytes) {}

void LayerReader::Read(uint32_t job, EntrySource& entries, LayerResult& result) {
  job_ = job;
  file_seq_ = 0;
  StageStats& stats = result.stats;
  EntryInfo info;
  try {
    while (entries.NextEntry(info)) {
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
      const size_t slash = info.path.rfind('/');
      const std::string_view name = slash == std::string_view::npos ? info.path : info.path.substr(slash + 1);
      if (name.starts_with(".wh.")) {
        ++stats.whiteouts;
        result.whiteouts.emplace_back(info.path);
        continue;
      }
      if (filter_.Excludes(info.path)) {
        ++stats.files_excluded;
        continue;
      }
      if (info.size_bytes == 0) {
        ++stats.files_empty;
        continue;
      }
      ReadFile(entries, info.path, info.size_bytes, stats);
    }
  } catch (...) {
    Flush();
    throw;
  }
  Flush();
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
      if (!scan_binaries_ && std::memchr(data + segment.data_begin, 0, probe) != nullptr) {
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
