#include "proxy/config/yaml_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "proxy/config/loader.h"

namespace outrigger::config {

SourceMark Diagnostics::At(const YAML::Mark& mark) const {
  if (mark.is_null()) return SourceMark{file_, 0, 0};
  return SourceMark{file_, mark.line + 1, mark.column + 1};
}

void Diagnostics::Add(const SourceMark& at, std::string message) {
  // Messages echo the user's keys and values, which may hold newlines (quoted or block
  // scalars); escape them so that each error stays on exactly one line.
  std::string line;
  line.reserve(message.size());
  for (char c : message) {
    if (c == '\n') {
      line += "\\n";
    } else if (c == '\t') {
      line += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      line += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      line += c;
    }
  }
  errors_.emplace_back(at, std::move(line));
}

absl::Status Diagnostics::ToStatus() const {
  if (errors_.empty()) return absl::OkStatus();
  std::vector<const std::pair<SourceMark, std::string>*> sorted;
  sorted.reserve(errors_.size());
  for (const auto& e : errors_) sorted.push_back(&e);
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    return std::pair(a->first.line, a->first.column) < std::pair(b->first.line, b->first.column);
  });
  std::string text;
  for (const auto* e : sorted) {
    if (!text.empty()) text += '\n';
    const SourceMark& m = e->first;
    if (m.line == 0) {
      text += fmt::format("{}: {}", m.file, e->second);
    } else {
      text += fmt::format("{}:{}:{}: {}", m.file, m.line, m.column, e->second);
    }
  }
  return absl::InvalidArgumentError(text);
}

std::string Field::Child(std::string_view name) const {
  return path.empty() ? std::string(name) : fmt::format("{}.{}", path, name);
}

std::string Field::Item(size_t index) const { return fmt::format("{}[{}]", path, index); }

std::string Field::Prefix() const { return path.empty() ? std::string() : path + ": "; }

SourceMark LocateValue(const Field& field, const Diagnostics& diag) {
  bool value_marked = !field.value.IsNull() && !field.value.Mark().is_null();
  if (!value_marked && field.key) return diag.At(field.key->Mark());
  return diag.At(field.value.Mark());
}

SourceMark LocateKey(const Field& field, const Diagnostics& diag) {
  if (field.key) return diag.At(field.key->Mark());
  return LocateValue(field, diag);
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      // Long enough to recognise, short enough to keep the message on a screen line.
      if (constexpr size_t kMax = 60; node.Scalar().size() > kMax) {
        return fmt::format("\"{}...\"", node.Scalar().substr(0, kMax));
      }
      return fmt::format("\"{}\"", node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "nothing";
  }
}

namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

void ExpectedGot(const Field& field, std::string_view expected, Diagnostics* diag) {
  diag->Add(LocateValue(field, *diag),
            fmt::format("{}expected {}, got {}", field.Prefix(), expected, Describe(field.value)));
}

}  // namespace

