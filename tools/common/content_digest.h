// The one XXH3-128 a report shows for a transfer of several files: both ends compute it
// from their own per-file hashes, so equal values at dwcp-send and dwcp-recv mean every
// file arrived as it was read.
//
// One file (or stdin): its own XXH3-128, what `xxh128sum FILE` prints. Several: the
// XXH3-128 of the lines "HEX  PATH\n" (xxh128sum's format, each file's hash and relative
// path) sorted by path, byte by byte; so it does not depend on which stream carried which
// file or in which order they finished.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "simd/checksum.h"

namespace dwcp::tools {

class ContentDigest {
 public:
  // A file's hash; stdin's path is "-".
  void add(std::string path, const simd::Hash128& hash);
  // Everything `other` holds.
  void merge(const ContentDigest& other);

  [[nodiscard]] std::size_t count() const noexcept { return entries_.size(); }
  // 32 lowercase hex digits, or "" when nothing was added.
  [[nodiscard]] std::string hex() const;

 private:
  struct Entry {
    std::string path;
    simd::Hash128 hash;
  };
  std::vector<Entry> entries_;
};

}  // namespace dwcp::tools
