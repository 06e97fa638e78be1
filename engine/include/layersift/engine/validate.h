// Offline validity checks on a secret's bytes (rules' `validate`). None of them touches the
// network: they prove structure, not that the credential is live.
#ifndef LAYERSIFT_ENGINE_VALIDATE_H_
#define LAYERSIFT_ENGINE_VALIDATE_H_

#include <string>
#include <string_view>

#include "layersift/rules/rule.h"

namespace layersift {

// Whether `secret` passes `validator` (kNone always passes).
bool PassesValidation(Validator validator, std::string_view secret);

// base62 (0-9A-Za-z) of CRC32 (IEEE) of `data`, left-padded with '0' to 6 characters: the check
// digits of GitHub's and npm's token formats.
std::string Crc32Base62(std::string_view data);

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_VALIDATE_H_
