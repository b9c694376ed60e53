#include <doctest/doctest.h>

#include <sched.h>

#include <string>
#include <string_view>
#include <vector>

#include "affinity/affinity_error.h"
#include "affinity/cpu_set.h"

using dwcp::affinity::AffinityErrc;
using dwcp::affinity::CpuSet;

namespace {

CpuSet parsed(std::string_view text) {
  auto set = CpuSet::parse(text);
  REQUIRE_MESSAGE(set.has_value(), text);
  return *set;
}

// Checks that `text` is rejected as malformed and that the detail names `piece`.
void check_malformed(std::string_view text, std::string_view piece) {
  CAPTURE(text);
  const auto set = CpuSet::parse(text);
  REQUIRE_FALSE(set.has_value());
  CHECK(set.error().code == AffinityErrc::malformed_cpu_list);
  CAPTURE(set.error().detail);
  CHECK(set.error().detail.find(piece) != std::string::npos);
}

}  // namespace

TEST_CASE("parse reads single ids, ranges and mixtures") {
  CHECK(parsed("0").ids() == std::vector<int>{0});
  CHECK(parsed("0-3").ids() == std::vector<int>{0, 1, 2, 3});
  CHECK(parsed("0-3,8").ids() == std::vector<int>{0, 1, 2, 3, 8});
  CHECK(parsed("0,2,4-7").ids() == std::vector<int>{0, 2, 4, 5, 6, 7});
  CHECK(parsed("5-5").ids() == std::vector<int>{5});
  CHECK(parsed("007").ids() == std::vector<int>{7});
}

TEST_CASE("parse accepts overlapping and unordered items") {
  CHECK(parsed("8,0-3,2-5,1").ids() == std::vector<int>{0, 1, 2, 3, 4, 5, 8});
}

TEST_CASE("parse tolerates blanks at the ends and around commas") {
  CHECK(parsed("0-3\n") == parsed("0-3"));
  CHECK(parsed("  0-3 , 8\t") == parsed("0-3,8"));
  CHECK(parsed("1 ,\n2") == parsed("1-2"));
}

TEST_CASE("parse accepts the largest id and rejects the next one") {
  const std::string max = std::to_string(CpuSet::kMaxCpuId);
  CHECK(parsed(max).ids() == std::vector<int>{CpuSet::kMaxCpuId});
  check_malformed(std::to_string(CpuSet::kMaxCpuId + 1), "position 0");
}

TEST_CASE("parse then to_string then parse gives the same set") {
  for (const std::string_view text :
       {"0", "0-3,8", "0,2,4-7", "1,3,5,7", "0-1023", "63-65,127,128", "4095", "100000"}) {
    CAPTURE(text);
    const CpuSet set = parsed(text);
    CHECK(parsed(set.to_string()) == set);
  }
}

TEST_CASE("to_string produces the canonical list") {
  CHECK(parsed("3,2,1,0,8").to_string() == "0-3,8");
  CHECK(parsed("0,2,4-7").to_string() == "0,2,4-7");
  CHECK(parsed("0-1").to_string() == "0-1");
  CHECK(parsed("63,64").to_string() == "63-64");
  CHECK(CpuSet{}.to_string().empty());
}

TEST_CASE("parse rejects empty and blank input") {
  check_malformed("", "empty");
  check_malformed(" \n", "empty");
}

TEST_CASE("parse rejects a descending range") {
  check_malformed("0,3-1", "\"3-1\" at position 2");
}

TEST_CASE("parse rejects a letter") {
  check_malformed("a", "'a'");
  check_malformed("0-3,x", "position 4");
  check_malformed("1a", "'a'");
}

TEST_CASE("parse rejects an empty item") {
  check_malformed("1,,2", "position 2");
  check_malformed("1,", "end of input");
  check_malformed(",1", "position 0");
}

TEST_CASE("parse rejects a negative id") {
  check_malformed("-1", "'-' ");
}

TEST_CASE("parse rejects a range without an end") {
  check_malformed("1-", "position 2");
}

TEST_CASE("parse rejects blanks inside an item") {
  check_malformed("1 -3", "'-'");
  check_malformed("1- 3", "' '");
  check_malformed("1 2", "'2'");
}

TEST_CASE("parse rejects a stride range") {
  check_malformed("0-7:2/4", "':'");
}

TEST_CASE("parse rejects ids beyond the maximum and overflow") {
  check_malformed("0,1048576", "\"1048576\" at position 2");
  check_malformed("99999999999999999999999", "exceeds the maximum");
  check_malformed("0-4294967296", "\"4294967296\"");
}

