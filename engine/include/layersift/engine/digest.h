#ifndef LAYERSIFT_ENGINE_DIGEST_H_
#define LAYERSIFT_ENGINE_DIGEST_H_

#include <memory>
#include <string>
#include <string_view>

#include "layersift/fetch/byte_source.h"

namespace layersift {

// Incremental SHA-256 (OpenSSL EVP).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::span<const uint8_t> bytes);
  // Lower-case hex of the digest. Call once.
  std::string FinishHex();

  static std::string HexOf(std::string_view bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Passes bytes through and hashes them. At the end of the stream, if `expected_digest` is set
// ("sha256:<hex>"), a mismatch throws SourceError naming both digests, so the consumer never
// accepts a tampered or corrupt blob as complete. The computed digest is written to `*computed`
// (if given) when the stream ends.
class DigestingSource final : public ByteSource {
 public:
  DigestingSource(std::unique_ptr<ByteSource> inner, std::string expected_digest,
                  std::string* computed = nullptr);

 private:
  std::span<const uint8_t> NextImpl() override;
  size_t ReadIntoImpl(std::span<uint8_t> dst) override;
  // Hashes a block; an empty one is the end of the stream, where the digest is checked.
  void Hash(std::span<const uint8_t> block);

  std::unique_ptr<ByteSource> inner_;
  std::string expected_digest_;
  std::string* computed_;
  Sha256 hash_;
  bool finished_ = false;
};

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_DIGEST_H_
