// The table of balancing policies by their config name (`balance:`).
#pragma once

#include <string_view>
#include <vector>

#include "proxy/balance/policy.h"

namespace outrigger::balance {

// nullptr when `name` is not a policy.
PolicyFactory FindPolicy(std::string_view name);

// The policy's PolicyPreparer, or nullptr when it has nothing to share between workers.
PolicyPreparer FindPreparer(std::string_view name);

// Every policy name, for validation messages ("did you mean").
std::vector<std::string_view> PolicyNames();

}  // namespace outrigger::balance
