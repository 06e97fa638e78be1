#include "http_client.h"

#include <chrono>
#include <thread>

#include "layersift/fetch/http_parse.h"

namespace layersift {
namespace {

struct Collector {
  HttpResponse* response;
  size_t max_body_bytes;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* collector = static_cast<Collector*>(user);
  const size_t n = size * count;
  if (collector->response->body.size() + n > collector->max_body_bytes) {
    collector->too_large = true;
    return 0;  // aborts the transfer
  }
  collector->response->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  static_cast<HttpResponse*>(user)->headers.AddLine(std::string_view(data, size * count));
  return size * count;
}

bool IsRedirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

HttpClient::HttpClient(HttpOptions options)
    : options_(std::move(options)), share_(/*share_connections=*/true), random_(std::random_device{}()) {}

CURLcode HttpClient::Perform(const HttpRequest& request, const std::string& url, bool with_auth,
                             HttpResponse& response, std::string& curl_error) const {
  response = HttpResponse{};
  response.url = url;
  CURL* easy = curl_easy_init();
  if (easy == nullptr) throw HttpError("cannot create a libcurl handle");
  ConfigureEasy(easy, options_, share_.get());
  curl_slist* headers = nullptr;
  for (const std::string& header : request.headers) headers = curl_slist_append(headers, header.c_str());
  const std::string authorization = "Authorization: " + request.authorization;
  if (with_auth && !request.authorization.empty()) headers = curl_slist_append(headers, authorization.c_str());
  const std::string content_type = "Content-Type: " + request.content_type;
  if (!request.content_type.empty()) headers = curl_slist_append(headers, content_type.c_str());
  char error[CURL_ERROR_SIZE] = {};
  Collector collector{&response, request.max_body_bytes};
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &collector);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &response);
  if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (request.method == "POST" || request.method == "PUT") {
    if (request.method == "PUT") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.c_str());
  }
  // Transfers here are small: a total timeout on top of the stall timeout bounds a trickle.
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   static_cast<long>((options_.connect_timeout_seconds + 4 * options_.stall_timeout_seconds) * 1000));
  ++requests_sent_;
  const CURLcode code = curl_easy_perform(easy);
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.status);
  long connects = 0;
  if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK) connections_opened_ += connects;
  if (IsRedirect(response.status)) {
    char* location = nullptr;
    curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &location);
    if (location != nullptr) response.headers.AddLine(std::string("location: ") + location);
  }
  curl_easy_cleanup(easy);
  curl_slist_free_all(headers);
  if (collector.too_large) {
    throw HttpError(request.method + " " + url + ": answer larger than " +
                    std::to_string(request.max_body_bytes) + " bytes");
  }
  curl_error = error[0] != '\0' ? error : curl_easy_strerror(code);
  return code;
}

HttpResponse HttpClient::Send(const HttpRequest& request) const {
  std::string url = request.url;
  const std::string origin = OriginOf(request.url);
  int redirects = 0;
  int retries = 0;
  for (;;) {
    HttpResponse response;
    std::string curl_error;
    const bool same_origin = OriginOf(url) == origin;
    const CURLcode code = Perform(request, url, same_origin, response, curl_error);
    std::optional<double> retry_after;
    if (code == CURLE_OK) {
      if (IsRedirect(response.status)) {
        const auto location = response.headers.Get("location");
        if (!location) return response;
        if (++redirects > kMaxRedirects) {
          throw HttpError(request.method + " " + request.url + ": more than " +
                          std::to_string(kMaxRedirects) + " redirects");
        }
        url = ResolveUrl(url, *location);
        continue;
      }
      if (!IsRetryableStatus(response.status) || retries >= options_.max_retries) {
        response.retries = retries;
        return response;
      }
      if (const auto value = response.headers.Get("retry-after")) {
        retry_after = ParseRetryAfter(*value, std::time(nullptr));
        if (retry_after && *retry_after > options_.max_retry_after_seconds) {
          response.retries = retries;
          return response;  // the caller reports the status; waiting that long is not a retry
        }
      }
    } else if (!IsRetryableCurlCode(code) || retries >= options_.max_retries) {
      throw HttpError(request.method + " " + url + ": " + curl_error +
                      (retries > 0 ? " (after " + std::to_string(retries) + " retries)" : ""));
    }
    ++retries;
    double wait;
    {
      std::lock_guard<std::mutex> lock(random_mutex_);
      wait = BackoffSeconds(options_, retries, retry_after, random_);
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
  }
}

}  // namespace layersift
