#include "micro_sample.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string_view>

#include "layersift/engine/entry_source.h"

namespace layersift::micro {

std::span<const uint8_t> MemorySource::NextImpl() {
  const std::span<const uint8_t> block = rest_.first(std::min(rest_.size(), block_bytes_));
  rest_ = rest_.subspan(block.size());
  return block;
}

namespace {

constexpr size_t kTarBlockBytes = 512;

uint64_t RoundUpToTarBlock(uint64_t bytes) {
  return (bytes + kTarBlockBytes - 1) / kTarBlockBytes * kTarBlockBytes;
}

// A numeric header field: octal digits between optional blanks and NULs, or (first byte's top
// bit set) GNU base-256, which tar writers use for members of 8 GiB and more.
std::optional<uint64_t> ParseTarNumber(const uint8_t* field, size_t size) {
  uint64_t value = 0;
  if (field[0] & 0x80) {
    value = field[0] & 0x7f;
    for (size_t i = 1; i < size; ++i) {
      if (value >> 56) return std::nullopt;
      value = value << 8 | field[i];
    }
    return value;
  }
  size_t i = 0;
  while (i < size && field[i] == ' ') ++i;
  for (; i < size && field[i] >= '0' && field[i] <= '7'; ++i) {
    if (value >> 60) return std::nullopt;
    value = value * 8 + (field[i] - '0');
  }
  for (; i < size; ++i) {
    if (field[i] != ' ' && field[i] != '\0') return std::nullopt;
  }
  return value;
}

// The header checksum: the sum of its bytes with the checksum field itself read as blanks. A
// mismatch means the file is not a tar (or we lost our place in it).
bool TarChecksumMatches(const uint8_t* header) {
  const std::optional<uint64_t> stored = ParseTarNumber(header + 148, 8);
  uint64_t sum = 0;
  for (size_t i = 0; i < kTarBlockBytes; ++i) sum += (i >= 148 && i < 156) ? ' ' : header[i];
  return stored && *stored == sum;
}

std::optional<uint64_t> ParseDecimal(std::string_view digits) {
  if (digits.empty() || digits.size() > 19) return std::nullopt;  // 19 digits cannot overflow
  uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

// The "size" record of a pax extended header ("LENGTH size=VALUE\n"), which overrides the next
// entry's size field.
std::optional<uint64_t> PaxSize(std::string_view records) {
  while (!records.empty()) {
    const size_t space = records.find(' ');
    if (space == std::string_view::npos) break;
    const std::optional<uint64_t> length = ParseDecimal(records.substr(0, space));
    if (!length || *length <= space || *length > records.size()) break;
    std::string_view record = records.substr(space + 1, *length - space - 1);
    if (!record.empty() && record.back() == '\n') record.remove_suffix(1);
    if (record.starts_with("size=")) return ParseDecimal(record.substr(5));
    records.remove_prefix(*length);
  }
  return std::nullopt;
}

// How many leading bytes of the tar make whole entries ending within `limit_bytes` (at least the
// first entry, whatever its size). Only headers are read, so this is quick whatever the file size.
// Pax and GNU long-name headers belong to the entry after them: the cut never separates them.
uint64_t EntryBoundaryWithin(std::ifstream& in, const std::string& path, uint64_t file_bytes,
                             uint64_t limit_bytes) {
  uint8_t header[kTarBlockBytes];
  uint64_t offset = 0;
  uint64_t cut = 0;
  // A pax header's "size" record, for the entry after it (not a std::optional: GCC 12 then
  // warns, wrongly, that it may be read uninitialised).
  bool have_pax_size = false;
  uint64_t pax_size = 0;
  while (offset + kTarBlockBytes <= file_bytes) {
    in.seekg(static_cast<std::streamoff>(offset));
    if (!in.read(reinterpret_cast<char*>(header), kTarBlockBytes)) break;
    if (std::all_of(header, header + kTarBlockBytes, [](uint8_t b) { return b == 0; })) break;
    if (!TarChecksumMatches(header)) {
      throw SampleError(path + ": not a tar file (bad header checksum at offset " +
                        std::to_string(offset) + ")");
    }
    const std::optional<uint64_t> size_field = ParseTarNumber(header + 124, 12);
    if (!size_field) {
      throw SampleError(path + ": bad size field in the tar header at offset " +
                        std::to_string(offset));
    }
    const char type = static_cast<char>(header[156]);
    const bool describes_next = type == 'x' || type == 'L' || type == 'K';
    const uint64_t size = !describes_next && have_pax_size ? pax_size : *size_field;
    const uint64_t next = offset + kTarBlockBytes + RoundUpToTarBlock(size);
    if (next > file_bytes) break;  // a truncated last entry: stop before it
    if (type == 'x') {
      std::string records(size, '\0');
      in.read(records.data(), static_cast<std::streamsize>(size));
      if (const std::optional<uint64_t> record = PaxSize(records)) {
        have_pax_size = true;
        pax_size = *record;
      }
    } else if (!describes_next) {
      have_pax_size = false;
    }
    if (!describes_next) {
      if (next > limit_bytes && cut > 0) break;
      cut = next;
    }
    offset = next;
  }
  return cut;
}

// Compressors write into a worst-case-sized buffer. It is left uninitialised, not zero-filled as
// a std::vector would be, so only the pages actually written count in the peak memory; the result
// is then copied out at its real size.
struct CompressionBuffer {
  explicit CompressionBuffer(size_t capacity)
      : bytes(std::make_unique_for_overwrite<uint8_t[]>(capacity)), capacity(capacity) {}
  std::vector<uint8_t> Result(size_t size) const { return {bytes.get(), bytes.get() + size}; }

  std::unique_ptr<uint8_t[]> bytes;
  size_t capacity;
};

std::vector<uint8_t> GzipLevel6(std::span<const uint8_t> input) {
  z_stream stream{};
  // windowBits 16 + 15: a gzip wrapper around a 32 KiB window, as `gzip -6` writes.
  if (deflateInit2(&stream, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw SampleError("zlib: deflateInit2 failed");
  }
  const CompressionBuffer out(deflateBound(&stream, input.size()));
  // avail_in and avail_out are 32 bits wide: a large sample goes through in pieces.
  constexpr size_t kPieceBytes = size_t{1} << 30;
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (stream.avail_in == 0 && !input.empty()) {
      const std::span<const uint8_t> piece = input.first(std::min(input.size(), kPieceBytes));
      input = input.subspan(piece.size());
      stream.next_in = const_cast<Bytef*>(piece.data());
      stream.avail_in = static_cast<uInt>(piece.size());
    }
    if (stream.avail_out == 0) {
      stream.next_out = out.bytes.get() + stream.total_out;
      stream.avail_out =
          static_cast<uInt>(std::min<size_t>(out.capacity - stream.total_out, kPieceBytes));
    }
    rc = deflate(&stream, input.empty() ? Z_FINISH : Z_NO_FLUSH);
  }
  const size_t produced = stream.total_out;
  deflateEnd(&stream);
  if (rc != Z_STREAM_END) throw SampleError("zlib: deflate failed");
  return out.Result(produced);
}

std::vector<uint8_t> ZstdLevel3(std::span<const uint8_t> input) {
  const CompressionBuffer out(ZSTD_compressBound(input.size()));
  const size_t rc = ZSTD_compress(out.bytes.get(), out.capacity, input.data(), input.size(), 3);
  if (ZSTD_isError(rc)) throw SampleError(std::string("zstd: ") + ZSTD_getErrorName(rc));
  return out.Result(rc);
}

void ReportCompressed(const char* what, size_t compressed_bytes, size_t tar_bytes) {
  std::fprintf(stderr, "layersift_micro: %s of the sample: %zu bytes (%.1f%% of the tar)\n", what,
               compressed_bytes, 100.0 * static_cast<double>(compressed_bytes) / tar_bytes);
}

}  // namespace

std::unique_ptr<Sample> Sample::Load(const std::string& tar_path, uint64_t limit_bytes) {
  std::ifstream in(tar_path, std::ios::binary | std::ios::ate);
  if (!in) throw SampleError(tar_path + ": cannot open");
  const uint64_t file_bytes = static_cast<uint64_t>(in.tellg());
  const uint64_t cut = EntryBoundaryWithin(in, tar_path, file_bytes, limit_bytes);
  if (cut == 0) throw SampleError(tar_path + ": no complete tar entry");

  std::unique_ptr<Sample> sample(new Sample());
  // The entries, then two zero blocks: the end of a tar.
  sample->tar_.assign(cut + 2 * kTarBlockBytes, 0);
  in.clear();
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(sample->tar_.data()), static_cast<std::streamsize>(cut))) {
    throw SampleError(tar_path + ": read failed");
  }

