// Helpers shared by the tests.
#ifndef LAYERSIFT_TESTS_TEST_UTIL_H_
#define LAYERSIFT_TESTS_TEST_UTIL_H_

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <span>
#include <string>
#include <vector>

#include "layersift/fetch/byte_source.h"

namespace layersift::testing {

// A source over a string, handed out in blocks of `block_bytes`, to exercise every boundary.
class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string data, size_t block_bytes = 1 << 16)
      : data_(std::move(data)), block_bytes_(block_bytes) {}

 private:
  std::span<const uint8_t> NextImpl() override {
    const size_t n = std::min(block_bytes_, data_.size() - pos_);
    std::span<const uint8_t> block(reinterpret_cast<const uint8_t*>(data_.data()) + pos_, n);
    pos_ += n;
    return block;
  }
  std::string data_;
  size_t block_bytes_;
  size_t pos_ = 0;
};

inline std::string Drain(ByteSource& source) {
  std::string out;
  for (auto block = source.Next(); !block.empty(); block = source.Next()) {
    out.append(reinterpret_cast<const char*>(block.data()), block.size());
  }
  return out;
}

// Reads the whole source through ReadInto() with a buffer of `buffer_bytes`, alternating with
// Next() every third call when `mix_next` is set: both ways must give the same bytes.
inline std::string DrainWithReadInto(ByteSource& source, size_t buffer_bytes, bool mix_next = false) {
  std::string out;
  std::vector<uint8_t> buffer(buffer_bytes);
  for (unsigned call = 0;; ++call) {
    if (mix_next && call % 3 == 2) {
      const std::span<const uint8_t> block = source.Next();
      if (block.empty()) break;
      out.append(reinterpret_cast<const char*>(block.data()), block.size());
      continue;
    }
    const size_t n = source.ReadInto(buffer);
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(buffer.data()), n);
  }
  return out;
}

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "layersift_test_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Sets an environment variable for a scope and restores (or unsets) it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace layersift::testing

#endif  // LAYERSIFT_TESTS_TEST_UTIL_H_
