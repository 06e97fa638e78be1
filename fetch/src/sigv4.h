// AWS Signature Version 4 (AWS4-HMAC-SHA256): the canonical request, the string to sign and the
// signature, added to a request as an Authorization header or as presigned-URL query parameters.
// Pure functions over OpenSSL's SHA-256 and HMAC; no I/O, no clock (the caller passes the time).
#ifndef LAYERSIFT_FETCH_SIGV4_H_
#define LAYERSIFT_FETCH_SIGV4_H_

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace layersift {

// What signs a request. session_token is empty for long-term keys.
struct SigningCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
};

struct SigV4Request {
  std::string method;  // "GET", "POST", ...
  // The request target as it goes on the request line: path, then optionally "?query". Either
  // raw (spaces, UTF-8) or already %-encoded; the signer encodes it canonically either way.
  std::string target;
  // Headers in message order, names as written; a value may hold continuation lines
  // ("a\n  b"). Repeated names are allowed.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct SigV4Params {
  std::string region;
  std::string service;
  std::time_t time = 0;           // signing time, seconds since the epoch (UTC)
  bool normalize_path = true;     // remove "", "." and ".." segments (every service but S3)
  bool double_encode_path = true; // %-encode the path once more (every service but S3)
  // In header mode, also add and sign x-amz-content-sha256 (S3 wants it; ECR and STS do not).
  // The payload hash in the canonical request is always the body's SHA-256 (an empty body's
  // included).
  bool sign_body = false;
  // Leave X-Amz-Security-Token out of what is signed but still add it to the request (STS
  // quirk some services need).
  bool omit_session_token = false;
  int64_t expires_seconds = 3600; // X-Amz-Expires, query mode only
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // 64 lowercase hex digits
};

// Header mode: signs every header of the request plus the ones it adds, which it appends after
// the existing headers in this order: X-Amz-Security-Token (when there is a session token),
// X-Amz-Date, x-amz-content-sha256 (only with sign_body), Authorization. The request must
// already carry its Host header.
SigV4Result SignWithHeaders(SigV4Request& request, const SigningCredentials& credentials,
                            const SigV4Params& params);

// Query mode (a presigned URL): appends to request.target, %-encoded, X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Expires, X-Amz-Security-Token (when
// there is a session token), X-Amz-Signature. Headers are left unchanged.
SigV4Result SignWithQuery(SigV4Request& request, const SigningCredentials& credentials,
                          const SigV4Params& params);

// Building blocks, also used to check answers and by tests.
std::string Sha256Hex(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string AmzDate(std::time_t time);  // "20150830T123600Z"

// RFC 3986 %-encoding of everything but A-Za-z0-9-._~ (and '/' when keep_slash), hex uppercase.
std::string UriEncode(std::string_view data, bool keep_slash);

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_SIGV4_H_
