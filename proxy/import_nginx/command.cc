#include "proxy/import_nginx/command.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <tuple>

#include "proxy/import_nginx/parser.h"
#include "proxy/import_nginx/text.h"
#include "proxy/import_nginx/translate.h"

namespace outrigger::import_nginx {

int ImportNginxMain(int argc, char** argv) {
  if (argc == 2 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help")) {
    std::puts(
        "usage: outrigger import-nginx FILE\n\n"
        "  Print an Outrigger config equivalent to nginx config FILE; every directive\n"
        "  not translated is reported on stderr as FILE:LINE: reason.");
    return 0;
  }
  if (argc != 2) {
    std::fputs("usage: outrigger import-nginx FILE\n", stderr);
    return 2;
  }
  absl::StatusOr<std::vector<Directive>> parsed = ParseFile(argv[1]);
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s\n", std::string(parsed.status().message()).c_str());
    return 1;
  }
  Model model = Translate(*parsed);
  std::fputs(EmitYaml(model, argv[1]).c_str(), stdout);
  if (model.listeners.empty()) {
    model.notes.push_back({argv[1], 0,
                           "no server could be translated: the output has no "
                           "listener and does not pass --check"});
  }
  // In file order (files in the order they were first named), each note once: a directive
  // inherited by several locations would otherwise be reported for each.
  std::vector<std::string> files;
  auto file_rank = [&files](const std::string& f) {
    for (size_t i = 0; i < files.size(); ++i) {
      if (files[i] == f) return i;
    }
    files.push_back(f);
    return files.size() - 1;
  };
  for (const Note& n : model.notes) file_rank(n.file);
  std::stable_sort(model.notes.begin(), model.notes.end(), [&](const Note& a, const Note& b) {
    return std::pair(file_rank(a.file), a.line) < std::pair(file_rank(b.file), b.line);
  });
  std::set<std::tuple<std::string, int, std::string>> seen;
  for (const Note& n : model.notes) {
    if (!seen.insert({n.file, n.line, n.message}).second) continue;
    std::string message = n.message;  // one line per note, whatever the nginx text held
    for (char& c : message) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    std::fprintf(stderr, "%s:%d: %s\n", n.file.c_str(), n.line, message.c_str());
  }
  return 0;
}

}  // namespace outrigger::import_nginx
