// Shared by the import_nginx translator tests: nginx text in, the Model out, and its notes
// looked up by line.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/import_nginx/translate.h"

namespace outrigger::import_nginx {

// The Model of nginx config `text`, read as the file "t.conf".
inline Model From(const std::string& text) {
  auto d = ParseString(text, "t.conf", ".");
  EXPECT_TRUE(d.ok()) << d.status();
  return Translate(d.ok() ? *d : std::vector<Directive>{});
}

// Whether a note on t.conf's `line` contains `part`.
inline bool HasNote(const Model& m, int line, const std::string& part) {
  for (const Note& n : m.notes) {
    if (n.file == "t.conf" && n.line == line && n.message.find(part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// Every note, one per line, for failure messages.
inline std::string AllNotes(const Model& m) {
  std::string out;
  for (const Note& n : m.notes) {
    out += n.file + ":" + std::to_string(n.line) + ": " + n.message + "\n";
  }
  return out;
}

}  // namespace outrigger::import_nginx
