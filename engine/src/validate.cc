#include "layersift/engine/validate.h"

#include <zlib.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>

namespace layersift {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// GitHub (ghp_ gho_ ghu_ ghs_ ghr_) and npm (npm_): PREFIX_ + 30 random base62 + 6 check digits,
// the check digits being base62(CRC32(random part)).
bool PrefixedCrc32TokenValid(std::string_view secret) {
  const size_t underscore = secret.rfind('_');
  if (underscore == std::string_view::npos) return false;
  const std::string_view body = secret.substr(underscore + 1);
  if (body.size() != 36) return false;
  return Crc32Base62(body.substr(0, 30)) == body.substr(30);
}

// Decodes standard or URL-safe base 64, skipping whitespace and the two-character escape "\n"
// (keys copied into JSON strings). Returns nullopt on any other character or bad padding.
std::optional<std::string> DecodeBase64(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int bit_count = 0;
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+' || c == '-') {
      value = 62;
    } else if (c == '/' || c == '_') {
      value = 63;
    } else if (c == '=') {
      ++padding;
      continue;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      continue;
    } else if (c == '\\' && i + 1 < text.size() && (text[i + 1] == 'n' || text[i + 1] == 'r')) {
      ++i;
      continue;
    } else {
      return std::nullopt;
    }
    if (padding > 0) return std::nullopt;  // data after padding
    bits = (bits << 6) | static_cast<uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<char>((bits >> bit_count) & 0xff));
    }
  }
  if (padding > 2) return std::nullopt;
  return out;
}

// AKIA/ASIA/... + 16 characters of RFC 4648 base 32. The characters after the prefix encode the
// account number in their first 40 bits after a 7-bit shift; a real key decodes to a 12-digit
// account number or less, never zero.
bool AwsAccessKeyIdValid(std::string_view secret) {
  static constexpr std::array<std::string_view, 10> kPrefixes = {
      "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA"};
  if (secret.size() != 20) return false;
  if (std::find(kPrefixes.begin(), kPrefixes.end(), secret.substr(0, 4)) == kPrefixes.end()) {
    return false;
  }
  uint64_t value = 0;
  int bits = 0;
  for (char c : secret.substr(4, 10)) {  // 10 chars = 50 bits, enough for the first 6 bytes
    uint64_t digit;
    if (c >= 'A' && c <= 'Z') {
      digit = static_cast<uint64_t>(c - 'A');
    } else if (c >= '2' && c <= '7') {
      digit = static_cast<uint64_t>(c - '2' + 26);
    } else {
      return false;
    }
    value = (value << 5) | digit;
    bits += 5;
  }
  for (char c : secret.substr(14)) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'))) return false;
  }
  const uint64_t first_six_bytes = value >> (bits - 48);
  const uint64_t account = (first_six_bytes & 0x7fffffffff80ull) >> 7;
  return account > 0 && account <= 999'999'999'999ull;
}

std::optional<nlohmann::json> Base64UrlJsonObject(std::string_view part) {
  const auto decoded = DecodeBase64(part);
  if (!decoded) return std::nullopt;
  nlohmann::json value = nlohmann::json::parse(*decoded, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object()) return std::nullopt;
  return value;
}

