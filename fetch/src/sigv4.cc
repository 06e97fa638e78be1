#include "sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <stdexcept>

namespace layersift {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kHexDigits = "0123456789abcdef";

std::string Hex(const unsigned char* data, size_t size) {
  std::string out;
  out.reserve(2 * size);
  for (size_t i = 0; i < size; ++i) {
    out += kHexDigits[data[i] >> 4];
    out += kHexDigits[data[i] & 0xf];
  }
  return out;
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// HTTP's linear whitespace: the line breaks are there because a value may carry continuation
// lines, which fold into one space like any other run.
bool IsHttpSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Decodes every well-formed %XX; a '%' not followed by two hex digits stands for itself, so that
// a raw target ("100%") signs the way it was meant. '+' is not a space: RFC 3986 gives it no
// special meaning and the AWS SDKs send a space in a query as %20.
std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? text.npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// Drops "" and "." segments, lets ".." drop the segment before it, and keeps a trailing slash
// when the path had one (as aws-c-auth and botocore do: "/a/b/.." gives "/a", not RFC 3986's
// "/a/"). The result always starts with '/'.
std::string NormalizePath(std::string_view path) {
  std::vector<std::string_view> kept;
  for (std::string_view segment : Split(path, '/')) {
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
    } else {
      kept.push_back(segment);
    }
  }
  const bool ends_with_slash = !path.empty() && path.back() == '/';
  std::string out = "/";
  for (size_t i = 0; i < kept.size(); ++i) {
    out += kept[i];
    if (i + 1 < kept.size() || ends_with_slash) out += '/';
  }
  return out;
}

std::string CanonicalUri(std::string_view path, const SigV4Params& params) {
  const std::string normalized = params.normalize_path ? NormalizePath(path) : std::string(path);
  if (normalized.empty()) return "/";
  // Most services check the signature against the path as it went over the wire, which is the
  // path as written here, so encoding it again is the "double" encoding.
  if (params.double_encode_path) return UriEncode(normalized, /*keep_slash=*/true);
  // S3 checks it against the decoded path encoded once. Segment by segment, so that an encoded
  // "%2F" inside a key stays part of its segment.
  std::string out;
  bool first = true;
  for (std::string_view segment : Split(normalized, '/')) {
    if (!first) out += '/';
    first = false;
    out += UriEncode(PercentDecode(segment), /*keep_slash=*/false);
  }
  return out;
}

// A query parameter: raw (decoded) when built, encoded once canonicalised.
using Param = std::pair<std::string, std::string>;

// The target's query as decoded parameters. An empty piece ("a=1&&b=2") is not a parameter; a
// piece without '=' is a key with an empty value.
std::vector<Param> ParseQuery(std::string_view query) {
  std::vector<Param> params;
  if (query.empty()) return params;
  for (std::string_view piece : Split(query, '&')) {
    if (piece.empty()) continue;
    const size_t equals = piece.find('=');
    if (equals == std::string_view::npos) {
      params.emplace_back(PercentDecode(piece), std::string());
    } else {
      params.emplace_back(PercentDecode(piece.substr(0, equals)),
                          PercentDecode(piece.substr(equals + 1)));
    }
  }
  return params;
}

std::string CanonicalQuery(const std::vector<Param>& decoded) {
  std::vector<Param> encoded;
  encoded.reserve(decoded.size());
  for (const auto& [key, value] : decoded) {
    encoded.emplace_back(UriEncode(key, false), UriEncode(value, false));
  }
  // The spec sorts by the encoded key, then the encoded value, byte by byte.
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [key, value] : encoded) {
    if (!out.empty()) out += '&';
    out += key;
    out += '=';
    out += value;
  }
  return out;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Trims the value and folds every run of whitespace inside it, continuation line breaks
// included, into one space. Quoted strings get no exception: the test suite folds them too.
std::string CanonicalHeaderValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (IsHttpSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

struct CanonicalHeaders {
  std::string lines;           // "name:value\n" for each name, sorted
  std::string signed_headers;  // "name;name2"
};

CanonicalHeaders BuildCanonicalHeaders(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<std::pair<std::string, std::string>> lowered;
  lowered.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    lowered.emplace_back(Lower(name), CanonicalHeaderValue(value));
  }
  // Stable, by name only: a repeated header's values are joined in message order.
  std::stable_sort(lowered.begin(), lowered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (size_t i = 0; i < lowered.size(); ++i) {
    const std::string& name = lowered[i].first;
    if (i > 0 && lowered[i - 1].first == name) {
      out.lines.back() = ',';  // replaces the previous value's '\n'
    } else {
      if (!out.signed_headers.empty()) out.signed_headers += ';';
      out.signed_headers += name;
      out.lines += name;
      out.lines += ':';
    }
    out.lines += lowered[i].second;
    out.lines += '\n';
  }
  return out;
}

// What both modes share: the request split into path and query, the date and the scope. path
// and query view request.target, so they are read before the target is changed.
struct SigningContext {
  std::string amz_date;  // 20150830T123600Z
  std::string scope;     // 20150830/us-east-1/service/aws4_request
  std::string payload_hash;
  std::string_view path;
  std::string_view query;
};

SigningContext MakeContext(const SigV4Request& request, const SigV4Params& params) {
  SigningContext context;
  context.amz_date = AmzDate(params.time);
  context.scope =
      context.amz_date.substr(0, 8) + "/" + params.region + "/" + params.service + "/aws4_request";
  context.payload_hash = Sha256Hex(request.body);  // an empty body hashes as the suite expects
  const std::string_view target = request.target;
  const size_t question = target.find('?');
  context.path = target.substr(0, question);
  if (question != std::string_view::npos) context.query = target.substr(question + 1);
  return context;
}

// Fills in the string to sign and the signature for a finished canonical request.
SigV4Result Sign(std::string canonical_request, const SigningContext& context,
                 const SigningCredentials& credentials, const SigV4Params& params) {
  SigV4Result result;
  result.canonical_request = std::move(canonical_request);
  result.string_to_sign = std::string(kAlgorithm) + "\n" + context.amz_date + "\n" + context.scope +
                          "\n" + Sha256Hex(result.canonical_request);
  std::string key =
      HmacSha256("AWS4" + credentials.secret_access_key, context.amz_date.substr(0, 8));
  key = HmacSha256(key, params.region);
  key = HmacSha256(key, params.service);
  key = HmacSha256(key, "aws4_request");
  const std::string signature = HmacSha256(key, result.string_to_sign);
  result.signature =
      Hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
  return result;
}

std::string CanonicalRequest(const SigV4Request& request, const SigningContext& context,
                             const SigV4Params& params, const std::string& canonical_query,
                             const CanonicalHeaders& headers) {
  return request.method + "\n" + CanonicalUri(context.path, params) + "\n" + canonical_query +
         "\n" + headers.lines + "\n" + headers.signed_headers + "\n" + context.payload_hash;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL SHA-256 failed");
  }
  return Hex(digest, size);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
           &size) == nullptr) {
    throw std::runtime_error("OpenSSL HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(mac), size);
}

std::string AmzDate(std::time_t time) {
  std::tm tm{};
  gmtime_r(&time, &tm);
  char text[32];
  const size_t size = std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
  return std::string(text, size);
}

std::string UriEncode(std::string_view data, bool keep_slash) {
  static constexpr std::string_view kUpperHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(data.size());
  for (const char c : data) {
    const auto byte = static_cast<unsigned char>(c);
    if (IsUnreserved(byte) || (keep_slash && c == '/')) {
      out += c;
    } else {
      out += '%';
      out += kUpperHex[byte >> 4];
      out += kUpperHex[byte & 0xf];
    }
  }
  return out;
}

SigV4Result SignWithHeaders(SigV4Request& request, const SigningCredentials& credentials,
                            const SigV4Params& params) {
  const SigningContext context = MakeContext(request, params);
  const bool has_token = !credentials.session_token.empty();
  std::vector<std::pair<std::string, std::string>> added;
  if (has_token) added.emplace_back("X-Amz-Security-Token", credentials.session_token);
  added.emplace_back("X-Amz-Date", context.amz_date);
  if (params.sign_body) added.emplace_back("x-amz-content-sha256", context.payload_hash);

  std::vector<std::pair<std::string, std::string>> signed_headers = request.headers;
  for (const auto& header : added) {
    if (header.first == "X-Amz-Security-Token" && params.omit_session_token) continue;
    signed_headers.push_back(header);
  }
  const CanonicalHeaders canonical_headers = BuildCanonicalHeaders(signed_headers);
  SigV4Result result =
      Sign(CanonicalRequest(request, context, params, CanonicalQuery(ParseQuery(context.query)),
                            canonical_headers),
           context, credentials, params);

  for (auto& header : added) request.headers.push_back(std::move(header));
  request.headers.emplace_back(
      "Authorization", std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                           context.scope + ", SignedHeaders=" + canonical_headers.signed_headers +
                           ", Signature=" + result.signature);
  return result;
}

SigV4Result SignWithQuery(SigV4Request& request, const SigningCredentials& credentials,
                          const SigV4Params& params) {
  const SigningContext context = MakeContext(request, params);
  const CanonicalHeaders canonical_headers = BuildCanonicalHeaders(request.headers);
  // In the order they are appended to the target, which is not the canonical (sorted) order.
  std::vector<Param> added = {
      {"X-Amz-Algorithm", std::string(kAlgorithm)},
      {"X-Amz-Credential", credentials.access_key_id + "/" + context.scope},
      {"X-Amz-Date", context.amz_date},
      {"X-Amz-SignedHeaders", canonical_headers.signed_headers},
      {"X-Amz-Expires", std::to_string(params.expires_seconds)},
  };
  const bool has_token = !credentials.session_token.empty();
  if (has_token) added.emplace_back("X-Amz-Security-Token", credentials.session_token);

  std::vector<Param> query = ParseQuery(context.query);
  for (const Param& param : added) {
    if (param.first == "X-Amz-Security-Token" && params.omit_session_token) continue;
    query.push_back(param);
  }
  SigV4Result result =
      Sign(CanonicalRequest(request, context, params, CanonicalQuery(query), canonical_headers),
           context, credentials, params);

  added.emplace_back("X-Amz-Signature", result.signature);
  std::string& target = request.target;
  if (target.find('?') == std::string::npos) {
    target += '?';
  } else if (target.back() != '?' && target.back() != '&') {
    target += '&';
  }
  for (size_t i = 0; i < added.size(); ++i) {
    if (i > 0) target += '&';
    target += added[i].first;
    target += '=';
    target += UriEncode(added[i].second, false);
  }
  return result;
}

}  // namespace layersift
