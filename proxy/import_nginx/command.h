// `outrigger import-nginx FILE`: the YAML on stdout, one "FILE:LINE: ..." line on stderr
// per directive not carried over. Exit 0 when the config was read (notes or not), 1 when
// it could not be (syntax error, unreadable file), 2 on bad usage.
#pragma once

namespace outrigger::import_nginx {

// argv[0] is "import-nginx".
int ImportNginxMain(int argc, char** argv);

}  // namespace outrigger::import_nginx
