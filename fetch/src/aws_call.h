// One call to an AWS API over HTTP: SigV4-signed (or unsigned, for the STS calls that take no
// credentials), throttling retried with backoff, error answers turned into AwsError.
#ifndef LAYERSIFT_FETCH_AWS_CALL_H_
#define LAYERSIFT_FETCH_AWS_CALL_H_

#include <string>
#include <utility>
#include <vector>

#include "http_client.h"
#include "layersift/fetch/aws.h"

namespace layersift {

enum class AwsProtocol {
  kQuery,  // form-encoded POST, XML answers (STS)
  kJson,   // JSON 1.1 POST with X-Amz-Target, JSON answers (ECR, ECR Public)
};

struct AwsCall {
  std::string endpoint;        // "https://api.ecr.us-east-1.amazonaws.com" (a path is allowed)
  std::string service;         // the SigV4 signing name: "sts", "ecr", "ecr-public"
  std::string region;
  AwsProtocol protocol = AwsProtocol::kJson;
  std::string target;          // X-Amz-Target (JSON protocol)
  std::string body;
  std::string action;          // for messages: "sts:AssumeRole", "ecr:ListImages"
};

// Sends the call; `credentials` null sends it unsigned. Returns the body of a 2xx answer.
// Throws AwsError for an error answer (code and message parsed from either protocol's shape) or
// when no answer came. Throttling answers (and 429/5xx, through the HTTP client) are retried up to
// http.options().max_retries times.
std::string SendAwsCall(const HttpClient& http, const AwsCall& call, const AwsCredentials* credentials);

// The text of the first element named `name` anywhere in an XML document ("" if none).
std::string XmlElementText(const std::string& xml, const char* name);
// Same, under the first element named `parent`.
std::string XmlElementText(const std::string& xml, const char* parent, const char* name);

// "2026-11-30T12:00:00Z" (also with fractional seconds or "+00:00") as a time point; nullopt
// when it does not parse.
std::optional<AwsClock::time_point> ParseIso8601(const std::string& text);

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_AWS_CALL_H_
