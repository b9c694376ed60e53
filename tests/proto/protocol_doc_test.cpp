// docs/protocol.md is the contract a second implementation is built from: its tables must
// say what the code does. This test reads the tables and compares them with the codec.
#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "proto/errc.h"
#include "proto/frames.h"
#include "proto/packet.h"
#include "proto/transport_params.h"

using namespace dwcp::proto;

namespace {

std::string read_doc() {
  std::ifstream in(DWCP_PROTOCOL_DOC);
  REQUIRE_MESSAGE(in, "cannot open " DWCP_PROTOCOL_DOC);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The cells of every table row whose first cell starts with "0x", keyed by the number the
// first cell starts with.
std::map<std::uint64_t, std::vector<std::string>> hex_rows(const std::string& section) {
  std::map<std::uint64_t, std::vector<std::string>> rows;
  std::istringstream lines(section);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| 0x", 0) != 0) continue;
    std::vector<std::string> cells;
    std::size_t start = 1;
    for (std::size_t bar = line.find('|', start); bar != std::string::npos;
         start = bar + 1, bar = line.find('|', start)) {
      std::string cell = line.substr(start, bar - start);
      cell.erase(0, cell.find_first_not_of(' '));
      cell.erase(cell.find_last_not_of(' ') + 1);
      cells.push_back(cell);
    }
    rows[std::stoull(cells[0], nullptr, 16)] = cells;
  }
  return rows;
}

// The text between a heading that starts with `heading` and the next heading of its level.
std::string section(const std::string& doc, const std::string& heading) {
  const std::size_t start = doc.find("\n" + heading);
  REQUIRE_MESSAGE(start != std::string::npos, "no section " << heading);
  const std::string level = heading.substr(0, heading.find(' ') + 1);
  const std::size_t end = doc.find("\n" + level, start + 1);
  return doc.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

TEST_CASE("the frame table lists exactly the frame types the codec knows") {
  // The overview table, before the subsections (5.3 has a table of STREAM flag bits).
  const std::string frames = section(read_doc(), "## 5. Frames");
  const auto rows = hex_rows(frames.substr(0, frames.find("\n### ")));
  const FrameType types[] = {FrameType::padding,
                             FrameType::ping,
                             FrameType::ack,
                             FrameType::reset_stream,
                             FrameType::max_data,
                             FrameType::max_stream_data,
                             FrameType::max_streams,
                             FrameType::data_blocked,
                             FrameType::stream_data_blocked,
                             FrameType::connection_close,
                             FrameType::pmtu_probe,
                             FrameType::stream,
                             FrameType::delta_block,
                             FrameType::block_request,
                             FrameType::client_hello,
                             FrameType::retry,
                             FrameType::server_hello};
  CHECK(rows.size() == std::size(types));
  for (const FrameType type : types) {
    const auto row = rows.find(static_cast<std::uint64_t>(type));
    REQUIRE_MESSAGE(row != rows.end(), "no row for " << to_string(type));
    CHECK(row->second[1] == to_string(type));
  }
  // Every type outside the table is unknown to the decoder.
  for (std::uint8_t type = 0; type < 0x40; ++type) {
    bool listed = rows.contains(type);
    if ((type & 0xf0) == 0x10 || (type & 0xfe) == 0x20) listed = true;  // flag ranges
    const std::byte in[2] = {std::byte{type}, std::byte{0}};
    auto decoded = decode_frame(in);
    CAPTURE(int{type});
    CHECK((decoded || decoded.error() != Errc::unknown_frame) == listed);
  }
}

TEST_CASE("the transport parameter table gives the ids, names and defaults of the code") {
  const auto rows = hex_rows(section(read_doc(), "## 6. Transport parameters"));
  const TransportParameters defaults;
  CHECK(rows.size() == 9);
  for (const auto& [id, cells] : rows) {
    const auto parameter = static_cast<TransportParameterId>(id);
    CAPTURE(cells[1]);
    CHECK(cells[1] == to_string(parameter));
    CHECK(std::stoull(cells[2]) == parameter_value(defaults, parameter));
  }
}

TEST_CASE("the error code table matches the code's names") {
  const auto rows = hex_rows(section(read_doc(), "## 8. Error codes"));
  CHECK(rows.size() == 12);
  for (const auto& [code, cells] : rows) {
    CHECK(cells[1] == to_string(static_cast<TransportError>(code)));
  }
}

TEST_CASE("the version and the limits in the text are the code's") {
  const std::string doc = read_doc();
  std::ostringstream version;
  version << "Version 1 is `0x" << std::hex << kVersion1 << "`";
  CHECK(doc.find(version.str()) != std::string::npos);
  for (const auto limit : {kMaxAckRanges, kMaxReasonLength, kMaxCookieLength,
                           kMaxTransportParametersBytes, kMaxTransportParameterEntries}) {
    CAPTURE(limit);
    CHECK(doc.find("**" + std::to_string(limit) + "**") != std::string::npos);
  }
  CHECK(kMaxBlockLength == 16u << 20);
  CHECK(doc.find("**16 MiB**") != std::string::npos);
  CHECK(doc.find(std::to_string(kMinInitialDatagram) + " bytes") != std::string::npos);
}
