// dwcp-send --version's self-test: the pattern's known answers, then 16 MiB over loopback
// between two in-process nodes on two streams, verified at the receiving end. Bounded (20 s).
#pragma once

#include <string>

namespace dwcp::tools {

struct SelfTestResult {
  bool ok = false;
  std::string detail;  // one line: what was moved and how fast, or what failed
};

SelfTestResult run_self_test();

}  // namespace dwcp::tools
