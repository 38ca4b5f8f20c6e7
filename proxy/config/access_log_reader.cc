#include "proxy/config/access_log_reader.h"

#include <fmt/format.h>

#include <charconv>

#include "proxy/http/fields.h"

namespace outrigger::config {
namespace {

// A field name as RFC 9110 §5.1 allows (a token).
using http::fields::IsToken;

}  // namespace

void ReadAccessLog(const Field& f, AccessLogConfig* log, Diagnostics* diag) {
  if (f.value.IsScalar() && f.value.Scalar() == "off") {  // `access_log: off`
    log->format = AccessLogConfig::Format::kOff;
    return;
  }
  if (!ExpectMap(f, diag)) return;
  log->format = AccessLogConfig::Format::kJson;  // a section without `format` means JSON
  MapReader keys(f, {"format", "path", "sample", "slow"}, diag);
  if (auto format = keys.Get("format")) {
    std::optional<std::string> s = ReadString(*format, diag);
    if (s == "json") {
      log->format = AccessLogConfig::Format::kJson;
    } else if (s == "combined") {
      log->format = AccessLogConfig::Format::kCombined;
    } else if (s == "off") {
      log->format = AccessLogConfig::Format::kOff;
    } else if (s) {
      diag->Add(LocateValue(*format, *diag),
                fmt::format("{}expected json, combined or off, got \"{}\"", format->Prefix(), *s));
    }
  }
  if (auto path = keys.Get("path")) {
    if (std::optional<std::string> s = ReadString(*path, diag)) {
      log->path = *s == "stdout" || *s == "stderr" ? *s : ResolvePath(*s, diag->file());
    }
  }
  if (auto sample = keys.Get("sample")) {
    double v = -1;
    bool parsed = false;
    if (sample->value.IsScalar()) {
      const std::string& s = sample->value.Scalar();
      auto r = std::from_chars(s.data(), s.data() + s.size(), v);
      parsed = r.ec == std::errc() && r.ptr == s.data() + s.size();
    }
    if (!parsed || !(v >= 0 && v <= 1)) {
      diag->Add(LocateValue(*sample, *diag),
                fmt::format("{}expected a share from 0 to 1 (e.g. 0.1), got {}", sample->Prefix(),
                            Describe(sample->value)));
    } else {
      log->sample = v;
    }
  }
  if (auto slow = keys.Get("slow")) {
    if (auto d = ReadDuration(*slow, /*allow_zero=*/true, diag)) log->slow = *d;
  }
}

void ReadRequestId(const Field& f, RequestIdConfig* id, Diagnostics* diag) {
  if (f.value.IsScalar() && f.value.Scalar() == "off") {  // `request_id: off`
    id->enabled = false;
    return;
  }
  if (!ExpectMap(f, diag)) return;
  MapReader keys(f, {"enabled", "header", "trust_incoming"}, diag);
  if (auto enabled = keys.Get("enabled")) {
    if (auto b = ReadBool(*enabled, diag)) id->enabled = *b;
  }
  if (auto header = keys.Get("header")) {
    if (std::optional<std::string> s = ReadString(*header, diag)) {
      if (IsToken(*s)) {
        id->header = *s;
      } else {
        diag->Add(LocateValue(*header, *diag),
                  fmt::format("{}\"{}\" is not a valid header name", header->Prefix(), *s));
      }
    }
  }
  if (auto trust = keys.Get("trust_incoming")) {
    if (auto b = ReadBool(*trust, diag)) id->trust_incoming = *b;
  }
}

}  // namespace outrigger::config
