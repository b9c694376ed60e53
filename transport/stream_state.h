// One stream as a connection keeps it: the send side (messages waiting or in flight, and
// the credit the peer gave), the receive side (reassembly, and the credit we gave), and
// which credit frames are due.
#pragma once

#include <cstdint>

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
};

}  // namespace dwcp::transport
