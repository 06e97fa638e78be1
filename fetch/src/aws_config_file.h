// The AWS shared configuration files (~/.aws/config and ~/.aws/credentials): INI sections of
// key = value settings, read the way the AWS CLI reads them.
#ifndef LAYERSIFT_FETCH_AWS_CONFIG_FILE_H_
#define LAYERSIFT_FETCH_AWS_CONFIG_FILE_H_

#include <map>
#include <optional>
#include <string>

namespace layersift {

// One profile's settings, merged from both files: the credentials file wins for keys it has.
using AwsProfile = std::map<std::string, std::string>;

class AwsSharedConfig {
 public:
  // Reads $AWS_CONFIG_FILE (default ~/.aws/config) and $AWS_SHARED_CREDENTIALS_FILE (default
  // ~/.aws/credentials). A missing file is no error; an unreadable one or a malformed line throws
  // AwsError naming the file and line.
  static AwsSharedConfig Load();
  // The same from two given paths ("" for none).
  static AwsSharedConfig Load(const std::string& config_path, const std::string& credentials_path);

  // The profile's settings, or nullopt when neither file has it. In the config file a profile is
  // [profile NAME] ([default] or [profile default] for the default one); in the credentials
  // file it is [NAME].
  std::optional<AwsProfile> Profile(const std::string& name) const;
  const std::string& config_path() const { return config_path_; }
  const std::string& credentials_path() const { return credentials_path_; }

 private:
  std::map<std::string, AwsProfile> config_profiles_;
  std::map<std::string, AwsProfile> credentials_profiles_;
  std::string config_path_;
  std::string credentials_path_;
};

// $NAME, or "" when unset.
std::string GetEnv(const char* name);

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_AWS_CONFIG_FILE_H_
