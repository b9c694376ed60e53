#include "tools/common/printable.h"

#include <doctest/doctest.h>

#include <string>

using dwcp::tools::printable;

TEST_CASE("control bytes become '?' and the rest is kept") {
  CHECK(printable("dir/file.bin") == "dir/file.bin");
  CHECK(printable(std::string("a\nb\tc\x1b[2Jd\x7f", 11)) == "a?b?c?[2Jd?");
  CHECK(printable(std::string("\0x", 2)) == "?x");
  CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 passes through
  CHECK(printable("").empty());
}

TEST_CASE("text past 200 bytes is cut and marked") {
  const std::string long_name(300, 'n');
  const std::string shown = printable(long_name);
  CHECK(shown == std::string(200, 'n') + "...");
  CHECK(printable(std::string(200, 'n')) == std::string(200, 'n'));
}
