#include "aws_flags.h"

#include <stdexcept>

namespace layersift {

void AwsFlags::AddTo(CLI::App& app) {
  const std::string group = "AWS (ECR registries)";
  app.add_option("--aws-profile", profile,
                 "Profile of the AWS config and credentials files ($AWS_CONFIG_FILE, "
                 "$AWS_SHARED_CREDENTIALS_FILE); default $AWS_PROFILE or `default`. Credentials "
                 "come from the AWS SDKs' chain: environment keys (skipped when --aws-profile is "
                 "given), the profile, web identity, container (ECS, EKS Pod Identity), EC2 "
                 "instance metadata (IMDSv2)")
      ->group(group);
  app.add_option("--aws-region", region,
                 "Region of the ECR API and STS calls; default $AWS_REGION, $AWS_DEFAULT_REGION, the "
                 "profile's region, or the EC2 instance's (a registry host names its own region)")
      ->group(group);
  app.add_option("--aws-role-arn", role_arn,
                 "Assume this role (e.g. in another account) with the credentials the chain found")
      ->group(group);
  app.add_option("--aws-external-id", external_id,
                 "External ID the role's trust policy requires (with --aws-role-arn)")
      ->group(group);
  app.add_option("--aws-role-session-name", role_session_name,
                 "Session name of the assumed role (default layersift-<unix time>)")
      ->group(group);
}

std::shared_ptr<AwsSession> AwsFlags::Session(const HttpOptions& http) const {
  if (!external_id.empty() && role_arn.empty()) throw std::invalid_argument("--aws-external-id needs --aws-role-arn");
  if (!role_session_name.empty() && role_arn.empty()) {
    throw std::invalid_argument("--aws-role-session-name needs --aws-role-arn");
  }
  AwsOptions options;
  options.profile = profile;
  options.region = region;
  options.role_arn = role_arn;
  options.external_id = external_id;
  options.role_session_name = role_session_name;
  options.http = http;
  return std::make_shared<AwsSession>(options);
}

}  // namespace layersift
