#include "layersift/fetch/read_ahead_source.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "layersift/fetch/file_source.h"

#include "test_util.h"

namespace layersift {
namespace {

using testing::Drain;
using testing::DrainWithReadInto;
using testing::StringSource;

// Produces `good_bytes` bytes, then fails.
class FailingSource final : public ByteSource {
 public:
  explicit FailingSource(size_t good_bytes) : good_(good_bytes, 'x') {}

 private:
  std::span<const uint8_t> NextImpl() override {
    if (!sent_) {
      sent_ = true;
      return {reinterpret_cast<const uint8_t*>(good_.data()), good_.size()};
    }
    throw SourceError("disk on fire");
  }
  std::string good_;
  bool sent_ = false;
};

TEST(ReadAheadSourceTest, PassesBytesThroughUnchangedWhateverTheBlockSizes) {
  std::string data;
  for (uint32_t i = 0; i < 300000; ++i) data.push_back(static_cast<char>(i * 7919u % 251u));
  for (size_t inner_block : {size_t{1}, size_t{1000}, size_t{65536}, size_t{1} << 20}) {
    for (size_t block : {size_t{3}, size_t{4096}, size_t{1} << 20}) {
      ReadAheadSource source(std::make_unique<StringSource>(data, inner_block), block, 3);
      EXPECT_EQ(Drain(source), data) << inner_block << "/" << block;
      EXPECT_TRUE(source.Next().empty());
    }
  }
}

// The read-ahead thread fills its blocks through the inner source's ReadInto; a file source
// preads straight into them.
TEST(ReadAheadSourceTest, FillsBlocksFromAFileSourceDirectly) {
  std::string data;
  for (uint32_t i = 0; i < 200000; ++i) data.push_back(static_cast<char>(i * 31u % 253u));
  const std::string path = ::testing::TempDir() + "read_ahead_file_source.bin";
  {
    std::ofstream out(path, std::ios::binary);
    out << data;
  }
  for (size_t file_block : {size_t{7}, size_t{1} << 20}) {
    ReadAheadSource source(std::make_unique<FileSource>(path, 0, UINT64_MAX, file_block), 4096, 3);
    EXPECT_EQ(Drain(source), data);
    FileSource direct(path, 100, 1000, file_block);
    EXPECT_EQ(DrainWithReadInto(direct, 333, true), data.substr(100, 1000));
  }
  std::remove(path.c_str());
}

TEST(ReadAheadSourceTest, ErrorsArriveAfterTheBytesReadBeforeThem) {
  ReadAheadSource source(std::make_unique<FailingSource>(10000), 4096, 2);
  std::string got;
  try {
    for (auto block = source.Next(); !block.empty(); block = source.Next()) {
      got.append(reinterpret_cast<const char*>(block.data()), block.size());
    }
    FAIL() << "the error was lost";
  } catch (const SourceError& e) {
    EXPECT_STREQ(e.what(), "disk on fire");
  }
  EXPECT_EQ(got, std::string(10000, 'x'));
}

TEST(ReadAheadSourceTest, StopsCleanlyWhenAbandonedMidStream) {
  auto source = std::make_unique<ReadAheadSource>(
      std::make_unique<StringSource>(std::string(10 << 20, 'y'), 4096), 4096, 2);
  EXPECT_FALSE(source->Next().empty());
  source.reset();  // must join its thread without deadlock
}

TEST(ReadAheadSourceTest, EmptyInput) {
  ReadAheadSource source(std::make_unique<StringSource>(""));
  EXPECT_TRUE(source.Next().empty());
}

}  // namespace
}  // namespace layersift
