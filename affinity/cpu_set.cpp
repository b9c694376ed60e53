#include "affinity/cpu_set.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <utility>

namespace dwcp::affinity {

namespace {

constexpr int kWordBits = 64;
constexpr std::size_t kMaxQuotedInput = 64;

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string quote(std::string_view s) {
  // Long inputs are cut so an error about a machine-generated list stays readable.
  // Built by appending: an operator+ chain trips a false -Wrestrict at -O3 (GCC PR 105329).
  std::string out = "\"";
  if (s.size() > kMaxQuotedInput) {
    out.append(s.substr(0, kMaxQuotedInput)).append("...");
  } else {
    out.append(s);
  }
  out += '"';
  return out;
}

class CpuListParser {
 public:
  explicit CpuListParser(std::string_view text) : text_(text) {}

  AffinityResult<CpuSet> run() {
    CpuSet set;
    skip_blanks();
    if (at_end()) return fail("empty CPU list " + quote(text_));
    for (;;) {
      const std::size_t item_start = pos_;
      auto lo = parse_id();
      if (!lo) return std::unexpected(std::move(lo.error()));
      int hi = *lo;
      if (!at_end() && text_[pos_] == '-') {
        ++pos_;
        auto end = parse_id();
        if (!end) return std::unexpected(std::move(end.error()));
        hi = *end;
        if (hi < *lo) {
          return fail("descending range " + quote(text_.substr(item_start, pos_ - item_start)) +
                      " at position " + std::to_string(item_start) + " in " + quote(text_));
        }
      }
      for (int cpu = *lo; cpu <= hi; ++cpu) {
        set.add(cpu);
      }
      skip_blanks();
      if (at_end()) return set;
      if (text_[pos_] != ',') return unexpected_here("',' or end of input");
      ++pos_;
      skip_blanks();
    }
  }

 private:
  bool at_end() const { return pos_ >= text_.size(); }

  void skip_blanks() {
    while (!at_end() && is_blank(text_[pos_])) {
      ++pos_;
    }
  }

  AffinityResult<int> parse_id() {
    if (at_end() || !is_digit(text_[pos_])) return unexpected_here("a CPU id");
    const std::size_t start = pos_;
    // Saturate instead of wrapping so that any overflow lands above kMaxCpuId.
    std::uint64_t value = 0;
    while (!at_end() && is_digit(text_[pos_])) {
      if (value <= static_cast<std::uint64_t>(CpuSet::kMaxCpuId)) {
        value = value * 10 + static_cast<std::uint64_t>(text_[pos_] - '0');
      }
      ++pos_;
    }
    if (value > static_cast<std::uint64_t>(CpuSet::kMaxCpuId)) {
      return fail("CPU id " + quote(text_.substr(start, pos_ - start)) + " at position " +
                  std::to_string(start) + " exceeds the maximum " +
                  std::to_string(CpuSet::kMaxCpuId) + " in " + quote(text_));
    }
    return static_cast<int>(value);
  }

  std::unexpected<AffinityError> unexpected_here(std::string_view expected) const {
    const std::string found =
        at_end() ? std::string("end of input") : std::string{'\'', text_[pos_], '\''};
    return fail("expected " + std::string(expected) + " at position " + std::to_string(pos_) +
                ", found " + found + " in " + quote(text_));
  }

