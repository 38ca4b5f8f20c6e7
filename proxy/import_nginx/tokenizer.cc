// nginx's lexer rules (ngx_conf_read_token): whitespace separates words; `;`, `{` and `}`
// end one unless quoted; "..." and '...' quote, with \" \' \\ \n \t \r escapes inside; a
// backslash outside quotes escapes the next character; `#` starts a comment only where a
// word could start.
#include <cctype>

#include "proxy/import_nginx/parser.h"
#include "proxy/import_nginx/text.h"

namespace outrigger::import_nginx {

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view text, const std::string& file) {
  std::vector<Token> tokens;
  int line = 1;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    if (c == ';' || c == '{' || c == '}') {
      tokens.push_back({std::string(1, c), line, false});
      ++i;
      continue;
    }
    Token tok{"", line, false};
    if (c == '"' || c == '\'') {
      const char quote = c;
      tok.quoted = true;
      ++i;
      for (;;) {
        if (i >= text.size()) {
          return absl::InvalidArgumentError(
              Cat(file, ":", tok.line, ": unterminated ", std::string(1, quote), "-quoted string"));
        }
        char d = text[i++];
        if (d == quote) break;
        if (d == '\n') ++line;
        if (d == '\\' && i < text.size()) {
          char e = text[i++];
          switch (e) {
            case 'n':
              tok.text += '\n';
              break;
            case 't':
              tok.text += '\t';
              break;
            case 'r':
              tok.text += '\r';
              break;
            case '"':
            case '\'':
            case '\\':
              tok.text += e;
              break;
            default:
              tok.text += '\\';
              tok.text += e;
              break;
          }
          continue;
        }
        tok.text += d;
      }
      tokens.push_back(std::move(tok));
      continue;
    }
    while (i < text.size()) {
      char d = text[i];
      if (std::isspace(static_cast<unsigned char>(d)) || d == ';' || d == '{' || d == '}') break;
      if (d == '\\' && i + 1 < text.size()) {
        tok.text += text[i + 1];
        i += 2;
        continue;
      }
      // `${var}` keeps its braces inside a word.
      if (d == '$' && i + 1 < text.size() && text[i + 1] == '{') {
        size_t close = text.find('}', i);
        if (close == std::string_view::npos) break;
        tok.text.append(text.substr(i, close + 1 - i));
        i = close + 1;
        continue;
      }
      tok.text += d;
      ++i;
    }
    tokens.push_back(std::move(tok));
  }
  return tokens;
}

}  // namespace outrigger::import_nginx
