#include "tools/common/content_digest.h"

#include <algorithm>
#include <utility>

namespace dwcp::tools {

void ContentDigest::add(std::string path, const simd::Hash128& hash) {
  entries_.push_back(Entry{std::move(path), hash});
}

void ContentDigest::merge(const ContentDigest& other) {
  entries_.insert(entries_.end(), other.entries_.begin(), other.entries_.end());
}

std::string ContentDigest::hex() const {
  if (entries_.empty()) return "";
  if (entries_.size() == 1) return entries_.front().hash.to_hex();
  std::vector<const Entry*> sorted;
  sorted.reserve(entries_.size());
  for (const Entry& entry : entries_) sorted.push_back(&entry);
  std::ranges::sort(sorted, [](const Entry* a, const Entry* b) { return a->path < b->path; });
  simd::Xxh3_128Stream hasher;
  std::string line;
  for (const Entry* entry : sorted) {
    line = entry->hash.to_hex();
    line += "  ";
    line += entry->path;
    line += '\n';
    hasher.update(simd::as_bytes(line));
  }
  return hasher.digest().to_hex();
}

}  // namespace dwcp::tools
