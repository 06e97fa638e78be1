// Decompression by magic bytes, as pull decorators over a ByteSource.
#ifndef LAYERSIFT_ENGINE_DECOMPRESS_H_
#define LAYERSIFT_ENGINE_DECOMPRESS_H_

#include <memory>
#include <string_view>

#include "layersift/fetch/byte_source.h"

namespace layersift {

enum class Compression { kNone, kGzip, kZstd };

std::string_view CompressionName(Compression compression);

// Largest zstd window accepted, as a power of two: 2^27 = 128 MiB, zstd's own default ceiling.
// Layers are untrusted input; a frame asking for more is an error, not an allocation.
inline constexpr int kZstdWindowLogMax = 27;

// Output block handed out by the decompressors.
inline constexpr size_t kDecompressedBlockBytes = 1 << 20;

// Reads the first block of `raw`, detects gzip (1f 8b) or zstd (28 b5 2f fd) by magic bytes and
// returns a source of the decompressed bytes; anything else is passed through unchanged. The
// media type is deliberately not consulted: registries mislabel layers.
//
// The decompressors accept multi-member gzip and multi-frame zstd, and throw SourceError when the
// stream is corrupt or ends inside a member or frame ("truncated gzip stream ...").
std::unique_ptr<ByteSource> OpenDecompressed(std::unique_ptr<ByteSource> raw,
                                             Compression* detected = nullptr);

// Which gzip inflater this build uses: "isa-l" or "zlib".
std::string_view GzipBackendName();

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_DECOMPRESS_H_
