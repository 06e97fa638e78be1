// Parsers for the HTTP header values the registry client acts on. Pure functions, exposed so
// that tests can hold them to the RFCs' corner cases.
#ifndef LAYERSIFT_FETCH_HTTP_PARSE_H_
#define LAYERSIFT_FETCH_HTTP_PARSE_H_

#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace layersift {

// One challenge of a WWW-Authenticate header (RFC 7235): `Bearer realm="...",service="..."`.
struct AuthChallenge {
  std::string scheme;                         // lower-cased: "bearer", "basic"
  std::map<std::string, std::string> params;  // names lower-cased, values unquoted
};

// Every challenge in the header value, in order. Malformed parts are skipped, never thrown.
std::vector<AuthChallenge> ParseWwwAuthenticate(std::string_view value);

// "bytes FIRST-LAST/TOTAL" or "bytes FIRST-LAST/*" (RFC 9110 14.4); nullopt if malformed.
struct ContentRange {
  uint64_t first = 0;
  uint64_t last = 0;                  // inclusive
  std::optional<uint64_t> total;
};
std::optional<ContentRange> ParseContentRange(std::string_view value);

// The target of the rel="next" link in a Link header (RFC 8288), as written (possibly relative).
std::optional<std::string> NextLinkTarget(std::string_view value);

// Seconds to wait from a Retry-After value: delay-seconds, or an HTTP-date relative to `now`
// (a past date gives 0). nullopt if malformed.
std::optional<double> ParseRetryAfter(std::string_view value, std::time_t now);

// `relative` (a Location or Link target) resolved against the absolute URL `base`. Throws
// std::invalid_argument when it cannot be resolved.
std::string ResolveUrl(const std::string& base, const std::string& relative);

// "scheme://host[:port]" of an absolute URL (lower-cased), "" if it has none. Two URLs with the
// same origin may share credentials; a redirect to another origin must not carry them.
std::string OriginOf(const std::string& url);

// "user:pass" <-> base64 for Basic auth and docker's config.json "auth" fields.
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

// Percent-encodes a query value (RFC 3986 unreserved characters are kept).
std::string UrlEncode(std::string_view text);

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_HTTP_PARSE_H_
