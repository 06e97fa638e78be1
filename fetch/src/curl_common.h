// What every libcurl handle of layersift shares: global initialisation, one share object (DNS
// cache, TLS sessions, connections) and the options that make a transfer safe and bounded.
#ifndef LAYERSIFT_FETCH_CURL_COMMON_H_
#define LAYERSIFT_FETCH_CURL_COMMON_H_

#include <curl/curl.h>

#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "layersift/fetch/http_options.h"

namespace layersift {

// Initialises libcurl once per process (thread-safe).
void EnsureCurlInitialised();

// A CURLSH with locking, shared by every handle a client makes: connections and TLS sessions are
// reused across requests, layers and images.
class CurlShare {
 public:
  // `share_connections`: whether easy handles also share their connection pool (the multi handle
  // of the downloader keeps its own).
  explicit CurlShare(bool share_connections);
  ~CurlShare();
  CurlShare(const CurlShare&) = delete;
  CurlShare& operator=(const CurlShare&) = delete;
  CURLSH* get() const { return share_; }

 private:
  struct Locks;
  CURLSH* share_;
  Locks* locks_;
};

// Options every transfer gets: no signals, http(s) only, TLS verification unless told, connect
// and stall timeouts, the user agent, HTTP/2 over TLS where the server offers it. Redirects are
// not followed: the callers follow them so that credentials never leave their origin.
void ConfigureEasy(CURL* easy, const HttpOptions& options, CURLSH* share);

// The response headers of the last response of a transfer, names lower-cased.
class ResponseHeaders {
 public:
  // Feed every header line (as curl's header callback gives them); a status line starts over.
  void AddLine(std::string_view line);
  std::optional<std::string> Get(std::string_view lower_name) const;

 private:
  std::multimap<std::string, std::string, std::less<>> headers_;
};

// Whether a failure is worth a retry: broken connections and timeouts, and 408, 429 and 5xx
// answers (501 and 505 excepted: retrying will not change them).
bool IsRetryableCurlCode(CURLcode code);
bool IsRetryableStatus(long status);

// Seconds to wait before retry number `retry` (1-based): exponential from retry_base_seconds,
// capped at retry_max_seconds, with "equal jitter" (half fixed, half random), unless the server
// said how long (Retry-After), which is honoured as given.
double BackoffSeconds(const HttpOptions& options, int retry, std::optional<double> retry_after,
                      std::mt19937_64& random);

std::string StatusText(long status);  // "HTTP 503 Service Unavailable"

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_CURL_COMMON_H_
