// nginx's configuration syntax, read into a tree of directives that keep their file and
// line, so that everything the translator cannot carry over is reported where it was
// written. `include` is expanded in place (globs sorted, as nginx does), relative paths
// resolved against the main file's directory (nginx's conf prefix).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace outrigger::import_nginx {

struct Directive {
  std::string name;
  std::vector<std::string> args;  // quotes removed, escapes resolved
  std::string file;
  int line = 0;
  bool has_block = false;
  std::vector<Directive> children;  // the block's directives, when has_block
};

// Tokens of nginx's syntax: words (quoted or not), `{`, `}` and `;`. A quoted word never
// counts as punctuation, so `"{"` stays an argument.
struct Token {
  std::string text;
  int line = 0;
  bool quoted = false;
};

// Splits `text` (named `file` in errors) into tokens; comments (`#` to end of line
// outside quotes) are dropped. Errors: an unterminated quote, as "FILE:LINE: message".
absl::StatusOr<std::vector<Token>> Tokenize(std::string_view text, const std::string& file);

// Parses `text` (from `file`) into directives; `include` is expanded relative to
// `conf_dir`. Errors are "FILE:LINE: message" (an unbalanced brace, a directive without `;`,
// an include matching nothing that is not a glob, a file that cannot be read, include loops).
absl::StatusOr<std::vector<Directive>> ParseString(std::string_view text, const std::string& file,
                                                   const std::string& conf_dir);
absl::StatusOr<std::vector<Directive>> ParseFile(const std::string& path);

}  // namespace outrigger::import_nginx
