// Serializes heads for the other side of the proxy: strips hop-by-hop fields (RFC 9110 §7.6.1:
// Connection, Keep-Alive, Proxy-Connection, TE, Upgrade, Trailer — and every field the
// Connection header names) and adds what the proxy owes the next hop.
//
// Framing fields are kept as they were validated (Content-Length, or Transfer-Encoding
// normalised to "chunked"), because bodies are forwarded verbatim.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/message.h"

namespace outrigger::http {

// A field the proxy sets on a head it writes, replacing every one of that name the peer sent
// (the request id). An empty name sets nothing.
struct SetField {
  std::string_view name;
  std::string_view value;
};

// Field edits a route's plugins ask for (plugins/headers.h). Applied to the head as written,
// the proxy's own fields included (so `set: {Host: ...}` or `remove: [X-Forwarded-For]` work
// as nginx's proxy_set_header does): every field named in `remove` or `set` is dropped, then
// each `set` and `add` field is appended. Framing and connection fields are never named
// here (the config refuses them). The views must outlive the write.
struct FieldEdits {
  std::vector<std::string_view> remove;
  std::vector<Header> set;
  std::vector<Header> add;

  bool empty() const { return remove.empty() && set.empty() && add.empty(); }
  // Keeps the capacity: an exchange reuses it request after request.
  void clear() {
    remove.clear();
    set.clear();
    add.clear();
  }
};

struct ForwardedFor {
  std::string_view client_ip;  // textual address of the peer (no port): appended to XFF
  std::string_view proto;      // "http" or "https"
  // The original client for X-Real-IP: the peer itself, or the address a trusted proxy
  // reported in X-Forwarded-For. Empty: the same as client_ip.
  std::string_view real_ip = {};
  // The peer is a trusted proxy: the client's Forwarded and X-Forwarded-* fields are its
  // word and are kept. Otherwise they are dropped and the proxy's own sent instead.
  bool trusted = false;
  // Keep an untrusted client's X-Forwarded-For and append to it (nginx), rather than replace it.
  bool append_untrusted_for = false;
  bool rfc7239 = false;      // also send an RFC 7239 Forwarded element: for, host, proto
  uint16_t port = 0;         // the listener's port, for X-Forwarded-Port (0: none sent)
  SetField request_id = {};  // the request's id, under its configured header
  // The verified TLS client certificate's subject (client_auth), sent as
  // X-Client-Cert-Subject; a client's own field of that name is always dropped.
  std::string_view client_cert_subject = {};
};

// Appends the request head to send upstream to `*out`:
//   - request line: method, req.path, and HTTP/1.1 (HTTP/1.0 when the client spoke 1.0, so a
//     backend never answers chunked to a client that cannot read it);
//   - Host: req.authority (rebuilt from the target for absolute-form);
//   - the client's fields minus hop-by-hop ones, minus X-Real-IP and X-Client-Cert-Subject
//     (the proxy sets them), and,
//     unless fwd.trusted, minus Forwarded, X-Forwarded-Host, -Port, -Prefix and -Proto;
//   - X-Forwarded-For: the client's value with ", <client_ip>" appended when fwd.trusted or
//     fwd.append_untrusted_for, otherwise just <client_ip>;
//   - X-Forwarded-Proto, X-Forwarded-Host (the authority) and X-Forwarded-Port, each unless a
//     trusted client sent one; X-Real-IP (real_ip, or client_ip when empty); with
//     fwd.rfc7239, "Forwarded: for=...;host=...;proto=..." after any the trusted client sent;
//   - for a WebSocket upgrade: "Connection: Upgrade" and the client's Upgrade value;
//     for an HTTP/1.0 client: "Connection: keep-alive" (the upstream connection is pooled).
// Last, `edits` (may be null) are applied to the fields.
void WriteUpstreamRequestHead(const RequestHead& req, const ForwardedFor& fwd, std::string* out,
                              const FieldEdits* edits = nullptr);

// Appends the response head to send to the client to `*out`: "HTTP/1.1 <status> <reason>",
// the backend's fields minus hop-by-hop ones, then:
//   - for 101: "Connection: Upgrade" and the backend's Upgrade value;
//   - otherwise "Connection: close" when !client_keep_alive, or "Connection: keep-alive" when
//     the client is HTTP/1.0 and the connection stays open.
// A close-delimited body is forwarded as is; the caller passes client_keep_alive = false then.
// `set` (the request id) replaces the backend's field of that name; then `edits` (may be null)
// are applied to the fields.
void WriteClientResponseHead(const ResponseHead& resp, int client_version_minor,
                             bool client_keep_alive, std::string* out, SetField set = {},
                             const FieldEdits* edits = nullptr);

// Applies `edits` to the field lines in `*out` from `fields_start` (the first field line) to
// its end, which must be whole "Name: value\r\n" lines.
void ApplyFieldEdits(const FieldEdits& edits, size_t fields_start, std::string* out);
// Applies `edits` to a whole HTTP/1 response in `*response` (status line, fields, blank line,
// body): an answer the proxy made, edited as nginx's `add_header ... always` does. Answers
// are short and rare: the body is copied once to make room.
void EditResponseFields(const FieldEdits& edits, std::string* response);

// Appends `v` in decimal (a status, a length, a port), without allocating beyond `out`.
void AppendDecimal(uint64_t v, std::string* out);

// Case-insensitive ASCII comparison for field names and tokens.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// True when the comma-separated `list` contains `token` (case-insensitive, OWS trimmed).
bool ListHasToken(std::string_view list, std::string_view token);

}  // namespace outrigger::http
