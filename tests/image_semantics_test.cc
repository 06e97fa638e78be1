// Presence in the final image, from layer entries alone (OCI image spec changeset semantics).
#include "layersift/engine/image_semantics.h"

#include <gtest/gtest.h>

#include <memory>

namespace layersift {
namespace {

// An image built from lists of tar entry names; a trailing '/' marks a directory.
class Image {
 public:
  Image& Layer(std::initializer_list<std::string_view> names) {
    auto layer = std::make_unique<LayerEntries>();
    for (std::string_view name : names) {
      const bool dir = name.ends_with('/');
      layer->Add(name, dir);
    }
    layer->Index();
    layers_.push_back(std::move(layer));
    return *this;
  }
  Image& UnreadableLayer() {
    layers_.push_back(nullptr);
    return *this;
  }
  Presence Of(int layer, std::string_view path) const {
    std::vector<const LayerEntries*> view;
    for (const auto& l : layers_) view.push_back(l.get());
    return PresenceOf(view, layer, path);
  }

 private:
  std::vector<std::unique_ptr<LayerEntries>> layers_;
};

void ExpectRemoved(const Presence& p, int by, RemovalReason reason) {
  EXPECT_TRUE(p.known);
  EXPECT_FALSE(p.present);
  EXPECT_EQ(p.removed_by_layer, by);
  EXPECT_EQ(RemovalReasonName(p.reason), RemovalReasonName(reason));
}

void ExpectPresent(const Presence& p) {
  EXPECT_TRUE(p.known);
  EXPECT_TRUE(p.present);
  EXPECT_EQ(p.removed_by_layer, kNoLayer);
}

TEST(PresenceTest, UntouchedFileIsPresent) {
  Image image;
  image.Layer({"etc/", "etc/app.env"}).Layer({"etc/", "etc/other", "usr/bin/tool"});
  ExpectPresent(image.Of(0, "etc/app.env"));
  ExpectPresent(image.Of(1, "etc/other"));
}

TEST(PresenceTest, WhiteoutOfTheFile) {
  Image image;
  image.Layer({"etc/app.env"}).Layer({"etc/.wh.app.env"});
  ExpectRemoved(image.Of(0, "etc/app.env"), 1, RemovalReason::kWhiteout);
}

TEST(PresenceTest, WhiteoutOfAnAncestorDirectory) {
  Image image;
  image.Layer({"root/deleted/", "root/deleted/sub/x.env"}).Layer({"root/.wh.deleted"});
  ExpectRemoved(image.Of(0, "root/deleted/sub/x.env"), 1, RemovalReason::kWhiteout);
}

TEST(PresenceTest, WhiteoutOfASiblingWithACommonPrefixRemovesNothing) {
  Image image;
  image.Layer({"etc/app.env.bak", "etc/app/x"}).Layer({"etc/.wh.app.env", "etc/.wh.ap"});
  ExpectPresent(image.Of(0, "etc/app.env.bak"));
  ExpectPresent(image.Of(0, "etc/app/x"));
}

TEST(PresenceTest, OpaqueDirectoryHidesLowerLayersButNotItsOwnLayer) {
  Image image;
  image.Layer({"opt/cache/", "opt/cache/token", "opt/cached"})
      .Layer({"opt/cache/", "opt/cache/.wh..wh..opq", "opt/cache/new-token"});
  ExpectRemoved(image.Of(0, "opt/cache/token"), 1, RemovalReason::kOpaqueDirectory);
  ExpectPresent(image.Of(0, "opt/cached"));  // a sibling with the same prefix
  ExpectPresent(image.Of(1, "opt/cache/new-token"));
}

TEST(PresenceTest, OpaqueRootHidesEverything) {
  Image image;
  image.Layer({"a/b"}).Layer({".wh..wh..opq"});
  ExpectRemoved(image.Of(0, "a/b"), 1, RemovalReason::kOpaqueDirectory);
}

TEST(PresenceTest, OverwrittenByAnotherFileOrADirectory) {
  Image image;
  image.Layer({"srv/config.yml", "srv/data"}).Layer({"srv/config.yml", "srv/data/"});
  ExpectRemoved(image.Of(0, "srv/config.yml"), 1, RemovalReason::kOverwritten);
  ExpectRemoved(image.Of(0, "srv/data"), 1, RemovalReason::kOverwritten);
  ExpectPresent(image.Of(1, "srv/config.yml"));
}

TEST(PresenceTest, DirectoryReplacedByAFileOrSymlink) {
  Image image;
  image.Layer({"var/lib/thing/", "var/lib/thing/key.txt"}).Layer({"var/lib/thing"});
  ExpectRemoved(image.Of(0, "var/lib/thing/key.txt"), 1, RemovalReason::kOverwritten);
}

TEST(PresenceTest, RedeclaredParentDirectoriesRemoveNothing) {
  Image image;
  image.Layer({"app/", "app/conf/", "app/conf/secret"}).Layer({"app/", "app/conf/", "app/other"});
  ExpectPresent(image.Of(0, "app/conf/secret"));
}

TEST(PresenceTest, TheFirstRemovingLayerIsReportedAndReAddingLaterDoesNotRestore) {
  Image image;
  image.Layer({"etc/a.env"}).Layer({"etc/.wh.a.env"}).Layer({"etc/a.env"}).Layer({"etc/.wh..wh..opq"});
  ExpectRemoved(image.Of(0, "etc/a.env"), 1, RemovalReason::kWhiteout);
  ExpectRemoved(image.Of(2, "etc/a.env"), 3, RemovalReason::kOpaqueDirectory);
}

TEST(PresenceTest, WhiteoutInTheSameLayerDoesNotRemoveThatLayersFile) {
  Image image;
  image.Layer({"etc/.wh.a.env", "etc/a.env"});
  ExpectPresent(image.Of(0, "etc/a.env"));
}

TEST(PresenceTest, AufsBookkeepingNamesAreNotWhiteouts) {
  Image image;
  image.Layer({"x/file"}).Layer({".wh..wh.plnk/", ".wh..wh.plnk/123.456", "x/.wh..wh.aufs"});
  ExpectPresent(image.Of(0, "x/file"));
}

TEST(PresenceTest, AnUnreadableLaterLayerMakesPresenceUnknownUnlessAnEarlierOneDecided) {
  Image image;
  image.Layer({"a", "b"}).Layer({".wh.a"}).UnreadableLayer();
  ExpectRemoved(image.Of(0, "a"), 1, RemovalReason::kWhiteout);
  EXPECT_FALSE(image.Of(0, "b").known);
}

TEST(PresenceTest, TrailingSlashesAndTheLastLayer) {
  Image image;
  image.Layer({"d/", "d/f"}).Layer({"d/.wh.f/"});
  ExpectRemoved(image.Of(0, "d/f"), 1, RemovalReason::kWhiteout);
  ExpectPresent(image.Of(1, "anything"));
  EXPECT_FALSE(image.Of(5, "d/f").known);  // no such layer
}

}  // namespace
}  // namespace layersift
