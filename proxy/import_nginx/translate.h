// nginx directives → Outrigger's config: pools from `upstream` blocks and from literal
// `proxy_pass` addresses, a listener per `listen` address, a route per server name and
// location. Every directive that does not map is a Note; none is dropped silently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proxy/import_nginx/model.h"
#include "proxy/import_nginx/parser.h"

namespace outrigger::import_nginx {

Model Translate(const std::vector<Directive>& top);

// The model as YAML that `outrigger --check` accepts; `source` is named in its header.
std::string EmitYaml(const Model& model, std::string_view source);

// Why a directive with no equivalent was left out, by its family (TLS, files, plugins...).
std::string_view WhyUntranslated(std::string_view directive);

}  // namespace outrigger::import_nginx
