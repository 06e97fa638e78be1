// Builds tar, gzip and zip bytes in memory for tests, with no archive library: the tests check
// the engine's archive reading, so the fixtures are made by independent code.
#ifndef LAYERSIFT_TESTS_ARCHIVE_BUILDER_H_
#define LAYERSIFT_TESTS_ARCHIVE_BUILDER_H_

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace layersift::testing {

// A ustar archive. Names up to 100 bytes.
class TarBuilder {
 public:
  TarBuilder& File(const std::string& name, const std::string& data) { return Entry(name, data, '0'); }
  TarBuilder& Directory(const std::string& name) { return Entry(name, "", '5'); }

  std::string Finish() const { return out_ + std::string(1024, '\0'); }

 private:
  TarBuilder& Entry(const std::string& name, const std::string& data, char type) {
    if (name.size() > 100) throw std::invalid_argument("tar name too long for the test builder");
    char header[512] = {};
    std::memcpy(header, name.data(), name.size());
    std::snprintf(header + 100, 8, "%07o", type == '5' ? 0755 : 0644);
    std::snprintf(header + 108, 8, "%07o", 0);
    std::snprintf(header + 116, 8, "%07o", 0);
    std::snprintf(header + 124, 12, "%011llo", static_cast<unsigned long long>(data.size()));
    std::snprintf(header + 136, 12, "%011o", 1704067200);
    header[156] = type;
    std::memcpy(header + 257, "ustar", 6);
    std::memcpy(header + 263, "00", 2);
    std::memset(header + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : header) sum += c;
    std::snprintf(header + 148, 8, "%06o", sum);
    out_.append(header, sizeof(header));
    out_ += data;
    out_.append((512 - data.size() % 512) % 512, '\0');
    return *this;
  }
  std::string out_;
};

inline std::string Deflate(const std::string& data, int window_bits) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2");
  }
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(z.total_out);
  return out;
}

inline std::string Gzip(const std::string& data) { return Deflate(data, 15 + 16); }

// A zip archive with deflated members (the common case in jars and wheels).
class ZipBuilder {
 public:
  ZipBuilder& File(const std::string& name, const std::string& data) {
    const std::string packed = Deflate(data, -15);
    const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(data.data()),
                                                     static_cast<uInt>(data.size())));
    const uint32_t offset = static_cast<uint32_t>(out_.size());
    Put32(out_, 0x04034b50);
    Put16(out_, 20);
    Put16(out_, 0);
    Put16(out_, 8);  // deflate
    Put16(out_, 0);
    Put16(out_, 0x5821);  // 2024-01-01
    Put32(out_, crc);
    Put32(out_, static_cast<uint32_t>(packed.size()));
    Put32(out_, static_cast<uint32_t>(data.size()));
    Put16(out_, static_cast<uint16_t>(name.size()));
    Put16(out_, 0);
    out_ += name;
    out_ += packed;

    Put32(central_, 0x02014b50);
    Put16(central_, 20);
    Put16(central_, 20);
    Put16(central_, 0);
    Put16(central_, 8);
    Put16(central_, 0);
    Put16(central_, 0x5821);
    Put32(central_, crc);
    Put32(central_, static_cast<uint32_t>(packed.size()));
    Put32(central_, static_cast<uint32_t>(data.size()));
    Put16(central_, static_cast<uint16_t>(name.size()));
    Put16(central_, 0);
    Put16(central_, 0);
    Put16(central_, 0);
    Put16(central_, 0);
    Put32(central_, 0);
    Put32(central_, offset);
    central_ += name;
    ++count_;
    return *this;
  }

  std::string Finish() const {
    std::string out = out_;
    const uint32_t central_offset = static_cast<uint32_t>(out.size());
    out += central_;
    Put32(out, 0x06054b50);
    Put16(out, 0);
    Put16(out, 0);
    Put16(out, count_);
    Put16(out, count_);
    Put32(out, static_cast<uint32_t>(central_.size()));
    Put32(out, central_offset);
    Put16(out, 0);
    return out;
  }

 private:
  static void Put16(std::string& s, uint16_t v) {
    s.push_back(static_cast<char>(v & 0xff));
    s.push_back(static_cast<char>(v >> 8));
  }
  static void Put32(std::string& s, uint32_t v) {
    Put16(s, static_cast<uint16_t>(v & 0xffff));
    Put16(s, static_cast<uint16_t>(v >> 16));
  }
  std::string out_;
  std::string central_;
  uint16_t count_ = 0;
};

}  // namespace layersift::testing

#endif  // LAYERSIFT_TESTS_ARCHIVE_BUILDER_H_
