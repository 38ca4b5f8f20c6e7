// Directives from tokens: NAME ARGS... ; or NAME ARGS... { ... }. `include` is expanded
// here so that the translator sees one tree, each directive still naming its own file.
#include "proxy/import_nginx/parser.h"

#include <glob.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "proxy/import_nginx/text.h"

namespace outrigger::import_nginx {
namespace {

constexpr int kMaxIncludeDepth = 16;
// Blocks nest by recursion, included files' too: the bound keeps a hostile file from
// exhausting the stack (nginx itself crashes on some 20,000 levels).
constexpr int kMaxBlockDepth = 64;

struct Glob {
  Glob() = default;
  Glob(const Glob&) = delete;
  Glob& operator=(const Glob&) = delete;
  ~Glob() { globfree(&g); }
  glob_t g{};
};

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(Cat(path, ": cannot read the file"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, std::string file, std::string conf_dir, int depth, int nesting)
      : tokens_(std::move(tokens)),
        file_(std::move(file)),
        conf_dir_(std::move(conf_dir)),
        depth_(depth),
        nesting_(nesting) {}

  absl::StatusOr<std::vector<Directive>> Block(bool nested, int open_line) {
    std::vector<Directive> out;
    while (pos_ < tokens_.size()) {
      const Token& t = tokens_[pos_];
      if (!t.quoted && t.text == "}") {
        if (!nested) return Error(t.line, "unexpected \"}\"");
        ++pos_;
        return out;
      }
      if (!t.quoted && (t.text == "{" || t.text == ";")) {
        return Error(t.line, Cat("unexpected \"", t.text, "\""));
      }
      Directive d{t.text, {}, file_, t.line, false, {}};
      ++pos_;
      for (;;) {
        if (pos_ >= tokens_.size()) {
          return Error(d.line, Cat("\"", d.name, "\" has no closing \";\" or \"{\""));
        }
        const Token& a = tokens_[pos_++];
        if (!a.quoted && a.text == ";") break;
        if (!a.quoted && a.text == "{") {
          d.has_block = true;
          if (nesting_ >= kMaxBlockDepth) {
            return Error(a.line, Cat("blocks nested more than ", kMaxBlockDepth, " deep"));
          }
          ++nesting_;
          absl::StatusOr<std::vector<Directive>> children = Block(true, a.line);
          --nesting_;
          if (!children.ok()) return children.status();
          d.children = std::move(*children);
          break;
        }
        if (!a.quoted && a.text == "}") {
          return Error(a.line, Cat("unexpected \"}\" in \"", d.name, "\""));
        }
        d.args.push_back(a.text);
      }
      if (d.name == "include" && !d.has_block) {
        absl::Status s = Include(d, out);
        if (!s.ok()) return s;
        continue;
      }
      out.push_back(std::move(d));
    }
    if (nested) return Error(open_line, "\"{\" is never closed");
    return out;
  }

 private:
  absl::Status Error(int line, std::string_view message) const {
    return absl::InvalidArgumentError(Cat(file_, ":", line, ": ", message));
  }

  absl::Status Include(const Directive& d, std::vector<Directive>& out) {
    if (d.args.size() != 1) return Error(d.line, "\"include\" takes one file or glob");
    if (depth_ >= kMaxIncludeDepth) {
      return Error(d.line, "includes nested too deep (an include loop?)");
    }
    std::filesystem::path pattern(d.args[0]);
    if (pattern.is_relative()) {
      pattern = (std::filesystem::path(conf_dir_) / pattern).lexically_normal();
    }
    Glob found;
    glob_t* g = &found.g;
    int rc = ::glob(pattern.c_str(), 0, nullptr, g);
    const bool is_glob = d.args[0].find_first_of("*?[") != std::string::npos;
    if (rc == GLOB_NOMATCH) {
      if (is_glob) return absl::OkStatus();  // nginx accepts a glob matching nothing
      return Error(d.line, Cat("include \"", pattern.string(), "\": no such file"));
    }
    if (rc != 0) return Error(d.line, Cat("include \"", pattern.string(), "\": glob failed"));
    for (size_t i = 0; i < g->gl_pathc; ++i) {
      const std::string path = g->gl_pathv[i];
      absl::StatusOr<std::string> text = ReadFile(path);
      if (!text.ok()) return Error(d.line, std::string(text.status().message()));
      absl::StatusOr<std::vector<Token>> tokens = Tokenize(*text, path);
      if (!tokens.ok()) return tokens.status();
      Parser inner(std::move(*tokens), path, conf_dir_, depth_ + 1, nesting_);
      absl::StatusOr<std::vector<Directive>> ds = inner.Block(false, 0);
      if (!ds.ok()) return ds.status();
      for (Directive& x : *ds) out.push_back(std::move(x));
    }
    return absl::OkStatus();
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  std::string file_;
  std::string conf_dir_;
  int depth_;    // of includes
  int nesting_;  // of blocks, across includes
};

}  // namespace

absl::StatusOr<std::vector<Directive>> ParseString(std::string_view text, const std::string& file,
                                                   const std::string& conf_dir) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(text, file);
  if (!tokens.ok()) return tokens.status();
  Parser parser(std::move(*tokens), file, conf_dir, 0, 0);
  return parser.Block(false, 0);
}

absl::StatusOr<std::vector<Directive>> ParseFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  return ParseString(*text, path, dir);
}

}  // namespace outrigger::import_nginx