TEST_CASE("a malformed list's message is one line") {
  const auto set = CpuSet::parse("1,\n\n,2");
  REQUIRE_FALSE(set.has_value());
  const std::string message = dwcp::affinity::to_string(set.error());
  CHECK(message.find('\n') == std::string::npos);
  CHECK(message.starts_with("malformed CPU list: "));
}

TEST_CASE("add, contains, remove and count agree") {
  CpuSet set;
  CHECK(set.empty());
  CHECK(set.count() == 0);
  CHECK_FALSE(set.first().has_value());
  CHECK(set.add(5));
  CHECK(set.add(200));
  CHECK(set.add(5));
  CHECK(set.count() == 2);
  CHECK(set.contains(5));
  CHECK(set.contains(200));
  CHECK_FALSE(set.contains(6));
  CHECK_FALSE(set.contains(-1));
  CHECK_FALSE(set.contains(1 << 30));
  CHECK(set.first() == 5);
  CHECK(set.last() == 200);
  set.remove(200);
  CHECK(set.last() == 5);
  set.remove(5);
  CHECK(set.empty());
}

TEST_CASE("add refuses ids outside the range and leaves the set unchanged") {
  CpuSet set;
  CHECK_FALSE(set.add(-1));
  CHECK_FALSE(set.add(CpuSet::kMaxCpuId + 1));
  CHECK(set.empty());
}

TEST_CASE("sets compare equal by content, however they were built") {
  CpuSet a;
  a.add(1);
  a.add(700);
  a.remove(700);
  CpuSet b;
  b.add(1);
  CHECK(a == b);
  CHECK(a != parsed("1-2"));
}

TEST_CASE("iteration visits ids in ascending order") {
  std::vector<int> seen;
  for (const int cpu : parsed("130,0,64,63")) {
    seen.push_back(cpu);
  }
  CHECK(seen == std::vector<int>{0, 63, 64, 130});
  CHECK(CpuSet{}.begin() == CpuSet{}.end());
}

TEST_CASE("union, intersection and difference") {
  const CpuSet a = parsed("0-3,100");
  const CpuSet b = parsed("2-5");
  CHECK((a | b) == parsed("0-5,100"));
  CHECK((a & b) == parsed("2-3"));
  CHECK((a - b) == parsed("0-1,100"));
  CHECK((b - a) == parsed("4-5"));
  CHECK((parsed("200") & b).empty());
}

TEST_CASE("cpu_set_t conversion round trips") {
  const CpuSet set = parsed("0,5,63-64,1023");
  cpu_set_t raw;
  REQUIRE(set.to_cpu_set_t(raw).has_value());
  CHECK(CPU_COUNT(&raw) == 5);
  CHECK(CPU_ISSET(1023, &raw));
  CHECK(CpuSet::from_cpu_set_t(raw) == set);
}

TEST_CASE("to_cpu_set_t rejects a CPU beyond CPU_SETSIZE") {
  cpu_set_t raw;
  const auto result = parsed("1,1024").to_cpu_set_t(raw);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == AffinityErrc::no_such_cpu);
  CHECK(result.error().detail.find("1024") != std::string::npos);
}

TEST_CASE("from_cpu_set_t reads a dynamically sized set") {
  constexpr int kCpus = 4096;
  cpu_set_t* raw = CPU_ALLOC(kCpus);
  REQUIRE(raw != nullptr);
  const std::size_t bytes = CPU_ALLOC_SIZE(kCpus);
  CPU_ZERO_S(bytes, raw);
  CPU_SET_S(3, bytes, raw);
  CPU_SET_S(4000, bytes, raw);
  CHECK(CpuSet::from_cpu_set_t(raw, bytes) == parsed("3,4000"));
  CPU_FREE(raw);
}

TEST_CASE("error codes have names") {
  using dwcp::affinity::to_string;
  CHECK(to_string(AffinityErrc::malformed_cpu_list) == "malformed_cpu_list");
  CHECK(to_string(AffinityErrc::no_such_cpu) == "no_such_cpu");
  CHECK(to_string(AffinityErrc::no_such_node) == "no_such_node");
  CHECK(to_string(AffinityErrc::no_such_interface) == "no_such_interface");
  CHECK(to_string(AffinityErrc::system_error) == "system_error");
}

TEST_CASE("system errors carry the errno name") {
  const auto error = dwcp::affinity::make_system_error("cannot read x", 2);
  CHECK(error.code == AffinityErrc::system_error);
  CHECK(error.detail == "cannot read x: ENOENT (No such file or directory)");
}
