#include "proxy/forward/body_pump.h"

#include <algorithm>

namespace outrigger::forward {

void BodyPump::Start(http::BodyKind kind, uint64_t content_length, uint64_t max_data, bool decode) {
  kind_ = kind;
  decode_ = decode;
  max_data_ = max_data;
  data_declared_ = 0;
  too_large_ = false;
  remaining_ = content_length;
  framer_.Reset();
  keep_trailers_ = nullptr;
  moved_ = 0;
  error_ = {};
  done_ = kind == http::BodyKind::kNone ||
          (kind == http::BodyKind::kContentLength && content_length == 0);
}

void BodyPump::Move(evbuffer* in, evbuffer* out, size_t n) {
  evbuffer_remove_buffer(in, out, n);
  moved_ += n;
}

void BodyPump::MoveFraming(evbuffer* in, evbuffer* out, size_t n) {
  if (!decode_) {
    Move(in, out, n);
    return;
  }
  evbuffer_drain(in, n);
  moved_ += n;
}

BodyPump::Result BodyPump::Pump(evbuffer* in, evbuffer* out) {
  if (done_) return Result::kDone;
  switch (kind_) {
    case http::BodyKind::kNone:
      return Result::kDone;
    case http::BodyKind::kContentLength: {
      size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, evbuffer_get_length(in)));
      Move(in, out, n);
      remaining_ -= n;
      done_ = remaining_ == 0;
      return done_ ? Result::kDone : Result::kMore;
    }
    case http::BodyKind::kCloseDelimited:
      Move(in, out, evbuffer_get_length(in));
      return Result::kMore;
    case http::BodyKind::kChunked:
      return PumpChunked(in, out);
  }
  return Result::kError;
}

BodyPump::Result BodyPump::PumpChunked(evbuffer* in, evbuffer* out) {
  while (!framer_.done()) {
    size_t available = evbuffer_get_length(in);
    if (available == 0) return Result::kMore;
    if (uint64_t data = framer_.data_remaining(); data > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(data, available));
      Move(in, out, n);
      framer_.ConsumeData(n);
      continue;
    }
    // Framing bytes come a line at a time: make the next line contiguous, and nothing more.
    evbuffer_ptr eol = evbuffer_search(in, "\n", 1, nullptr);
    size_t line = eol.pos < 0 ? available : static_cast<size_t>(eol.pos) + 1;
    if (eol.pos < 0 && available <= http::ChunkedFramer::kMaxLineLength + 2) return Result::kMore;
    line = std::min(line, http::ChunkedFramer::kMaxLineLength + 2);
    const auto* p = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(line)));
    const bool trailer_line = framer_.in_trailer();
    http::ChunkedFramer::Step step = framer_.Advance(std::string_view(p, line));
    if (step.error) {
      error_ = step.reason;
      return Result::kError;
    }
    if (max_data_ != 0 && framer_.data_remaining() > max_data_ - data_declared_) {
      error_ = "request body too large";
      too_large_ = true;
      return Result::kError;
    }
    data_declared_ += framer_.data_remaining();
    if (step.forward == 0) {
      if (eol.pos < 0) return Result::kMore;
      error_ = "invalid chunked framing";
      return Result::kError;
    }
    if (trailer_line && decode_ && keep_trailers_ != nullptr && step.forward > 2) {
      keep_trailers_->append(p, step.forward);
    }
    MoveFraming(in, out, step.forward);
  }
  done_ = true;
  return Result::kDone;
}

void TrailerFields(std::string_view lines, std::vector<http::Header>* out) {
  out->clear();
  std::string_view rest = lines;
  while (!rest.empty()) {
    const size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    out->push_back({line.substr(0, colon), value});
  }
}

}  // namespace outrigger::forward
