#include "proxy/upstream/operator_overrides.h"

namespace outrigger::upstream {

std::string_view OperatorStateName(OperatorState state) {
  return state == OperatorState::kMaint ? "maint" : "drain";
}

const OperatorOverride* OperatorOverrides::Find(std::string_view pool,
                                                const net::SocketAddress& address) const {
  auto it = entries_.find(Key(std::string(pool), address.ToString()));
  return it == entries_.end() ? nullptr : &it->second;
}

void OperatorOverrides::Set(std::string_view pool, const net::SocketAddress& address,
                            OperatorOverride value) {
  Key key(std::string(pool), address.ToString());
  if (value.empty()) {
    entries_.erase(key);
  } else {
    entries_[std::move(key)] = value;
  }
}

void OperatorOverrides::ApplyTo(Backend& backend) const {
  const OperatorOverride* o = Find(backend.pool(), backend.address());
  const bool out = o != nullptr && (o->state.has_value() || o->weight == 0u);
  const bool maint = o != nullptr && o->state == OperatorState::kMaint;
  backend.SetUnavailable(Backend::kOperatorOut, out);
  backend.SetUnavailable(Backend::kMaint, maint);
}

bool OperatorOverrides::InMaint(const Backend& backend) const {
  const OperatorOverride* o = Find(backend.pool(), backend.address());
  return o != nullptr && o->state == OperatorState::kMaint;
}

}  // namespace outrigger::upstream
