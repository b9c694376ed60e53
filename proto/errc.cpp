#include "proto/errc.h"

namespace dwcp::proto {

std::string_view to_string(Errc code) noexcept {
  switch (code) {
    case Errc::no_space:
      return "no space left in the output";
    case Errc::truncated:
      return "input ends inside a field";
    case Errc::value_too_large:
      return "integer above 2^62 - 1";
    case Errc::unknown_frame:
      return "unknown frame type";
    case Errc::invalid_value:
      return "field value out of range";
    case Errc::too_many_ack_ranges:
      return "too many ACK ranges";
    case Errc::limit_exceeded:
      return "field longer than its limit";
    case Errc::transport_parameter:
      return "invalid transport parameter";
    case Errc::frame_not_allowed:
      return "frame not allowed in this packet type";
    case Errc::malformed_header:
      return "malformed packet header";
    case Errc::unsupported_version:
      return "unsupported version";
    case Errc::bad_checksum:
      return "checksum mismatch";
  }
  return "unknown error";
}

std::string_view to_string(TransportError code) noexcept {
  switch (code) {
    case TransportError::no_error:
      return "NO_ERROR";
    case TransportError::internal_error:
      return "INTERNAL_ERROR";
    case TransportError::connection_refused:
      return "CONNECTION_REFUSED";
    case TransportError::flow_control_error:
      return "FLOW_CONTROL_ERROR";
    case TransportError::stream_limit_error:
      return "STREAM_LIMIT_ERROR";
    case TransportError::stream_state_error:
      return "STREAM_STATE_ERROR";
    case TransportError::final_size_error:
      return "FINAL_SIZE_ERROR";
    case TransportError::frame_encoding_error:
      return "FRAME_ENCODING_ERROR";
    case TransportError::transport_parameter_error:
      return "TRANSPORT_PARAMETER_ERROR";
    case TransportError::protocol_violation:
      return "PROTOCOL_VIOLATION";
    case TransportError::invalid_cookie:
      return "INVALID_COOKIE";
    case TransportError::version_not_supported:
      return "VERSION_NOT_SUPPORTED";
  }
  return static_cast<std::uint64_t>(code) >= kFirstApplicationError ? "APPLICATION_ERROR"
                                                                    : "UNKNOWN_ERROR";
}

bool drops_packet(Errc code) noexcept {
  return code == Errc::malformed_header || code == Errc::unsupported_version ||
         code == Errc::bad_checksum;
}

TransportError close_code(Errc code) noexcept {
  switch (code) {
    case Errc::transport_parameter:
      return TransportError::transport_parameter_error;
    case Errc::frame_not_allowed:
      return TransportError::protocol_violation;
    case Errc::no_space:
    case Errc::value_too_large:
      return TransportError::internal_error;
    default:
      return TransportError::frame_encoding_error;
  }
}

}  // namespace dwcp::proto
