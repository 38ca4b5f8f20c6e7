// nginx's value syntaxes (times, sizes, addresses) converted to Outrigger's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace outrigger::import_nginx {

// nginx times: "30", "30s", "500ms", "1m30s", "1h", "2d" → milliseconds.
std::optional<int64_t> ParseNginxTime(std::string_view text);
// Milliseconds in Outrigger's syntax: one integer and the largest exact unit ("90s", "2m").
std::string FormatDuration(int64_t ms);

// nginx sizes: "1024", "8k", "10m", "1g" (either case) → bytes.
std::optional<uint64_t> ParseNginxSize(std::string_view text);
// Bytes in Outrigger's syntax: "10MiB", "8KiB", "1000".
std::string FormatByteSize(uint64_t bytes);

// A `listen` address → Outrigger's numeric ip:port: "80" → "0.0.0.0:80", "*:8080",
// "127.0.0.1", "[::]:80", "localhost:8080" → "127.0.0.1:8080". nullopt for what cannot
// be a numeric address (unix:, another host name).
std::optional<std::string> ListenAddress(std::string_view text);

// An upstream `server` address → host:port (port 80 when absent); nullopt for unix:.
std::optional<std::string> ServerAddress(std::string_view text);

// An nginx value with variables → an Outrigger template ("https://$host$request_uri"), or
// the first variable Outrigger has no equivalent for (in `*unknown`, with its '$') and nullopt.
// $host $request_uri $scheme $remote_addr $request_id keep their names; $uri → $path,
// $args and $query_string → $query.
std::optional<std::string> NginxTemplate(std::string_view value, std::string* unknown);

// YAML double-quoted scalar.
std::string Quote(std::string_view text);

}  // namespace outrigger::import_nginx
