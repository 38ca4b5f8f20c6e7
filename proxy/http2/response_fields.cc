#include "proxy/http2/response_fields.h"

#include <cstring>

#include "proxy/http/fields.h"
#include "proxy/http/head_writer.h"

namespace outrigger::http2 {
namespace {

using http::fields::NameIs;

bool IsConnectionSpecific(std::string_view name) {
  return NameIs(name, "connection") || NameIs(name, "keep-alive") ||
         NameIs(name, "proxy-connection") || NameIs(name, "transfer-encoding") ||
         NameIs(name, "upgrade");
}

bool NamedByConnection(std::span<const http::Header> fields, std::string_view name) {
  for (const http::Header& h : fields) {
    if (NameIs(h.name, "connection") && http::ListHasToken(h.value, name)) return true;
  }
  return false;
}

nghttp2_nv Nv(const char* name, size_t name_size, const char* value, size_t value_size) {
  // nghttp2 copies names and values on submission and never writes through these pointers.
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name)),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value)), name_size, value_size,
          NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

void ResponseFields::Clear() {
  bytes_.clear();
  nva_.clear();
}

void ResponseFields::Build(int status, std::span<const http::Header> fields) {
  if (status == 0) {
    Assemble({}, fields, false);
    return;
  }
  const char digits[3] = {char('0' + status / 100 % 10), char('0' + status / 10 % 10),
                          char('0' + status % 10)};
  const Pseudo pseudo[] = {{":status", std::string_view(digits, 3)}};
  Assemble(pseudo, fields, false);
}

void ResponseFields::BuildRequest(const http::RequestHead& head, std::string_view scheme) {
  const Pseudo pseudo[] = {{":method", head.method_text},
                           {":scheme", scheme},
                           {":authority", head.authority},
                           {":path", head.path}};
  Assemble(pseudo, head.headers, true);
}

void ResponseFields::Assemble(std::span<const Pseudo> pseudo, std::span<const http::Header> fields,
                              bool request) {
  Clear();
  // bytes_ must stop growing before nva_ points into it: reserve once, fill, then point.
  size_t total = 0;
  for (const Pseudo& p : pseudo) total += p.value.size();
  bool has_connection = false;  // rare from a backend: only then may a field be named by it
  for (const http::Header& h : fields) {
    total += h.name.size() + h.value.size();
    has_connection = has_connection || NameIs(h.name, "connection");
  }
  bytes_.reserve(total);
  for (const Pseudo& p : pseudo) {
    bytes_.append(p.value);
    nva_.push_back(Nv(p.name, std::strlen(p.name), nullptr, p.value.size()));
  }
  for (const http::Header& h : fields) {
    if (IsConnectionSpecific(h.name) || (has_connection && NamedByConnection(fields, h.name))) {
      continue;
    }
    if (request &&
        (NameIs(h.name, "host") || (NameIs(h.name, "te") && !NameIs(h.value, "trailers")))) {
      continue;
    }
    const size_t at = bytes_.size();
    bytes_.resize(at + h.name.size());  // within the reservation: no reallocation
    char* name = bytes_.data() + at;
    for (size_t i = 0; i < h.name.size(); ++i) {
      const char c = h.name[i];
      name[i] = c >= 'A' && c <= 'Z' ? char(c | 0x20) : c;
    }
    bytes_.append(h.value);
    // Offsets for now; made pointers below, once bytes_ is final.
    nva_.push_back(Nv(nullptr, h.name.size(), nullptr, h.value.size()));
  }
  size_t at = 0;
  for (size_t i = 0; i < nva_.size(); ++i) {
    nghttp2_nv& nv = nva_[i];
    if (i < pseudo.size()) {
      nv.value = reinterpret_cast<uint8_t*>(bytes_.data() + at);
      at += nv.valuelen;
      continue;
    }
    const char* name = bytes_.data() + at;
    nv = Nv(name, nv.namelen, name + nv.namelen, nv.valuelen);
    at += nv.namelen + nv.valuelen;
  }
}

}  // namespace outrigger::http2
