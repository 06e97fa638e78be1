#include "curl_common.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <mutex>

namespace layersift {

void EnsureCurlInitialised() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw HttpError("cannot initialise libcurl");
  });
}

struct CurlShare::Locks {
  std::mutex mutexes[CURL_LOCK_DATA_LAST];
};

CurlShare::CurlShare(bool share_connections) : share_(nullptr), locks_(new Locks) {
  EnsureCurlInitialised();
  share_ = curl_share_init();
  if (share_ == nullptr) {
    delete locks_;
    throw HttpError("cannot create a libcurl share handle");
  }
  curl_share_setopt(share_, CURLSHOPT_LOCKFUNC,
                    +[](CURL*, curl_lock_data data, curl_lock_access, void* user) {
                      static_cast<Locks*>(user)->mutexes[data].lock();
                    });
  curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, +[](CURL*, curl_lock_data data, void* user) {
    static_cast<Locks*>(user)->mutexes[data].unlock();
  });
  curl_share_setopt(share_, CURLSHOPT_USERDATA, locks_);
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  if (share_connections) curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
}

CurlShare::~CurlShare() {
  curl_share_cleanup(share_);
  delete locks_;
}

void ConfigureEasy(CURL* easy, const HttpOptions& options, CURLSH* share) {
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout_seconds * 1000));
  // "Stalled" is: under one byte per second for the whole stall window.
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME,
                   std::max(1L, static_cast<long>(std::ceil(options.stall_timeout_seconds))));
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, options.insecure_tls ? 0L : 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, options.insecure_tls ? 0L : 2L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  if (share != nullptr) curl_easy_setopt(easy, CURLOPT_SHARE, share);
}

void ResponseHeaders::AddLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.substr(0, 5) == "HTTP/") {  // a new response (after a 100 Continue, say)
    headers_.clear();
    return;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  headers_.emplace(std::move(name), std::string(value));
}

std::optional<std::string> ResponseHeaders::Get(std::string_view lower_name) const {
  const auto it = headers_.find(lower_name);
  if (it == headers_.end()) return std::nullopt;
  return it->second;
}

// A host name that does not resolve is almost always a typo: failing at once says so sooner.
bool IsRetryableCurlCode(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
      return true;
    default:
      return false;
  }
}

bool IsRetryableStatus(long status) {
  return status == 408 || status == 429 || (status >= 500 && status <= 599 && status != 501 && status != 505);
}

double BackoffSeconds(const HttpOptions& options, int retry, std::optional<double> retry_after,
                      std::mt19937_64& random) {
  if (retry_after) return *retry_after;
  const double exponential =
      std::min(options.retry_max_seconds, options.retry_base_seconds * std::ldexp(1.0, std::max(0, retry - 1)));
  std::uniform_real_distribution<double> jitter(0.0, exponential / 2);
  return exponential / 2 + jitter(random);
}

std::string StatusText(long status) {
  const char* reason = "";
  switch (status) {
    case 400: reason = " Bad Request"; break;
    case 401: reason = " Unauthorized"; break;
    case 403: reason = " Forbidden"; break;
    case 404: reason = " Not Found"; break;
    case 408: reason = " Request Timeout"; break;
    case 416: reason = " Range Not Satisfiable"; break;
    case 429: reason = " Too Many Requests"; break;
    case 500: reason = " Internal Server Error"; break;
    case 502: reason = " Bad Gateway"; break;
    case 503: reason = " Service Unavailable"; break;
    case 504: reason = " Gateway Timeout"; break;
    default: break;
  }
  return "HTTP " + std::to_string(status) + reason;
}

}  // namespace layersift