  // Reserved up front: appending file by file would reallocate and copy the text many times.
  sample->text_.reserve(cut);
  SampleCounts& counts = sample->counts_;
  try {
    std::unique_ptr<EntrySource> walker =
        NewTarWalker(std::make_unique<MemorySource>(sample->tar_));
    EntryInfo info;
    while (walker->NextEntry(info)) {
      ++counts.entries;
      counts.path_bytes += info.path.size();
      sample->paths_.emplace_back(info.path);
      if (info.type != EntryType::kRegular) continue;
      ++counts.regular_files;
      const size_t start = sample->text_.size();
      for (auto block = walker->ReadData(); !block.empty(); block = walker->ReadData()) {
        sample->text_.insert(sample->text_.end(), block.begin(), block.end());
      }
      const size_t length = sample->text_.size() - start;
      if (length == 0) continue;
      const size_t probe = std::min(length, kBinaryProbeBytes);
      if (std::memchr(sample->text_.data() + start, 0, probe) != nullptr) {
        sample->text_.resize(start);  // binary: the scanner skips it
        ++counts.binary_files;
      } else {
        ++counts.text_files;
      }
    }
  } catch (const SourceError& e) {
    throw SampleError(tar_path + ": corrupt tar: " + e.what());
  }
  return sample;
}

std::span<const uint8_t> Sample::gzip() const {
  std::call_once(gzip_once_, [this] {
    gzip_ = GzipLevel6(tar_);
    ReportCompressed("gzip (zlib level 6)", gzip_.size(), tar_.size());
  });
  return gzip_;
}

std::span<const uint8_t> Sample::zstd() const {
  std::call_once(zstd_once_, [this] {
    zstd_ = ZstdLevel3(tar_);
    ReportCompressed("zstd (level 3)", zstd_.size(), tar_.size());
  });
  return zstd_;
}

}  // namespace layersift::micro
