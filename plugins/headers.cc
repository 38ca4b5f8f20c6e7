// headers: set/add/remove fields on the request (to the backend) and on the response (to the
// client) — nginx's proxy_set_header, more_clear_headers and add_header ... always.
//
// Both sides' values are expanded in the request phase, while every variable's bytes are
// still there; the response's edits wait in the context until its head is written.
#include <string_view>
#include <vector>

#include "plugins/builtin.h"

namespace outrigger::plugins {
namespace {

class Headers final : public Plugin {
 public:
  Headers(const config::HeadersPluginConfig& c, ActionIds& ids)
      : config_(c), edited_(ids.Id("headers", "edited")) {}

  uint8_t later_phases() const override { return 0; }  // the request phase only
  bool reads_target_vars() const override {
    return ReadsTargetVars(config_.request) || ReadsTargetVars(config_.response);
  }
  Verdict OnRequest(Context& ctx) const override {
    Apply(config_.request, ctx, &ctx.request_edits());
    Apply(config_.response, ctx, &ctx.response_edits());
    ctx.Count(edited_);
    return Verdict::kContinue;
  }

 private:
  // Several headers plugins on a route act in order, as if each edited the head in turn: a
  // later remove or set of a name cancels what earlier ones set or added under it.
  static void Apply(const config::FieldEditsConfig& c, Context& ctx, http::FieldEdits* edits) {
    for (const std::string& name : c.remove) {
      Forget(name, edits);
      edits->remove.push_back(name);
    }
    for (const auto& [name, value] : c.set) {
      Forget(name, edits);
      edits->set.push_back({name, Value(value, ctx)});
    }
    for (const auto& [name, value] : c.add) edits->add.push_back({name, Value(value, ctx)});
  }

  static bool ReadsTargetVars(const config::FieldEditsConfig& c) {
    using config::TemplateVar;
    const auto reads = [](const config::Template& t) {
      return t.Uses(TemplateVar::kHost) || t.Uses(TemplateVar::kPath) ||
             t.Uses(TemplateVar::kQuery);
    };
    for (const auto& [name, value] : c.set) {
      if (reads(value)) return true;
    }
    for (const auto& [name, value] : c.add) {
      if (reads(value)) return true;
    }
    return false;
  }

  static std::string_view Value(const config::Template& t, Context& ctx) {
    return t.IsConstant() ? std::string_view(t.constant()) : ctx.Expand(t);
  }

  static void Forget(std::string_view name, http::FieldEdits* edits) {
    if (edits->set.empty() && edits->add.empty()) return;  // the first plugin to edit
    auto named = [name](const http::Header& h) { return http::EqualsIgnoreCase(h.name, name); };
    std::erase_if(edits->set, named);
    std::erase_if(edits->add, named);
  }

  const config::HeadersPluginConfig config_;
  const uint32_t edited_;
};

}  // namespace

std::unique_ptr<Plugin> Make(const config::HeadersPluginConfig& c, ActionIds& ids) {
  return std::make_unique<Headers>(c, ids);
}

}  // namespace outrigger::plugins
