// nginx `upstream NAME { ... }` → an Outrigger pool. Each balancing method maps to the
// closest policy, and the pool carries a comment saying where the two differ.
#pragma once

#include <vector>

#include "proxy/import_nginx/model.h"
#include "proxy/import_nginx/parser.h"

namespace outrigger::import_nginx {

Pool TranslateUpstream(const Directive& upstream, std::vector<Note>& notes);

// A note "FILE:LINE: `NAME ARGS`: why" for a directive left out.
void Untranslated(const Directive& d, std::string_view why, std::vector<Note>& notes);

// A note when `d`'s path (its first argument) is relative: nginx reads it from its prefix,
// Outrigger from the config file's directory.
void NoteRelative(const Directive& d, std::vector<Note>& notes);

}  // namespace outrigger::import_nginx
