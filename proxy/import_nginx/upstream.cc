#include "proxy/import_nginx/upstream.h"

#include "proxy/import_nginx/text.h"
#include "proxy/import_nginx/values.h"

namespace outrigger::import_nginx {

void Untranslated(const Directive& d, std::string_view why, std::vector<Note>& notes) {
  std::string text = d.name;
  if (!d.args.empty()) Append(&text, " ", Join(d.args, " "));
  notes.push_back({d.file, d.line, Cat("`", text, "` not translated: ", why)});
}

void NoteRelative(const Directive& d, std::vector<Note>& notes) {
  if (!StartsWith(d.args[0], "/")) {
    notes.push_back({d.file, d.line,
                     Cat("`", d.name, " ", d.args[0],
                         "`: a relative path; nginx reads it from its prefix directory, "
                         "Outrigger from the config file's: check that it names the same file")});
  }
}

namespace {

// `hash KEY`: the variables Outrigger can hash on; empty when it cannot.
std::string HashOn(std::string_view key) {
  if (key == "$remote_addr" || key == "$binary_remote_addr") return "client_ip";
  if (StartsWith(key, "$http_") && key.size() > 6) {
    return Cat("header:", ReplaceAll(key.substr(6), '_', "-"));
  }
  if (StartsWith(key, "$cookie_") && key.size() > 8) {
    return Cat("cookie:", key.substr(8));
  }
  return "";
}

void Balance(const Directive& d, Pool& pool, std::vector<Note>& notes) {
  if (d.name == "least_conn") {
    pool.balance = "least_conn";
    pool.comments.push_back(
        "least_conn: as nginx, fewest requests in flight per unit of weight; Outrigger counts "
        "every worker's requests, nginx each worker process's own (without `zone`).");
  } else if (d.name == "ip_hash") {
    pool.balance = "ip_hash";
    pool.hash_on = "client_ip";
    pool.comments.push_back(
        "ip_hash: sticky by client address as nginx, but Outrigger hashes the whole address "
        "(nginx: the first three octets of IPv4) with Maglev, so clients map to other "
        "backends than under nginx, and removing a backend moves only its own clients.");
  } else if (d.name == "hash") {
    std::string on = d.args.empty() ? "" : HashOn(d.args[0]);
    if (on.empty()) {
      Untranslated(d,
                   "Outrigger hashes only on the client address, a header or a cookie; "
                   "balancing stays round_robin",
                   notes);
      return;
    }
    pool.balance = "ip_hash";
    pool.hash_on = on;
    const bool consistent = d.args.size() > 1 && d.args[1] == "consistent";
    pool.comments.push_back(
        Cat("hash ", d.args[0], consistent ? " consistent" : "",
            ": Outrigger's ip_hash with hash_on (Maglev consistent hashing; nginx uses ketama",
            consistent ? "" : " only with `consistent`, here a plain modulo hash",
            "), so keys map to other backends than under nginx."));
  } else if (d.name == "random") {
    if (d.args.empty()) {
      pool.balance = "random";
      pool.comments.push_back("random: weighted random, as nginx.");
    } else {
      pool.balance = "p2c_ewma";
      pool.comments.push_back(
          Cat("random ", Join(d.args, " "),
              ": power of two choices; Outrigger's p2c_ewma compares a peak-EWMA of latency times "
              "load, nginx the connection count (least_conn) or time (least_time)."));
    }
  }
}

void ServerLine(const Directive& d, Pool& pool, std::vector<Note>& notes) {
  if (d.args.empty()) {
    Untranslated(d, "no address", notes);
    return;
  }
  std::optional<std::string> target = ServerAddress(d.args[0]);
  if (!target) {
    Untranslated(d, "Outrigger connects to backends over TCP only", notes);
    return;
  }
  Backend b{*target, false, 1};
  bool down = false, backup = false;
  for (size_t i = 1; i < d.args.size(); ++i) {
    std::string_view a = d.args[i];
    auto value = [&](std::string_view key) -> std::optional<std::string_view> {
      if (StartsWith(a, key)) return a.substr(key.size());
      return std::nullopt;
    };
    if (auto v = value("weight=")) {
      if (!ToInt(*v, &b.weight) || b.weight < 1 || b.weight > 10000) {
        notes.push_back({d.file, d.line, Cat("`", a, "`: weight out of 1-10000, kept 1")});
        b.weight = 1;
      }
    } else if (auto v = value("max_fails=")) {
      int n = 0;
      if (!ToInt(*v, &n) || n < 1 || n > 1000) {
        notes.push_back({d.file, d.line,
                         Cat("`", a,
                             "` not translated: Outrigger's circuit breaker cannot be turned off "
                             "and takes 1-1000 failures")});
      } else if (pool.consecutive_failures && *pool.consecutive_failures != n) {
        notes.push_back({d.file, d.line,
                         Cat("`", a,
                             "` not translated: Outrigger sets "
                             "it per pool, kept the first server's ",
                             *pool.consecutive_failures)});
      } else {
        pool.consecutive_failures = n;
      }
    } else if (auto v = value("fail_timeout=")) {
      std::optional<int64_t> ms = ParseNginxTime(*v);
      if (!ms || *ms < 1000) {
        notes.push_back({d.file, d.line, Cat("`", a, "` not translated: bad time")});
      } else if (pool.open_for_ms && *pool.open_for_ms != *ms) {
        notes.push_back({d.file, d.line,
                         Cat("`", a,
                             "` not translated: Outrigger sets "
                             "it per pool, kept the first server's ",
                             FormatDuration(*pool.open_for_ms))});
      } else {
        pool.open_for_ms = *ms;
      }
    } else if (a == "resolve") {
      b.dns = true;
    } else if (a == "down") {
      down = true;
    } else if (a == "backup") {
      backup = true;
    } else {
      notes.push_back(
          {d.file, d.line,
           Cat("`", a, "` (server ", d.args[0], ") not translated: no Outrigger equivalent")});
    }
  }
  if (down) {
    pool.comments.push_back(Cat("server ", d.args[0], " is `down` in nginx: left out."));
    return;
  }
  if (backup) {
    Untranslated(d, "Outrigger has no backup servers; left out of the pool", notes);
    return;
  }
  pool.backends.push_back(std::move(b));
}

}  // namespace

Pool TranslateUpstream(const Directive& upstream, std::vector<Note>& notes) {
  Pool pool;
  pool.name = upstream.args.empty() ? "upstream" : upstream.args[0];
  for (const Directive& d : upstream.children) {
    if (d.name == "server") {
      ServerLine(d, pool, notes);
    } else if (d.name == "least_conn" || d.name == "ip_hash" || d.name == "hash" ||
               d.name == "random") {
      Balance(d, pool, notes);
    } else if (d.name == "keepalive" && d.args.size() == 1) {
      int n = 0;
      if (ToInt(d.args[0], &n) && n >= 0 && n <= 65535) {
        pool.keepalive = n;
        pool.comments.push_back(
            Cat("keepalive ", n,
                ": nginx caps idle connections per worker process for the whole "
                "upstream, Outrigger per backend per worker."));
      } else {
        Untranslated(d, "out of 0-65535", notes);
      }
    } else if (d.name == "keepalive_timeout" && d.args.size() == 1 && ParseNginxTime(d.args[0])) {
      pool.idle_ms = *ParseNginxTime(d.args[0]);
    } else if (d.name == "zone") {
      pool.comments.push_back(
          "zone: not needed, Outrigger's workers share backend state in any case.");
    } else {
      Untranslated(d, "no Outrigger equivalent", notes);
    }
  }
  if (pool.backends.empty()) {
    notes.push_back({upstream.file, upstream.line,
                     Cat("upstream ", pool.name, " not translated: no server Outrigger can use")});
  }
  return pool;
}

}  // namespace outrigger::import_nginx
