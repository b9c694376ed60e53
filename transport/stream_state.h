// One stream as a connection keeps it: the send side (messages waiting or in flight, and
// the credit the peer gave), the receive side (reassembly, and the credit we gave), which
// credit frames are due, and the state of the versioned blocks it carries.
#pragma once

#include <cstdint>
#include <memory>

#include "transport/block_receiver.h"
#include "transport/block_sender.h"
#include "transport/flow_credit.h"
#include "transport/reorder_buffer.h"
#include "transport/send_buffer.h"

namespace dwcp::transport {

struct StreamState {
  StreamState(std::uint64_t stream_id, std::size_t send_capacity, std::uint64_t peer_credit,
              std::uint64_t our_window)
      : id(stream_id),
        send(send_capacity),
        send_credit(peer_credit),
        receive(our_window),
        receive_credit(our_window) {}

  std::uint64_t id;
  SendBuffer send;
  SendCredit send_credit;  // MAX_STREAM_DATA from the peer
  ReorderBuffer receive;
  ReceiveCredit receive_credit;  // MAX_STREAM_DATA we send
  bool max_stream_data_due = false;
  bool blocked_due = false;  // a STREAM_DATA_BLOCKED to send
  // Bytes of the message being sent for the first time that are still unsent: connection
  // credit held for it (Connection::reserved_credit_).
  std::uint64_t message_remaining = 0;
  // Versioned blocks, each side made on first use: the records we send (their headers and
  // the mirror of the peer's cache) and the records we receive (our cache).
  std::unique_ptr<BlockSender> blocks_out;
  std::unique_ptr<BlockReceiver> blocks_in;
};

}  // namespace dwcp::transport
