#include "layersift/engine/path_filter.h"

#include <gtest/gtest.h>

#include "layersift/rules/rule_loader.h"

namespace layersift {
namespace {

TEST(PathFilterTest, DefaultExclusionsMatchAnywhereWithALeadingSlash) {
  PathFilter filter(DefaultExcludedPathPatterns());
  EXPECT_TRUE(filter.Excludes("node_modules/left-pad/index.js"));
  EXPECT_TRUE(filter.Excludes("app/node_modules/x/.env"));
  EXPECT_TRUE(filter.Excludes("usr/lib/python3/dist-packages/foo.py"));
  EXPECT_TRUE(filter.Excludes("etc/ssl/private/ssl-cert-snakeoil.key"));
  EXPECT_FALSE(filter.Excludes("app/.env"));
  EXPECT_FALSE(filter.Excludes("etc/ssl/private/server.key"));
  EXPECT_FALSE(filter.Excludes("home/dev/my_node_modules_notes.txt"));
}

TEST(PathFilterTest, UserPatternsAndEmptyFilter) {
  PathFilter filter({R"(\.md$)", "^/tmp/"});
  EXPECT_TRUE(filter.Excludes("docs/README.md"));
  EXPECT_TRUE(filter.Excludes("tmp/x"));
  EXPECT_FALSE(filter.Excludes("var/tmp/x"));
  PathFilter none({});
  EXPECT_FALSE(none.Excludes("node_modules/x"));
  PathFilter copy(filter);
  EXPECT_TRUE(copy.Excludes("a.md"));
}

TEST(PathFilterTest, InvalidPatternIsNamed) {
  try {
    PathFilter filter({"ok", "(unclosed"});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("(unclosed"), std::string::npos);
  }
}

}  // namespace
}  // namespace layersift
