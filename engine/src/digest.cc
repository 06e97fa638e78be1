#include "layersift/engine/digest.h"

#include <openssl/evp.h>

namespace layersift {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256::Update(std::span<const uint8_t> bytes) {
  EVP_DigestUpdate(impl_->ctx, bytes.data(), bytes.size());
}

std::string Sha256::FinishHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(impl_->ctx, digest, &length);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

std::string Sha256::HexOf(std::string_view bytes) {
  Sha256 hash;
  hash.Update({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  return hash.FinishHex();
}

DigestingSource::DigestingSource(std::unique_ptr<ByteSource> inner, std::string expected_digest,
                                 std::string* computed)
    : inner_(std::move(inner)), expected_digest_(std::move(expected_digest)), computed_(computed) {
  if (!expected_digest_.empty() && expected_digest_.rfind("sha256:", 0) != 0) {
    throw SourceError("unsupported digest algorithm in " + expected_digest_ +
                      " (only sha256 is supported)");
  }
}

std::span<const uint8_t> DigestingSource::NextImpl() {
  if (finished_) return {};
  const std::span<const uint8_t> block = inner_->Next();
  Hash(block);
  return block;
}

size_t DigestingSource::ReadIntoImpl(std::span<uint8_t> dst) {
  if (finished_) return 0;
  const size_t n = inner_->ReadInto(dst);
  Hash(dst.first(n));
  return n;
}

void DigestingSource::Hash(std::span<const uint8_t> block) {
  if (!block.empty()) {
    hash_.Update(block);
    return;
  }
  finished_ = true;
  const std::string digest = "sha256:" + hash_.FinishHex();
  if (computed_) *computed_ = digest;
  if (!expected_digest_.empty() && digest != expected_digest_) {
    throw SourceError("digest mismatch: expected " + expected_digest_ + ", content hashes to " +
                      digest);
  }
}

}  // namespace layersift
