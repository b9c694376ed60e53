#include "tools/recv/receiver.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "tools/common/address_resolver.h"
#include "tools/common/exit_codes.h"
#include "tools/common/file_sink.h"
#include "tools/common/stream_header.h"
#include "tools/common/stream_receiver.h"
#include "tools/recv/client_session.h"
#include "transport/api/node.h"

namespace dwcp::tools {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Each stream's window (the sender's credit), and the connection's twice that. The window
// counts from the first byte not yet delivered in order, and a new limit goes out only once
// half of it was used. On a lossy long path (500 Mbit/s x 150 ms = 9.4 MB in flight) the
// first missing byte trails the newest by one to three round trips (a repair takes one, a
// lost repair another), so the window needs several bandwidth-delay products. Just under
// 64 MiB, because a stream's inbound ring is two windows and a header rounded up to a
// power of two: 128 MiB of address space rather than 256, touched only as data passes.
constexpr std::uint64_t kStreamWindow = (std::uint64_t{64} << 20) - (std::uint64_t{64} << 10);
// What a reverse stream queues: as dwcp-send does (tools/send/sender.cpp), with room for
// two of the largest messages a request may ask for.
constexpr std::size_t kSendQueue = std::size_t{4} << 20;

NodeOptions node_options(const RecvOptions& options, const transport::SocketAddress& bind) {
  NodeOptions node;
  node.bind = bind;
  node.accept_connections = true;
  node.connection.params.initial_max_stream_data = kStreamWindow;
  node.connection.params.initial_max_data = 2 * kStreamWindow;
  node.connection.params.initial_max_streams = 256;
  node.connection.stream_send_capacity = kSendQueue;
  node.stream_send_queue = std::max(kSendQueue, 2 * (kMaxRequestMessage + kDataOverhead) + 64);
  apply(options.node, node);
  return node;
}

}  // namespace

int run_recv(const RecvOptions& options, const std::atomic<bool>& stop, std::FILE* out) {
  ReceiveTarget target;
  target.to_stdout = options.to_stdout;
  target.take_reverse = true;
  target.take_sync = true;
  if (!options.sync_dir.empty()) {
    auto directory = open_output_directory(options.sync_dir);
    if (!directory) {
      std::fprintf(stderr, "dwcp-recv: %s\n", directory.error().c_str());
      return kExitLocalFile;
    }
    target.sync_fd = *directory;
  }
  const std::unique_ptr<int, void (*)(int*)> close_sync(&target.sync_fd, [](int* fd) {
    if (*fd >= 0) ::close(*fd);
  });
  if (!options.output.empty()) {
    auto directory = open_output_directory(options.output);
    if (!directory) {
      std::fprintf(stderr, "dwcp-recv: %s\n", directory.error().c_str());
      return kExitLocalFile;
    }
    target.output_fd = *directory;
  }
  // Closed on every return below.
  const std::unique_ptr<int, void (*)(int*)> close_output(&target.output_fd, [](int* fd) {
    if (*fd >= 0) ::close(*fd);
  });
  auto bind = resolve_address(options.bind, options.port);
  if (!bind) {
    std::fprintf(stderr, "dwcp-recv: %s\n", bind.error().c_str());
    return kExitAddress;
  }
  auto node = Node::start(node_options(options, *bind));
  if (!node) {
    // A backend asked for by name does not fall back: --io auto is there for that.
    const std::string asked = options.node.io == transport::BackendKind::automatic
                                  ? std::string()
                                  : " with --io " + std::string(to_string(options.node.io));
    std::fprintf(stderr, "dwcp-recv: cannot listen on %s%s: %s\n", bind->to_string().c_str(),
                 asked.c_str(), node.error().c_str());
    return kExitAddress;
  }
  std::fprintf(stderr, "dwcp-recv: listening on %s, io %s\n",
               (*node)->local_address().to_string().c_str(), (*node)->backend().c_str());
  std::fflush(stderr);

  SharedOutput output;
  output.out = out;
  std::vector<std::unique_ptr<ClientSession>> sessions;
  std::uint64_t next_id = 1;
  int exit_code = kExitOk;
  Clock::time_point last_activity = Clock::now();
  const auto idle_timeout = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.idle_timeout));
  bool done = false;
  while (!done) {
    if (stop.load(std::memory_order_relaxed)) {
      for (auto& session : sessions) session->request_stop();
      break;
    }
    if (auto connection = (*node)->accept(100ms)) {
      sessions.push_back(std::make_unique<ClientSession>(next_id++, std::move(*connection), options,
                                                         output, target, (*node)->backend()));
    }
    // Reap the clients that finished.
    for (auto it = sessions.begin(); it != sessions.end();) {
      if (!(*it)->finished()) {
        ++it;
        continue;
      }
      (*it)->join();
      if ((*it)->failed()) exit_code = kExitTransfer;
      it = sessions.erase(it);
      if (options.one_off) done = true;
    }
    if (!sessions.empty()) {
      last_activity = Clock::now();
    } else if (options.idle_timeout > 0.0 && Clock::now() - last_activity > idle_timeout) {
      std::fprintf(stderr, "dwcp-recv: no client for %.1f s, exiting\n", options.idle_timeout);
      done = true;
    }
  }
  // Interrupted or one-off: whoever is still connected gets a summary, then goes.
  for (auto& session : sessions) session->request_stop();
  for (auto& session : sessions) session->join();
  if (stop.load(std::memory_order_relaxed)) return kExitOk;
  return options.one_off ? exit_code : kExitOk;
}

}  // namespace dwcp::tools