std::optional<std::string_view> Suggest(std::string_view word,
                                        std::span<const std::string_view> candidates) {
  constexpr size_t kMaxDistance = 2;
  std::optional<std::string_view> best;
  size_t best_distance = kMaxDistance + 1;
  for (std::string_view c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::string JoinNames(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

bool ExpectMap(const Field& field, Diagnostics* diag) {
  if (field.value.IsMap()) return true;
  ExpectedGot(field, "a map", diag);
  return false;
}

bool ExpectList(const Field& field, Diagnostics* diag) {
  if (field.value.IsSequence()) return true;
  ExpectedGot(field, "a list", diag);
  return false;
}

std::vector<Field> ListItems(const Field& field) {
  std::vector<Field> items;
  for (const auto& item : field.value) {
    items.push_back(Field{std::nullopt, item, field.Item(items.size())});
  }
  return items;
}

std::optional<std::string> ReadString(const Field& field, Diagnostics* diag) {
  if (!field.value.IsScalar()) {
    ExpectedGot(field, "a string", diag);
    return std::nullopt;
  }
  if (field.value.Scalar().empty()) {
    diag->Add(LocateValue(field, *diag), fmt::format("{}must not be empty", field.Prefix()));
    return std::nullopt;
  }
  return field.value.Scalar();
}

std::optional<uint32_t> ReadInteger(const Field& field, uint32_t min, uint32_t max,
                                    Diagnostics* diag) {
  if (!field.value.IsScalar()) {
    ExpectedGot(field, "an integer", diag);
    return std::nullopt;
  }
  const std::string& text = field.value.Scalar();
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size()) {
    ExpectedGot(field, "an integer", diag);
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    diag->Add(LocateValue(field, *diag),
              fmt::format("{}must be between {} and {}, got {}", field.Prefix(), min, max, text));
    return std::nullopt;
  }
  return static_cast<uint32_t>(value);
}

std::optional<Duration> ReadDuration(const Field& field, bool allow_zero, Diagnostics* diag) {
  if (!field.value.IsScalar()) {
    ExpectedGot(field, "a duration (e.g. 250ms, 5s, 2m, 1h)", diag);
    return std::nullopt;
  }
  absl::StatusOr<Duration> d = ParseDuration(field.value.Scalar());
  if (!d.ok()) {
    diag->Add(LocateValue(field, *diag),
              fmt::format("{}{}", field.Prefix(), std::string(d.status().message())));
    return std::nullopt;
  }
  if (!allow_zero && d->count() == 0) {
    diag->Add(LocateValue(field, *diag), fmt::format("{}must be greater than 0", field.Prefix()));
    return std::nullopt;
  }
  return *d;
}

std::optional<uint64_t> ReadByteSize(const Field& field, Diagnostics* diag) {
  if (!field.value.IsScalar()) {
    ExpectedGot(field, "a size (e.g. 65536, 512KiB, 10MiB)", diag);
    return std::nullopt;
  }
  absl::StatusOr<uint64_t> n = ParseByteSize(field.value.Scalar());
  if (!n.ok()) {
    diag->Add(LocateValue(field, *diag),
              fmt::format("{}{}", field.Prefix(), std::string(n.status().message())));
    return std::nullopt;
  }
  return *n;
}

MapReader::MapReader(const Field& map, std::vector<std::string_view> known, Diagnostics* diag)
    : map_(map), diag_(diag) {
  // By value: yaml-cpp's iterator yields temporaries, so a reference to it->first dangles.
  for (const auto& pair : map.value) {
    const YAML::Node key = pair.first;
    if (!key.IsScalar()) {
      diag->Add(diag->At(key.Mark()),
                fmt::format("{}keys must be plain names, got {}", map.Prefix(), Describe(key)));
      continue;
    }
    const std::string& name = key.Scalar();
    if (!known.empty() && std::find(known.begin(), known.end(), name) == known.end()) {
      std::string message = fmt::format("{}unknown key `{}`", map.Prefix(), name);
      if (auto suggestion = Suggest(name, known)) {
        message += fmt::format("; did you mean `{}`?", *suggestion);
      } else {
        message += fmt::format(" (expected one of: {})", JoinNames(known));
      }
      diag->Add(diag->At(key.Mark()), std::move(message));
      continue;
    }
    auto first = std::find_if(entries_.begin(), entries_.end(),
                              [&](const Field& f) { return f.key->Scalar() == name; });
    if (first != entries_.end()) {
      diag->Add(diag->At(key.Mark()),
                fmt::format("{}duplicate key `{}` (first defined on line {})", map.Prefix(), name,
                            diag->At(first->key->Mark()).line));
      continue;
    }
    entries_.push_back(Field{key, pair.second, map.Child(name)});
  }
}

std::optional<Field> MapReader::Get(std::string_view key) const {
  for (const Field& f : entries_) {
    if (f.key->Scalar() == key) return f;
  }
  return std::nullopt;
}

std::optional<Field> MapReader::Require(std::string_view key) const {
  std::optional<Field> f = Get(key);
  if (!f) {
    diag_->Add(LocateKey(map_, *diag_),
               fmt::format("{}missing required key `{}`", map_.Prefix(), key));
  }
  return f;
}

std::optional<size_t> FirstInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (s.size() - i < len) return i;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
    i += len;
  }
  return std::nullopt;
}

namespace {

// Reports `node` when it is a scalar that is not UTF-8; `what` names it in the message.
bool CheckScalarUtf8(const YAML::Node& node, std::string_view what, Diagnostics* diag) {
  if (!node.IsScalar()) return true;
  const std::optional<size_t> bad = FirstInvalidUtf8(node.Scalar());
  if (!bad) return true;
  diag->Add(diag->At(node.Mark()),
            fmt::format("{} is not valid UTF-8 (byte 0x{:02X} at offset {}): the config file "
                        "must be UTF-8",
                        what, static_cast<unsigned char>(node.Scalar()[*bad]), *bad));
  return false;
}

}  // namespace

bool CheckUtf8(const Field& field, Diagnostics* diag) {
  const std::string where = field.path.empty() ? std::string("the top level") : field.path;
  bool ok = true;
  if (field.value.IsMap()) {
    for (const auto& entry : field.value) {
      const bool key_ok = CheckScalarUtf8(entry.first, fmt::format("a key in {}", where), diag);
      ok = key_ok && ok;
      // A broken key is not echoed in the paths under it.
      const std::string child =
          key_ok && entry.first.IsScalar() ? field.Child(entry.first.Scalar()) : field.Child("?");
      ok = CheckUtf8(Field{entry.first, entry.second, child}, diag) && ok;
    }
  } else if (field.value.IsSequence()) {
    for (size_t i = 0; i < field.value.size(); ++i) {
      ok = CheckUtf8(Field{std::nullopt, field.value[i], field.Item(i)}, diag) && ok;
    }
  } else {
    ok = CheckScalarUtf8(field.value, field.path.empty() ? "the document" : field.path, diag);
  }
  return ok;
}

std::string ResolvePath(const std::string& path, const std::string& config_file) {
  if (path.starts_with('/')) return path;
  size_t slash = config_file.rfind('/');
  if (slash == std::string::npos) return path;
  return config_file.substr(0, slash + 1) + path;
}

std::optional<bool> ReadBool(const Field& f, Diagnostics* diag) {
  if (f.value.IsScalar()) {
    const std::string& s = f.value.Scalar();
    if (s == "true") return true;
    if (s == "false") return false;
  }
  diag->Add(LocateValue(f, *diag),
            fmt::format("{}expected true or false, got {}", f.Prefix(), Describe(f.value)));
  return std::nullopt;
}

}  // namespace outrigger::config
