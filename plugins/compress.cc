// compress: gzip or brotli for responses that gain from it (nginx's `gzip on` and the brotli
// module). Decided on the response head: its type is listed, it is not encoded already, it
// allows transformation, it is not a range, and it is not declared smaller than min_size.
// Such a response varies on Accept-Encoding whether or not this client gets it encoded. The
// coding is the first of `encodings` the request's Accept-Encoding allows (q > 0). A strong
// ETag becomes weak, as the encoded bytes are not the backend's (as nginx does).
#include <spdlog/spdlog.h>

#include "plugins/builtin.h"
#include "proxy/http/fields.h"
#include "proxy/http/head_writer.h"

namespace outrigger::plugins {
namespace {

using http::fields::TrimOws;

// The q of `coding` in an Accept-Encoding value: -1 when neither it nor "*" is listed.
double Quality(std::string_view accept, std::string_view coding) {
  double star = -1;
  while (!accept.empty()) {
    const size_t comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    const size_t semi = item.find(';');
    const std::string_view token = TrimOws(item.substr(0, semi));
    double q = 1;
    if (semi != std::string_view::npos) {
      std::string_view param = TrimOws(item.substr(semi + 1));
      if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        param.remove_prefix(2);
        // "0", "0.000", "1": anything that does not parse as a number counts as 0.
        q = param.empty() || param[0] != '1' ? 0 : 1;
        if (param.size() > 2 && param[0] == '0' && param[1] == '.') {
          double frac = 0;
          double scale = 0.1;
          for (char c : param.substr(2, 3)) {
            if (c < '0' || c > '9') break;
            frac += (c - '0') * scale;
            scale /= 10;
          }
          q = frac;
        }
      }
    }
    if (http::EqualsIgnoreCase(token, coding)) return q;
    if (token == "*") star = q;
  }
  return star;
}

class Compress final : public Plugin {
 public:
  Compress(const config::CompressPluginConfig& c, ActionIds& ids) : config_(c) {
    for (const std::string& e : c.encodings) {
      const Coding coding = e == "gzip" ? Coding::kGzip : Coding::kBrotli;
      codings_.push_back({coding, coding == Coding::kGzip ? c.gzip_level : c.brotli_quality,
                          ids.Id("compress", CodingName(coding))});
    }
  }

  // The coding this client would get, noted as its index in codings_ + 1 (0: none).
  Verdict OnRequest(Context& ctx) const override {
    ctx.note() = Choose(ctx.request());
    return Verdict::kContinue;
  }

  void OnResponse(Context& ctx, const http::ResponseHead& resp) const override {
    if (ctx.answered() || !Eligible(resp)) return;
    AddVary(ctx, resp);
    if (!ctx.body_encodable()) return;
    if (ctx.note() == 0) return;
    const Choice* choice = &codings_[ctx.note() - 1];
    if (absl::Status s = ctx.EncodeBody(choice->coding, choice->level); !s.ok()) {
      spdlog::warn("compress: {}", std::string(s.message()));
      return;
    }
    http::FieldEdits& edits = ctx.response_edits();
    edits.set.push_back({"Content-Encoding", CodingName(choice->coding)});
    for (const http::Header& h : resp.headers) {
      if (http::EqualsIgnoreCase(h.name, "etag") && TrimOws(h.value).starts_with('"')) {
        std::string& weak = ctx.NewString();
        weak.append("W/").append(TrimOws(h.value));
        edits.set.push_back({"ETag", weak});
        break;
      }
    }
    ctx.Count(choice->action);
  }

 private:
  struct Choice {
    Coding coding;
    int level;
    uint32_t action;
  };

  // A HEAD's response (no body, but a GET's fields) is judged as its GET's would be, so it
  // varies as the GET does.
  bool Eligible(const http::ResponseHead& resp) const {
    if (resp.status < 200 || resp.status == 204 || resp.status == 206 || resp.status == 304) {
      return false;
    }
    bool typed = false;
    for (const http::Header& h : resp.headers) {
      if (http::EqualsIgnoreCase(h.name, "content-length")) {  // HEAD's response keeps it too
        if (resp.content_length < config_.min_size) return false;
      } else if (http::EqualsIgnoreCase(h.name, "content-type")) {
        typed = TypeListed(h.value);
      } else if (http::EqualsIgnoreCase(h.name, "content-encoding")) {
        if (!http::EqualsIgnoreCase(TrimOws(h.value), "identity")) return false;
      } else if (http::EqualsIgnoreCase(h.name, "content-range")) {
        return false;
      } else if (http::EqualsIgnoreCase(h.name, "cache-control")) {
        if (http::ListHasToken(h.value, "no-transform")) return false;
      }
    }
    return typed;
  }

  bool TypeListed(std::string_view value) const {
    const std::string_view type = TrimOws(value.substr(0, value.find(';')));
    const size_t slash = type.find('/');
    if (slash == std::string_view::npos) return false;
    for (const std::string& t : config_.types) {
      if (t.ends_with("/*") ? http::EqualsIgnoreCase(type.substr(0, slash + 1),
                                                     std::string_view(t).substr(0, t.size() - 1))
                            : http::EqualsIgnoreCase(type, t)) {
        return true;
      }
    }
    return false;
  }

  static void AddVary(Context& ctx, const http::ResponseHead& resp) {
    for (const http::Header& h : resp.headers) {
      if (http::EqualsIgnoreCase(h.name, "vary") &&
          (http::ListHasToken(h.value, "accept-encoding") || TrimOws(h.value) == "*")) {
        return;
      }
    }
    ctx.response_edits().add.push_back({"Vary", "Accept-Encoding"});
  }

  uint64_t Choose(const http::RequestHead& req) const {
    for (size_t i = 0; i < codings_.size(); ++i) {
      for (const http::Header& h : req.headers) {
        if (http::EqualsIgnoreCase(h.name, "accept-encoding") &&
            Quality(h.value, CodingName(codings_[i].coding)) > 0) {
          return i + 1;
        }
      }
    }
    return 0;
  }

  const config::CompressPluginConfig config_;
  std::vector<Choice> codings_;
};

}  // namespace

std::unique_ptr<Plugin> Make(const config::CompressPluginConfig& c, ActionIds& ids) {
  return std::make_unique<Compress>(c, ids);
}

}  // namespace outrigger::plugins
