#include "aws_call.h"

#include <tinyxml2.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "layersift/fetch/http_parse.h"
#include "sigv4.h"

namespace layersift {
namespace {

using nlohmann::json;

// Throttling error codes of the AWS protocols; answered with HTTP 400, so the HTTP client's
// retry of 429 and 5xx does not see them.
bool IsThrottling(const std::string& code) {
  return code == "ThrottlingException" || code == "Throttling" || code == "ThrottledException" ||
         code == "RequestLimitExceeded" || code == "TooManyRequestsException" ||
         code == "RequestThrottledException" || code == "RequestThrottled";
}

const tinyxml2::XMLElement* FindElement(const tinyxml2::XMLElement* root, const char* name) {
  if (root == nullptr) return nullptr;
  if (std::string_view(root->Name()) == name) return root;
  for (const tinyxml2::XMLElement* child = root->FirstChildElement(); child != nullptr;
       child = child->NextSiblingElement()) {
    if (const tinyxml2::XMLElement* found = FindElement(child, name)) return found;
  }
  return nullptr;
}

std::string ElementText(const tinyxml2::XMLElement* element) {
  if (element == nullptr || element->GetText() == nullptr) return "";
  return element->GetText();
}

// The code and message of an error answer, from whichever shape it has: JSON
// {"__type": "[prefix#]Code", "message"|"Message"} or query XML <Error><Code/><Message/></Error>.
std::pair<std::string, std::string> ErrorOf(const HttpResponse& response) {
  std::string code;
  std::string message;
  const json parsed = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object()) {
    if (parsed.contains("__type") && parsed["__type"].is_string()) code = parsed["__type"];
    for (const char* key : {"message", "Message"}) {
      if (parsed.contains(key) && parsed[key].is_string()) message = parsed[key];
    }
    const size_t hash = code.rfind('#');
    if (hash != std::string::npos) code = code.substr(hash + 1);
    const size_t colon = code.find(':');  // "Code:http://internal.amazon.com/..."
    if (colon != std::string::npos) code.resize(colon);
  } else {
    code = XmlElementText(response.body, "Error", "Code");
    message = XmlElementText(response.body, "Error", "Message");
  }
  if (code.empty()) code = response.headers.Get("x-amzn-errortype").value_or("");
  return {code, message};
}

std::string HostOf(const std::string& url, std::string& path) {
  const size_t scheme_end = url.find("://");
  const size_t host_begin = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const size_t path_begin = url.find('/', host_begin);
  path = path_begin == std::string::npos ? "/" : url.substr(path_begin);
  return url.substr(host_begin, path_begin == std::string::npos ? std::string::npos : path_begin - host_begin);
}

}  // namespace

std::string XmlElementText(const std::string& xml, const char* name) {
  tinyxml2::XMLDocument document;
  if (document.Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS) return "";
  return ElementText(FindElement(document.RootElement(), name));
}

std::string XmlElementText(const std::string& xml, const char* parent, const char* name) {
  tinyxml2::XMLDocument document;
  if (document.Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS) return "";
  return ElementText(FindElement(FindElement(document.RootElement(), parent), name));
}

std::optional<AwsClock::time_point> ParseIso8601(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) return std::nullopt;
  if (*end == '.') {
    ++end;
    while (*end >= '0' && *end <= '9') ++end;
  }
  const std::string zone(end);
  if (!zone.empty() && zone != "Z" && zone != "+00:00") return std::nullopt;
  return AwsClock::from_time_t(timegm(&tm));
}

std::string SendAwsCall(const HttpClient& http, const AwsCall& call, const AwsCredentials* credentials) {
  std::string path;
  const std::string host = HostOf(call.endpoint, path);
  thread_local std::mt19937_64 random{std::random_device{}()};
  for (int attempt = 0;; ++attempt) {
    SigV4Request signed_request;
    signed_request.method = "POST";
    signed_request.target = path;
    signed_request.headers.emplace_back("Host", host);
    if (call.protocol == AwsProtocol::kJson) {
      signed_request.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
      signed_request.headers.emplace_back("X-Amz-Target", call.target);
    } else {
      signed_request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    }
    signed_request.body = call.body;
    if (credentials != nullptr) {
      SigV4Params params;
      params.region = call.region;
      params.service = call.service;
      params.time = std::time(nullptr);  // signed per attempt: a retry must not carry a stale date
      SignWithHeaders(signed_request,
                      SigningCredentials{credentials->access_key_id, credentials->secret_access_key,
                                         credentials->session_token},
                      params);
    }
    HttpRequest request;
    request.method = "POST";
    request.url = call.endpoint;
    request.body = call.body;
    for (const auto& [name, value] : signed_request.headers) request.headers.push_back(name + ": " + value);
    HttpResponse response;
    try {
      response = http.Send(request);
    } catch (const HttpError& e) {
      throw AwsError(call.action + ": " + e.what());
    }
    if (response.status >= 200 && response.status <= 299) return response.body;
    auto [code, message] = ErrorOf(response);
    if (IsThrottling(code) && attempt < http.options().max_retries) {
      std::this_thread::sleep_for(
          std::chrono::duration<double>(BackoffSeconds(http.options(), attempt + 1, std::nullopt, random)));
      continue;
    }
    std::string what = call.action + ": " + (code.empty() ? StatusText(response.status) : code);
    if (!message.empty()) what += ": " + message;
    if (attempt > 0) what += " (after " + std::to_string(attempt) + " retries)";
    throw AwsError(what, code, message, response.status);
  }
}

bool AwsError::IsCredentialError() const {
  return code_ == "InvalidClientTokenId" || code_ == "UnrecognizedClientException" ||
         code_ == "SignatureDoesNotMatch" || code_ == "InvalidSignatureException" ||
         code_ == "ExpiredToken" || code_ == "ExpiredTokenException" || code_ == "MissingAuthenticationToken" ||
         code_ == "MissingAuthenticationTokenException" || code_ == "IncompleteSignature" ||
         code_ == "IncompleteSignatureException" || code_ == "InvalidIdentityToken" ||
         code_ == "AuthFailure";
}

bool AwsError::IsAccessDenied() const {
  return code_ == "AccessDenied" || code_ == "AccessDeniedException";
}

}  // namespace layersift
