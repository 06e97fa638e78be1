#include "layersift/fetch/file_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace layersift {

FileSource::FileSource(const std::string& path, uint64_t offset_bytes, uint64_t length_bytes,
                       size_t block_bytes)
    : path_(path),
      offset_bytes_(offset_bytes),
      remaining_bytes_(length_bytes),
      bounded_(length_bytes != UINT64_MAX),
      buffer_(block_bytes) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw SourceError("cannot open " + path + ": " + std::strerror(errno));
  // Sequential hint: the kernel reads ahead more aggressively.
  ::posix_fadvise(fd_, static_cast<off_t>(offset_bytes), 0, POSIX_FADV_SEQUENTIAL);
}

FileSource::~FileSource() {
  if (fd_ >= 0) ::close(fd_);
}

std::span<const uint8_t> FileSource::NextImpl() {
  return {buffer_.data(), ReadIntoImpl(buffer_)};
}

size_t FileSource::ReadIntoImpl(std::span<uint8_t> dst) {
  if (remaining_bytes_ == 0) return 0;
  const size_t want = static_cast<size_t>(std::min<uint64_t>(dst.size(), remaining_bytes_));
  ssize_t got;
  do {
    got = ::pread(fd_, dst.data(), want, static_cast<off_t>(offset_bytes_));
  } while (got < 0 && errno == EINTR);
  if (got < 0) throw SourceError("cannot read " + path_ + ": " + std::strerror(errno));
  if (got == 0) {
    if (bounded_) {
      throw SourceError(path_ + " ends early: " + std::to_string(remaining_bytes_) +
                        " bytes of the expected range are missing");
    }
    remaining_bytes_ = 0;
    return 0;
  }
  offset_bytes_ += static_cast<uint64_t>(got);
  if (bounded_) remaining_bytes_ -= static_cast<uint64_t>(got);
  return static_cast<size_t>(got);
}

}  // namespace layersift
