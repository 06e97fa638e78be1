// The image config as scanned: its virtual files, and which history entry made which layer.
#include <gtest/gtest.h>

#include "layersift/engine/target.h"

namespace layersift {
namespace {

constexpr const char* kConfig = R"({
  "architecture": "arm64", "os": "linux", "variant": "v8",
  "config": {
    "Env": ["PATH=/usr/bin", "API_TOKEN=abc", ""],
    "Labels": {"org.example.token": "t0k", "maintainer": "x"},
    "Cmd": ["/bin/sh", "-c", "serve --password hunter2"],
    "Entrypoint": ["/init"],
    "User": "app",
    "WorkingDir": "/srv"
  },
  "history": [
    {"created_by": "ADD rootfs.tar /"},
    {"created_by": "ENV API_TOKEN=abc", "empty_layer": true},
    {"created_by": "RUN |1 TOKEN=xyz /bin/sh -c make"},
    {"created_by": "LABEL a=b", "empty_layer": true},
    {"comment": "no instruction recorded"}
  ]
})";

TEST(ConfigFilesTest, EveryScannedFieldHasAStableName) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const ConfigFile& f : ConfigFilesOf(kConfig)) files.emplace_back(f.name, f.content);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"config:Env[0]", "PATH=/usr/bin"},
      {"config:Env[1]", "API_TOKEN=abc"},
      {"config:Labels[maintainer]", "maintainer=x"},
      {"config:Labels[org.example.token]", "org.example.token=t0k"},
      {"config:Cmd", "/bin/sh -c serve --password hunter2"},
      {"config:Entrypoint", "/init"},
      {"config:User", "app"},
      {"config:WorkingDir", "/srv"},
      {"history[0].created_by", "ADD rootfs.tar /"},
      {"history[1].created_by", "ENV API_TOKEN=abc"},
      {"history[2].created_by", "RUN |1 TOKEN=xyz /bin/sh -c make"},
      {"history[3].created_by", "LABEL a=b"},
  };
  EXPECT_EQ(files, expected);  // the empty Env entry and the entry without created_by are skipped
}

TEST(ConfigFilesTest, MalformedConfigsGiveNothingRatherThanThrow) {
  EXPECT_TRUE(ConfigFilesOf("not json").empty());
  EXPECT_TRUE(ConfigFilesOf("[1,2]").empty());
  EXPECT_TRUE(ConfigFilesOf(R"({"config": {"Env": "x", "Labels": [1]}, "history": {}})").empty());
  EXPECT_EQ(ConfigFilesOf(R"({"config": {"Env": [1, "A=b"]}})").size(), 1u);
  // Fields of the wrong type are no value, not an exception that would fail the whole target.
  const std::string odd = R"({"history": [{"created_by": 5}, {"created_by": "RUN x", "empty_layer": "yes"}]})";
  ASSERT_EQ(ConfigFilesOf(odd).size(), 1u);
  EXPECT_EQ(ConfigFilesOf(odd)[0].name, "history[1].created_by");
  std::vector<LayerDescriptor> layers(2);
  AttributeLayers(odd, layers);
  EXPECT_EQ(layers[0].history_index, 0);
  EXPECT_EQ(layers[0].created_by, "");
  EXPECT_EQ(layers[1].history_index, 1);  // "yes" is not true: the entry made a layer
}

TEST(ConfigFilesTest, HistoryIndexOfAVirtualFileName) {
  EXPECT_EQ(HistoryIndexOfConfigFile("history[0].created_by"), 0);
  EXPECT_EQ(HistoryIndexOfConfigFile("history[12].created_by"), 12);
  EXPECT_EQ(HistoryIndexOfConfigFile("history[].created_by"), -1);
  EXPECT_EQ(HistoryIndexOfConfigFile("history[1x].created_by"), -1);
  EXPECT_EQ(HistoryIndexOfConfigFile("config:Env[1]"), -1);
  EXPECT_EQ(HistoryIndexOfConfigFile("history[3].created_by.bak"), -1);
}

TEST(AttributionTest, EmptyLayerEntriesAreSkippedWhenMappingHistoryToLayers) {
  std::vector<LayerDescriptor> layers(3);
  AttributeLayers(kConfig, layers);
  EXPECT_EQ(layers[0].history_index, 0);
  EXPECT_EQ(layers[0].created_by, "ADD rootfs.tar /");
  EXPECT_EQ(layers[1].history_index, 2);
  EXPECT_EQ(layers[1].created_by, "RUN |1 TOKEN=xyz /bin/sh -c make");
  // history[4] has no created_by but made a layer: attributed, with nothing to show.
  EXPECT_EQ(layers[2].history_index, 4);
  EXPECT_EQ(layers[2].created_by, "");
  // Until a scan masks secrets, the redacted text is the text.
  EXPECT_EQ(layers[1].created_by_redacted, layers[1].created_by);
}

TEST(AttributionTest, MoreLayersThanHistoryLeavesTheRestUnattributed) {
  std::vector<LayerDescriptor> layers(5);
  AttributeLayers(kConfig, layers);
  EXPECT_EQ(layers[3].history_index, -1);
  EXPECT_EQ(layers[4].created_by, "");
}

}  // namespace
}  // namespace layersift
