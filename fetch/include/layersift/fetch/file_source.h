#ifndef LAYERSIFT_FETCH_FILE_SOURCE_H_
#define LAYERSIFT_FETCH_FILE_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layersift/fetch/byte_source.h"

namespace layersift {

// Reads a local file front to back with pread(2), into one reusable buffer or the caller's.
class FileSource final : public ByteSource {
 public:
  static constexpr size_t kDefaultBlockBytes = 1 << 20;

  // Opens `path`; throws SourceError naming the path if it cannot be opened.
  // `offset_bytes` and `length_bytes` select a byte range of the file (a member of an
  // uncompressed tar, for instance); length UINT64_MAX means "to the end of the file". A file that
  // ends before the range does is reported as truncated.
  explicit FileSource(const std::string& path, uint64_t offset_bytes = 0,
                      uint64_t length_bytes = UINT64_MAX, size_t block_bytes = kDefaultBlockBytes);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

 private:
  std::span<const uint8_t> NextImpl() override;
  size_t ReadIntoImpl(std::span<uint8_t> dst) override;

  std::string path_;
  int fd_ = -1;
  uint64_t offset_bytes_;
  uint64_t remaining_bytes_;
  bool bounded_;
  std::vector<uint8_t> buffer_;
};

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_FILE_SOURCE_H_
