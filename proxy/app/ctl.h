// `outrigger ctl`: the admin API from the command line (design.md §8), over a small blocking
// HTTP/1.1 client: status, drain, maint, ready, weight, reload.
#pragma once

namespace outrigger::app {

// `args` are the words after "ctl". Returns the exit code: 0 done, 1 the server refused (its
// message on stderr) or could not be reached, 2 bad usage.
int RunCtl(int argc, char** argv);

}  // namespace outrigger::app
