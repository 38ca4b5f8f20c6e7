#include "proxy/app/cgroup.h"

#include <optional>

#include "proxy/app/proc_file.h"

namespace outrigger::app {
namespace {

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    size_t at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

// mountinfo writes a space, tab, newline or backslash in a path as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// "/a/b" under "/a" → "/b"; "/a" under "/a" → ""; not under it → nullopt.
std::optional<std::string> Below(std::string_view path, std::string_view root) {
  if (root == "/") root = "";
  if (path == root) return "";
  if (path.substr(0, root.size()) != root || path.size() <= root.size() ||
      path[root.size()] != '/') {
    return std::nullopt;
  }
  return std::string(path.substr(root.size()));
}

// `mount` + `relative` and each ancestor up to `mount`, leaf first.
void AddWithAncestors(const std::string& mount, std::string relative,
                      std::vector<std::string>* out) {
  while (!relative.empty() && relative.back() == '/') relative.pop_back();
  while (true) {
    out->push_back(mount + relative);
    if (relative.empty()) return;
    relative.erase(relative.rfind('/'));
  }
}

}  // namespace

std::vector<CgroupMount> ParseCgroupMounts(std::string_view mountinfo) {
  std::vector<CgroupMount> mounts;
  for (std::string_view line : Split(mountinfo, '\n')) {
    // "ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS"
    size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    std::vector<std::string_view> head = Split(line.substr(0, dash), ' ');
    std::vector<std::string_view> tail = Split(line.substr(dash + 3), ' ');
    if (head.size() < 6 || tail.size() < 3) continue;
    CgroupMount m;
    if (tail[0] == "cgroup2") {
      m.v2 = true;
    } else if (tail[0] == "cgroup") {
      for (std::string_view option : Split(tail[2], ',')) {
        if (option != "rw" && option != "ro") m.controllers.emplace_back(option);
      }
    } else {
      continue;
    }
    m.root = Unescape(head[3]);
    m.mount_point = Unescape(head[4]);
    mounts.push_back(std::move(m));
  }
  return mounts;
}

std::vector<std::string> CgroupDirs(std::string_view proc_cgroup, std::string_view mountinfo,
                                    std::string_view controller, const std::string& prefix) {
  const std::vector<CgroupMount> mounts = ParseCgroupMounts(mountinfo);
  std::vector<std::string> dirs;
  for (std::string_view line : Split(proc_cgroup, '\n')) {
    // "ID:CONTROLLERS:PATH"; v2 is "0::PATH".
    size_t first = line.find(':');
    size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    std::string_view list = line.substr(first + 1, second - first - 1);
    const std::string path(line.substr(second + 1));
    if (path.empty() || path.front() != '/') continue;
    const bool v2 = list.empty();
    bool wanted = v2;
    for (std::string_view c : Split(list, ',')) wanted = wanted || c == controller;
    if (!wanted) continue;
    for (const CgroupMount& m : mounts) {
      if (m.v2 != v2) continue;
      if (!v2) {
        bool has = false;
        for (const std::string& c : m.controllers) has = has || c == controller;
        if (!has) continue;
      }
      // A process outside the mounted part of the hierarchy (a container that sees only
      // its own group, mounted at its root) reads the mount point itself.
      std::optional<std::string> relative = Below(path, m.root);
      AddWithAncestors(prefix + m.mount_point, relative.value_or(""), &dirs);
      break;  // the same hierarchy mounted twice says the same
    }
  }
  return dirs;
}

std::vector<std::string> CgroupDirsOf(std::string_view controller, const std::string& prefix) {
  std::optional<std::string> proc_cgroup = ReadProcFile(prefix + "/proc/self/cgroup");
  std::optional<std::string> mountinfo = ReadProcFile(prefix + "/proc/self/mountinfo");
  if (!proc_cgroup || !mountinfo) return {};
  return CgroupDirs(*proc_cgroup, *mountinfo, controller, prefix);
}

}  // namespace outrigger::app