  static std::unexpected<AffinityError> fail(std::string detail) {
    return std::unexpected(AffinityError{AffinityErrc::malformed_cpu_list, std::move(detail)});
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

AffinityResult<CpuSet> CpuSet::parse(std::string_view text) {
  return CpuListParser(text).run();
}

CpuSet CpuSet::from_cpu_set_t(const cpu_set_t& set) {
  return from_cpu_set_t(&set, sizeof set);
}

CpuSet CpuSet::from_cpu_set_t(const cpu_set_t* set, std::size_t size_bytes) {
  CpuSet out;
  const std::size_t bits = std::min<std::size_t>(size_bytes * 8, kMaxCpuId + 1);
  for (std::size_t cpu = 0; cpu < bits; ++cpu) {
    if (CPU_ISSET_S(cpu, size_bytes, set)) out.add(static_cast<int>(cpu));
  }
  return out;
}

AffinityResult<void> CpuSet::to_cpu_set_t(cpu_set_t& out) const {
  CPU_ZERO(&out);
  for (const int cpu : *this) {
    if (cpu >= CPU_SETSIZE) {
      return std::unexpected(AffinityError{AffinityErrc::no_such_cpu,
                                           "CPU " + std::to_string(cpu) +
                                               " does not fit in a cpu_set_t (CPU_SETSIZE " +
                                               std::to_string(CPU_SETSIZE) + ")"});
    }
    CPU_SET(cpu, &out);
  }
  return {};
}

bool CpuSet::add(int cpu) {
  if (cpu < 0 || cpu > kMaxCpuId) return false;
  const auto word = static_cast<std::size_t>(cpu / kWordBits);
  if (word >= words_.size()) words_.resize(word + 1, 0);
  words_[word] |= std::uint64_t{1} << (cpu % kWordBits);
  return true;
}

void CpuSet::remove(int cpu) {
  if (cpu < 0) return;
  const auto word = static_cast<std::size_t>(cpu / kWordBits);
  if (word >= words_.size()) return;
  words_[word] &= ~(std::uint64_t{1} << (cpu % kWordBits));
  trim();
}

bool CpuSet::contains(int cpu) const {
  if (cpu < 0) return false;
  const auto word = static_cast<std::size_t>(cpu / kWordBits);
  return word < words_.size() && ((words_[word] >> (cpu % kWordBits)) & 1U) != 0;
}

std::size_t CpuSet::count() const {
  std::size_t n = 0;
  for (const std::uint64_t w : words_) {
    n += static_cast<std::size_t>(std::popcount(w));
  }
  return n;
}

std::optional<int> CpuSet::first() const {
  const int cpu = next_from(0);
  if (cpu < 0) return std::nullopt;
  return cpu;
}

std::optional<int> CpuSet::last() const {
  if (words_.empty()) return std::nullopt;
  // trim() keeps the last word non-zero.
  const int top = kWordBits - 1 - std::countl_zero(words_.back());
  return static_cast<int>(words_.size() - 1) * kWordBits + top;
}

std::string CpuSet::to_string() const {
  std::string out;
  int cpu = next_from(0);
  while (cpu >= 0) {
    int run_end = cpu;
    while (contains(run_end + 1)) {
      ++run_end;
    }
    if (!out.empty()) out += ',';
    out += std::to_string(cpu);
    if (run_end > cpu) {
      out += '-';
      out += std::to_string(run_end);
    }
    cpu = next_from(run_end + 1);
  }
  return out;
}

std::vector<int> CpuSet::ids() const {
  return {begin(), end()};
}

int CpuSet::next_from(int from) const {
  if (from < 0) from = 0;
  auto word = static_cast<std::size_t>(from / kWordBits);
  if (word >= words_.size()) return -1;
  std::uint64_t bits = words_[word] & (~std::uint64_t{0} << (from % kWordBits));
  for (;;) {
    if (bits != 0) return static_cast<int>(word) * kWordBits + std::countr_zero(bits);
    if (++word >= words_.size()) return -1;
    bits = words_[word];
  }
}

void CpuSet::trim() {
  while (!words_.empty() && words_.back() == 0) {
    words_.pop_back();
  }
}

CpuSet operator|(const CpuSet& a, const CpuSet& b) {
  CpuSet out = a.words_.size() >= b.words_.size() ? a : b;
  const CpuSet& other = a.words_.size() >= b.words_.size() ? b : a;
  for (std::size_t i = 0; i < other.words_.size(); ++i) {
    out.words_[i] |= other.words_[i];
  }
  return out;
}

CpuSet operator&(const CpuSet& a, const CpuSet& b) {
  CpuSet out;
  out.words_.resize(std::min(a.words_.size(), b.words_.size()));
  for (std::size_t i = 0; i < out.words_.size(); ++i) {
    out.words_[i] = a.words_[i] & b.words_[i];
  }
  out.trim();
  return out;
}

CpuSet operator-(const CpuSet& a, const CpuSet& b) {
  CpuSet out = a;
  const std::size_t n = std::min(a.words_.size(), b.words_.size());
  for (std::size_t i = 0; i < n; ++i) {
    out.words_[i] &= ~b.words_[i];
  }
  out.trim();
  return out;
}

}  // namespace dwcp::affinity