// header.payload.signature: both JSON objects (RFC 7519); a header that says "alg": "none" is an
// unsigned token, which proves nothing and is not reported; the payload holds a registered claim.
bool JwtValid(std::string_view secret) {
  const size_t first = secret.find('.');
  if (first == std::string_view::npos) return false;
  const size_t second = secret.find('.', first + 1);
  if (second == std::string_view::npos) return false;
  const auto header = Base64UrlJsonObject(secret.substr(0, first));
  if (!header) return false;
  const auto alg = header->find("alg");
  if (alg != header->end()) {
    if (!alg->is_string()) return false;
    std::string algorithm = alg->get<std::string>();
    std::transform(algorithm.begin(), algorithm.end(), algorithm.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (algorithm == "none") return false;
  }
  // A token that authenticates anything says who issued it, for whom or until when: at least
  // one registered claim (RFC 7519 section 4.1). Documentation samples such as
  // {"some": "payload"} have none.
  const auto payload = Base64UrlJsonObject(secret.substr(first + 1, second - first - 1));
  if (!payload) return false;
  static constexpr std::array<const char*, 7> kRegisteredClaims = {"iss", "sub", "aud", "exp",
                                                                    "nbf", "iat", "jti"};
  return std::any_of(kRegisteredClaims.begin(), kRegisteredClaims.end(),
                     [&](const char* claim) { return payload->contains(claim); });
}

// BEGIN line, optional "Name: value" headers, base 64 body, END line. The body must decode and be
// the size of a real key: an ed25519 PKCS#8 key is 48 bytes, the smallest real one; DER keys
// start with a SEQUENCE, OpenSSH keys with their magic; PGP blocks and legacy encrypted PEM
// bodies (ciphertext) are only length-checked.
bool PemPrivateKeyValid(std::string_view secret) {
  const size_t begin_line_end = secret.find("-----", secret.find("-----BEGIN") + 10);
  const size_t end_line = secret.rfind("-----END");
  if (begin_line_end == std::string_view::npos || end_line == std::string_view::npos ||
      end_line <= begin_line_end) {
    return false;
  }
  const std::string_view label = secret.substr(0, begin_line_end);
  std::string_view body = secret.substr(begin_line_end + 5, end_line - begin_line_end - 5);
  // Skip armour headers (Proc-Type, DEK-Info, Version, Comment): everything up to a blank line
  // after the last "Name: value" line.
  const size_t colon = body.rfind(": ");
  if (colon != std::string_view::npos) {
    size_t line_end = body.find('\n', colon);
    const size_t escaped_end = body.find("\\n", colon);
    if (line_end == std::string_view::npos || (escaped_end != std::string_view::npos && escaped_end < line_end)) {
      line_end = escaped_end == std::string_view::npos ? line_end : escaped_end + 1;
    }
    if (line_end == std::string_view::npos) return false;
    body = body.substr(line_end + 1);
  }
  const bool pgp = label.find("PGP") != std::string_view::npos;
  if (pgp) {
    // The armour ends with a CRC line "=XXXX" that is not part of the base 64 body.
    const size_t crc = body.rfind('=');
    if (crc != std::string_view::npos && body.size() - crc <= 8 && crc > 0 &&
        body[crc - 1] != '=' && body.find_first_not_of(" \t\r\n", crc + 5) == std::string_view::npos) {
      body = body.substr(0, crc);
    }
  }
  const auto der = DecodeBase64(body);
  if (!der || der->size() < 48) return false;
  if (label.find("OPENSSH") != std::string_view::npos) {
    return der->compare(0, 15, std::string_view("openssh-key-v1\0", 15)) == 0;
  }
  // A legacy encrypted PEM body (Proc-Type: 4,ENCRYPTED) is ciphertext, not DER.
  if (pgp || secret.find("ENCRYPTED") != std::string_view::npos) return true;
  return static_cast<unsigned char>((*der)[0]) == 0x30;  // ASN.1 SEQUENCE
}

}  // namespace

std::string Crc32Base62(std::string_view data) {
  uint64_t crc = crc32(0L, reinterpret_cast<const Bytef*>(data.data()),
                       static_cast<uInt>(data.size()));
  std::string digits;
  do {
    digits.push_back(kBase62[crc % 62]);
    crc /= 62;
  } while (crc > 0);
  while (digits.size() < 6) digits.push_back('0');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

bool PassesValidation(Validator validator, std::string_view secret) {
  switch (validator) {
    case Validator::kNone:
      return true;
    case Validator::kGithubChecksum:
    case Validator::kNpmChecksum:
      return PrefixedCrc32TokenValid(secret);
    case Validator::kAwsAccessKeyId:
      return AwsAccessKeyIdValid(secret);
    case Validator::kJwt:
      return JwtValid(secret);
    case Validator::kJwtBase64: {
      const auto jwt = DecodeBase64(secret);
      return jwt && JwtValid(*jwt);
    }
    case Validator::kPemPrivateKey:
      return PemPrivateKeyValid(secret);
  }
  return false;
}

}  // namespace layersift
