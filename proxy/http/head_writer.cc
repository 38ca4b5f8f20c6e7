#include "proxy/http/head_writer.h"

#include <charconv>
#include <cstdint>
#include <cstring>

#include "proxy/base/copy_bytes.h"
#include "proxy/http/error_page.h"
#include "proxy/http/fields.h"

namespace outrigger::http {

void AppendDecimal(uint64_t v, std::string* out) {
  char buf[20];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

namespace {

using base::CopyBytes;
using fields::NameIs;

// How the writers treat a received field.
enum class FieldRole : uint8_t {
  kCopy,              // end-to-end: forwarded unless the Connection header names it
  kHopByHop,          // RFC 9110 §7.6.1: never forwarded
  kHost,              // requests: rewritten first from the authority
  kContentLength,     // re-emitted once with the validated value
  kTransferEncoding,  // re-emitted once as "chunked"
  kForwardedFor,      // requests: merged with the client address
  kProxySet,          // requests: X-Real-IP, X-Client-Cert-Subject, set by the proxy only
  // requests: kept from a trusted proxy only; the proxy sets its own otherwise
  kForwardedHost,   // X-Forwarded-Host
  kForwardedPort,   // X-Forwarded-Port
  kForwardedProto,  // X-Forwarded-Proto
  kForwardedOther,  // Forwarded, X-Forwarded-Prefix
  kUpgrade,         // hop-by-hop, but re-emitted when the upgrade is passed on
};

FieldRole RoleOf(std::string_view name) {
  switch (name.size()) {
    case 2:
      return NameIs(name, "te") ? FieldRole::kHopByHop : FieldRole::kCopy;
    case 4:
      return NameIs(name, "host") ? FieldRole::kHost : FieldRole::kCopy;
    case 7:
      if (NameIs(name, "upgrade")) return FieldRole::kUpgrade;
      return NameIs(name, "trailer") ? FieldRole::kHopByHop : FieldRole::kCopy;
    case 9:
      if (NameIs(name, "x-real-ip")) return FieldRole::kProxySet;
      return NameIs(name, "forwarded") ? FieldRole::kForwardedOther : FieldRole::kCopy;
    case 10:
      if (NameIs(name, "connection") || NameIs(name, "keep-alive")) return FieldRole::kHopByHop;
      return FieldRole::kCopy;
    case 14:
      return NameIs(name, "content-length") ? FieldRole::kContentLength : FieldRole::kCopy;
    case 15:
      return NameIs(name, "x-forwarded-for") ? FieldRole::kForwardedFor : FieldRole::kCopy;
    case 16:
      if (NameIs(name, "proxy-connection")) return FieldRole::kHopByHop;
      if (NameIs(name, "x-forwarded-host")) return FieldRole::kForwardedHost;
      return NameIs(name, "x-forwarded-port") ? FieldRole::kForwardedPort : FieldRole::kCopy;
    case 17:
      if (NameIs(name, "transfer-encoding")) return FieldRole::kTransferEncoding;
      return NameIs(name, "x-forwarded-proto") ? FieldRole::kForwardedProto : FieldRole::kCopy;
    case 18:
      return NameIs(name, "x-forwarded-prefix") ? FieldRole::kForwardedOther : FieldRole::kCopy;
    case 21:
      return NameIs(name, "x-client-cert-subject") ? FieldRole::kProxySet : FieldRole::kCopy;
    default:
      return FieldRole::kCopy;
  }
}

// True when some Connection field carries an option other than the ones with fixed meaning;
// only then must every field be checked against the Connection header (the rare, slow path).
bool ConnectionNamesFields(const std::vector<Header>& headers) {
  for (const Header& h : headers) {
    if (h.name.size() != 10 || !NameIs(h.name, "connection")) continue;
    std::string_view list = h.value;
    while (!list.empty()) {
      const size_t comma = list.find(',');
      const std::string_view token = fields::TrimOws(list.substr(0, comma));
      if (!token.empty() && !NameIs(token, "close") && !NameIs(token, "keep-alive") &&
          !NameIs(token, "upgrade")) {
        return true;
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return false;
}

bool NamedByConnection(const std::vector<Header>& headers, std::string_view name) {
  for (const Header& h : headers) {
    if (h.name.size() == 10 && NameIs(h.name, "connection") && ListHasToken(h.value, name)) {
      return true;
    }
  }
  return false;
}

void AppendField(std::string_view name, std::string_view value, std::string* out) {
  // A usual line is composed on the stack and appended once: each std::string append pays
  // a capacity check and a copy call of its own.
  constexpr size_t kRoom = 256;
  const size_t n = name.size() + value.size() + 4;
  if (n > kRoom) {
    out->append(name).append(": ").append(value).append("\r\n");
    return;
  }
  char line[kRoom];
  char* p = line;
  CopyBytes(p, name.data(), name.size());
  p += name.size();
  std::memcpy(p, ": ", 2);
  CopyBytes(p + 2, value.data(), value.size());
  std::memcpy(p + 2 + value.size(), "\r\n", 2);
  out->append(line, n);
}

// Whether the edits drop a field of this name (a `remove` or a `set` names it).
bool EditsDrop(const FieldEdits& edits, std::string_view name) {
  for (std::string_view r : edits.remove) {
    if (EqualsIgnoreCase(name, r)) return true;
  }
  for (const Header& h : edits.set) {
    if (EqualsIgnoreCase(name, h.name)) return true;
  }
  return false;
}

// Asked of every field as it is written, so that no second pass over the head is needed.
class DropFilter {
 public:
  explicit DropFilter(const FieldEdits* edits)
      : edits_(edits != nullptr && (!edits->remove.empty() || !edits->set.empty()) ? edits
                                                                                   : nullptr) {
    if (edits_ == nullptr) return;
    for (std::string_view r : edits_->remove) lengths_ |= LengthBit(r);
    for (const Header& h : edits_->set) lengths_ |= LengthBit(h.name);
  }
  bool Drops(std::string_view name) const {
    return (lengths_ & LengthBit(name)) != 0 && EditsDrop(*edits_, name);
  }

 private:
  static uint64_t LengthBit(std::string_view name) { return uint64_t{1} << (name.size() % 64); }

  const FieldEdits* edits_;
  // A bit per length (mod 64) of the names dropped: most fields' lengths match none, and
  // are told apart without a comparison.
  uint64_t lengths_ = 0;
};

[[gnu::noinline]] void AppendEditedFields(const FieldEdits* edits, std::string* out);

bool IsSetField(std::string_view name, const SetField& set) {
  return !set.name.empty() && name.size() == set.name.size() && EqualsIgnoreCase(name, set.name);
}

void AppendContentLength(uint64_t length, std::string* out) {
  out->append("Content-Length: ");
  AppendDecimal(length, out);
  out->append("\r\n");
}

// RFC 7239 §4: one forwarded-element. A value that is not a token (an IPv6 address, a
// host with a port) is a quoted-string; IPv6 node names are bracketed (§6).
void AppendForwardedElement(const ForwardedFor& fwd, std::string_view host, std::string* out) {
  out->append("Forwarded: for=");
  if (fwd.client_ip.find(':') != std::string_view::npos) {
    out->append("\"[");
    out->append(fwd.client_ip);
    out->append("]\"");
  } else {
    out->append(fwd.client_ip);
  }
  if (!host.empty()) {
    const bool quote = host.find_first_of(":[]") != std::string_view::npos;
    out->append(quote ? ";host=\"" : ";host=");
    out->append(host);
    if (quote) out->push_back('"');
  }
  if (!fwd.proto.empty()) {
    out->append(";proto=");
    out->append(fwd.proto);
  }
  out->append("\r\n");
}

void AppendUpgradeFields(const std::vector<Header>& headers, std::string* out) {
  out->append("Connection: Upgrade\r\n");
  for (const Header& h : headers) {
    if (h.name.size() == 7 && NameIs(h.name, "upgrade")) AppendField(h.name, h.value, out);
  }
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + ('a' - 'A'));
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + ('a' - 'A'));
    if (x != y) return false;
  }
  return true;
}

bool ListHasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    if (EqualsIgnoreCase(fields::TrimOws(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

void WriteUpstreamRequestHead(const RequestHead& req, const ForwardedFor& fwd, std::string* out,
                              const FieldEdits* edits) {
  out->append(req.method_text);
  out->push_back(' ');
  out->append(req.path);
  out->append(req.version_minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  const DropFilter drop(edits);
  if (!req.authority.empty() && !drop.Drops("Host")) AppendField("Host", req.authority, out);

  const bool check_connection = ConnectionNamesFields(req.headers);
  bool framing_written = false;
  bool have_forwarded_for = false;
  const bool keep_for = fwd.trusted || fwd.append_untrusted_for;
  bool kept_host = false;
  bool kept_port = false;
  bool kept_proto = false;
  for (const Header& h : req.headers) {
    const FieldRole role = RoleOf(h.name);
    switch (role) {
      case FieldRole::kCopy:
        if ((!check_connection || !NamedByConnection(req.headers, h.name)) &&
            !IsSetField(h.name, fwd.request_id) && !drop.Drops(h.name)) {
          AppendField(h.name, h.value, out);
        }
        break;
      // Framing is rewritten from the parsed values where it first appeared, never copied, so
      // duplicates collapse and a Connection option naming it cannot change the framing.
      case FieldRole::kContentLength:
        if (!framing_written && req.body == BodyKind::kContentLength) {
          AppendContentLength(req.content_length, out);
          framing_written = true;
        }
        break;
      case FieldRole::kTransferEncoding:
        if (!framing_written && req.body == BodyKind::kChunked) {
          out->append("Transfer-Encoding: chunked\r\n");
          framing_written = true;
        }
        break;
      case FieldRole::kForwardedFor:
        if (keep_for && !h.value.empty() &&
            (!check_connection || !NamedByConnection(req.headers, h.name))) {
          have_forwarded_for = true;
        }
        break;
      case FieldRole::kForwardedHost:
      case FieldRole::kForwardedPort:
      case FieldRole::kForwardedProto:
      case FieldRole::kForwardedOther:
        if (fwd.trusted && (!check_connection || !NamedByConnection(req.headers, h.name)) &&
            !drop.Drops(h.name)) {
          AppendField(h.name, h.value, out);
          kept_host |= role == FieldRole::kForwardedHost;
          kept_port |= role == FieldRole::kForwardedPort;
          kept_proto |= role == FieldRole::kForwardedProto;
        }
        break;
      case FieldRole::kHopByHop:
      case FieldRole::kHost:
      case FieldRole::kProxySet:
      case FieldRole::kUpgrade:
        break;
    }
  }
  if (!framing_written) {
    if (req.body == BodyKind::kContentLength) AppendContentLength(req.content_length, out);
    if (req.body == BodyKind::kChunked) out->append("Transfer-Encoding: chunked\r\n");
  }

  // One X-Forwarded-For: the client's chain (all its field lines, in order), then the client.
  if ((have_forwarded_for || !fwd.client_ip.empty()) && !drop.Drops("X-Forwarded-For")) {
    out->append("X-Forwarded-For: ");
    bool first = true;
    if (have_forwarded_for) {
      for (const Header& h : req.headers) {
        if (h.value.empty() || RoleOf(h.name) != FieldRole::kForwardedFor) continue;
        if (check_connection && NamedByConnection(req.headers, h.name)) continue;
        if (!first) out->append(", ");
        out->append(h.value);
        first = false;
      }
    }
    if (!fwd.client_ip.empty()) {
      if (!first) out->append(", ");
      out->append(fwd.client_ip);
    }
    out->append("\r\n");
  }
  if (!fwd.proto.empty() && !kept_proto && !drop.Drops("X-Forwarded-Proto")) {
    AppendField("X-Forwarded-Proto", fwd.proto, out);
  }
  if (!req.authority.empty() && !kept_host && !drop.Drops("X-Forwarded-Host")) {
    AppendField("X-Forwarded-Host", req.authority, out);
  }
  if (fwd.port != 0 && !kept_port && !drop.Drops("X-Forwarded-Port")) {
    out->append("X-Forwarded-Port: ");
    AppendDecimal(fwd.port, out);
    out->append("\r\n");
  }
  std::string_view real_ip = fwd.real_ip.empty() ? fwd.client_ip : fwd.real_ip;
  if (!real_ip.empty() && !drop.Drops("X-Real-IP")) AppendField("X-Real-IP", real_ip, out);
  if (fwd.rfc7239 && !fwd.client_ip.empty() && !drop.Drops("Forwarded")) {
    AppendForwardedElement(fwd, req.authority, out);
  }
  if (!fwd.request_id.name.empty() && !drop.Drops(fwd.request_id.name)) {
    AppendField(fwd.request_id.name, fwd.request_id.value, out);
  }
  if (!fwd.client_cert_subject.empty() && !drop.Drops("X-Client-Cert-Subject")) {
    AppendField("X-Client-Cert-Subject", fwd.client_cert_subject, out);
  }
  if (edits != nullptr) AppendEditedFields(edits, out);

  if (req.upgrade_websocket) {
    AppendUpgradeFields(req.headers, out);
  } else if (req.version_minor == 0) {
    out->append("Connection: keep-alive\r\n");
  }
  out->append("\r\n");
}

void WriteClientResponseHead(const ResponseHead& resp, int client_version_minor,
                             bool client_keep_alive, std::string* out, SetField set,
                             const FieldEdits* edits) {
  out->append("HTTP/1.1 ");
  AppendDecimal(static_cast<uint64_t>(resp.status), out);
  out->push_back(' ');
  out->append(resp.reason.empty() ? ReasonPhrase(resp.status) : resp.reason);
  out->append("\r\n");
  const DropFilter drop(edits);

  const bool check_connection = ConnectionNamesFields(resp.headers);
  bool length_written = false;
  bool coding_written = false;
  for (const Header& h : resp.headers) {
    switch (RoleOf(h.name)) {
      case FieldRole::kCopy:
      case FieldRole::kHost:
      case FieldRole::kForwardedFor:
      case FieldRole::kProxySet:
      case FieldRole::kForwardedHost:
      case FieldRole::kForwardedPort:
      case FieldRole::kForwardedProto:
      case FieldRole::kForwardedOther:
        if ((!check_connection || !NamedByConnection(resp.headers, h.name)) &&
            !IsSetField(h.name, set) && !drop.Drops(h.name)) {
          AppendField(h.name, h.value, out);
        }
        break;
      // Kept even where no body follows (HEAD, 304): there they describe the selected
      // representation. Duplicates collapse to the one validated value.
      case FieldRole::kContentLength:
        if (!length_written) AppendContentLength(resp.content_length, out);
        length_written = true;
        break;
      case FieldRole::kTransferEncoding:
        if (!coding_written) out->append("Transfer-Encoding: chunked\r\n");
        coding_written = true;
        break;
      case FieldRole::kHopByHop:
      case FieldRole::kUpgrade:
        break;
    }
  }

  if (!set.name.empty() && !drop.Drops(set.name)) AppendField(set.name, set.value, out);
  if (edits != nullptr) AppendEditedFields(edits, out);
  if (resp.status == 101) {
    AppendUpgradeFields(resp.headers, out);
  } else if (!client_keep_alive) {
    out->append("Connection: close\r\n");
  } else if (client_version_minor == 0) {
    out->append("Connection: keep-alive\r\n");
  }
  out->append("\r\n");
}

void EditResponseFields(const FieldEdits& edits, std::string* response) {
  if (edits.empty()) return;
  std::string& s = *response;
  const size_t head_end = s.find("\r\n\r\n");
  if (head_end == std::string::npos) return;
  const std::string body = s.substr(head_end + 4);
  s.resize(head_end + 2);
  ApplyFieldEdits(edits, s.find("\r\n") + 2, &s);
  s += "\r\n";
  s += body;
}

void ApplyFieldEdits(const FieldEdits& edits, size_t fields_start, std::string* out) {
  // One pass, compacting in place: each kept line moves down over the dropped ones.
  std::string& s = *out;
  size_t read = fields_start;
  size_t write = fields_start;
  while (read < s.size()) {
    const size_t end = s.find("\r\n", read);
    const size_t next = end == std::string::npos ? s.size() : end + 2;
    const size_t colon = s.find(':', read);
    const std::string_view name(s.data() + read, (colon < next ? colon : next) - read);
    if (!EditsDrop(edits, name)) {
      if (write != read) std::memmove(s.data() + write, s.data() + read, next - read);
      write += next - read;
    }
    read = next;
  }
  s.resize(write);
  AppendEditedFields(&edits, out);
}

namespace {

// The edited lines are composed on the stack and appended together, as AppendField does
// for one line: each std::string append pays a capacity check and a copy call of its own.
// `edits` is not null. Out of line: heads without edits keep their writer's code compact.
[[gnu::noinline]] void AppendEditedFields(const FieldEdits* edits, std::string* out) {
  constexpr size_t kRoom = 512;
  char lines[kRoom];
  size_t used = 0;
  auto put = [&](const Header& h) {
    const size_t n = h.name.size() + h.value.size() + 4;
    if (used + n > kRoom) {
      out->append(lines, used);
      used = 0;
      if (n > kRoom) {
        AppendField(h.name, h.value, out);
        return;
      }
    }
    char* p = lines + used;
    CopyBytes(p, h.name.data(), h.name.size());
    p += h.name.size();
    std::memcpy(p, ": ", 2);
    CopyBytes(p + 2, h.value.data(), h.value.size());
    std::memcpy(p + 2 + h.value.size(), "\r\n", 2);
    used += n;
  };
  for (const Header& h : edits->set) put(h);
  for (const Header& h : edits->add) put(h);
  if (used != 0) out->append(lines, used);
}

}  // namespace

}  // namespace outrigger::http
