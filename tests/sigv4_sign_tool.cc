// Test-only: signs requests read as JSON lines on stdin, in header mode, and writes one JSON line
// per request, so that sigv4_botocore_test.py can hold the signer against botocore's.
//
// In:  {"method", "target", "headers": [[name, value], ...], "body", "access_key_id",
//       "secret_access_key", "session_token", "region", "service", "time": epoch seconds,
//       "sign_body": bool}
// Out: {"canonical_request", "string_to_sign", "signature", "target",
//       "headers": [[name, value], ...] (the request's headers after signing)}
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "sigv4.h"

int main() {
  using nlohmann::json;
  std::string line;
  for (int line_number = 1; std::getline(std::cin, line); ++line_number) {
    try {
      const json in = json::parse(line);
      layersift::SigV4Request request;
      request.method = in.at("method").get<std::string>();
      request.target = in.at("target").get<std::string>();
      for (const auto& header : in.at("headers")) {
        request.headers.emplace_back(header.at(0).get<std::string>(),
                                     header.at(1).get<std::string>());
      }
      request.body = in.at("body").get<std::string>();
      const layersift::SigningCredentials credentials{in.at("access_key_id").get<std::string>(),
                                                      in.at("secret_access_key").get<std::string>(),
                                                      in.value("session_token", "")};
      layersift::SigV4Params params;
      params.region = in.at("region").get<std::string>();
      params.service = in.at("service").get<std::string>();
      params.time = in.at("time").get<std::time_t>();
      params.sign_body = in.at("sign_body").get<bool>();
      const layersift::SigV4Result result = SignWithHeaders(request, credentials, params);
      const json out = {{"canonical_request", result.canonical_request},
                        {"string_to_sign", result.string_to_sign},
                        {"signature", result.signature},
                        {"target", request.target},
                        {"headers", request.headers}};
      // Replace rather than throw on bytes that are not UTF-8: the comparison then fails and
      // shows them, instead of the tool dying mid-stream.
      std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
    } catch (const std::exception& e) {
      std::cerr << "sigv4_sign_tool: line " << line_number << ": " << e.what() << '\n';
      return 1;
    }
  }
  return 0;
}
