#include "tools/send/self_test.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <thread>
#include <vector>

#include "tools/common/test_pattern.h"
#include "transport/api/node.h"

namespace dwcp::tools {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::uint64_t kBytesPerStream = std::uint64_t{8} << 20;
constexpr int kStreams = 2;
constexpr std::size_t kMessage = std::size_t{64} << 10;
constexpr auto kTimeout = 20s;

// Known answers: the pattern must not change between builds, or a new dwcp-send would
// fail against an old dwcp-recv.
bool pattern_known_answers() {
  return pattern_word(0, 0) == 0xe220a8397b1dcdafULL &&
         pattern_word(1, 1000) == 0xd07a9d82d4f4bbafULL;
}

std::string failed(const char* what) {
  return std::string("FAILED: ") + what;
}

}  // namespace

SelfTestResult run_self_test() {
  SelfTestResult result;
  if (!pattern_known_answers()) {
    result.detail = failed("the test pattern gives unexpected values");
    return result;
  }
  NodeOptions server_options;
  server_options.bind = transport::SocketAddress::loopback_v4(0);
  server_options.accept_connections = true;
  auto server = Node::start(server_options);
  NodeOptions client_options;
  client_options.bind = transport::SocketAddress::loopback_v4(0);
  auto client = Node::start(client_options);
  if (!server || !client) {
    result.detail = failed("cannot start loopback nodes: ");
    result.detail += server ? client.error() : server.error();
    return result;
  }
  const auto start = Clock::now();
  const auto deadline = start + kTimeout;
  Connection connection = (*client)->connect((*server)->local_address());
  if (!connection.wait_established(5s)) {
    result.detail = failed("no loopback connection");
    return result;
  }
  auto incoming = (*server)->accept(5s);
  if (!incoming) {
    result.detail = failed("the server did not accept");
    return result;
  }

  std::atomic<bool> receiver_done{false};
  std::uint64_t received = 0;
  std::uint64_t errors = 0;
  std::thread receiver([&] {
    Connection c = *incoming;
    std::map<std::uint64_t, std::pair<Stream, StreamVerifier>> streams;
    while (Clock::now() < deadline) {
      const auto seen = c.events();
      while (auto s = c.accept_stream()) streams.try_emplace(s->id(), *s, StreamVerifier(s->id()));
      bool all_ended = streams.size() == kStreams;
      for (auto& [id, entry] : streams) {
        auto& [stream, verifier] = entry;
        for (auto bytes = stream.peek(); !bytes.empty(); bytes = stream.peek()) {
          verifier.consume(bytes);
          stream.release();
        }
        all_ended = all_ended && stream.at_end();
      }
      if (all_ended) break;
      c.wait(seen, 10ms);
    }
    for (auto& [id, entry] : streams) {
      received += entry.second.bytes();
      errors += entry.second.errors();
    }
    receiver_done = true;
  });

  std::vector<Stream> streams;
  std::vector<std::uint64_t> offsets(kStreams, 0);
  for (int i = 0; i < kStreams; ++i) {
    auto s = connection.open_stream();
    if (s) streams.push_back(*s);
  }
  bool send_failed = streams.size() != kStreams;
  bool sending = !send_failed;
  while (sending && Clock::now() < deadline) {
    sending = false;
    for (std::size_t i = 0; i < streams.size(); ++i) {
      if (offsets[i] >= kBytesPerStream) continue;
      sending = true;
      SendStatus why = SendStatus::accepted;
      auto room = streams[i].claim(kMessage, &why);
      if (room.empty()) {
        if (why != SendStatus::back_pressured) send_failed = true;
        continue;
      }
      fill_pattern(streams[i].id(), offsets[i], room);
      if (streams[i].commit(kMessage) != SendStatus::accepted) send_failed = true;
      offsets[i] += kMessage;
    }
    if (send_failed) break;
    std::this_thread::yield();
  }
  for (auto& s : streams) s.finish();
  connection.close();
  receiver.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  char line[160];
  std::snprintf(line, sizeof line, "%llu MiB on %d streams over loopback in %.2f s, %llu errors",
                static_cast<unsigned long long>(received >> 20), kStreams, seconds,
                static_cast<unsigned long long>(errors));
  result.ok = !send_failed && errors == 0 && received == kStreams * kBytesPerStream;
  result.detail = result.ok ? "ok: " : "FAILED: ";
  result.detail += line;
  return result;
}

}  // namespace dwcp::tools
