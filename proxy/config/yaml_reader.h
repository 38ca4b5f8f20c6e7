// Typed reading of yaml-cpp nodes with error collection, for the config loader only:
// nothing outside proxy/config/ sees yaml-cpp types.
//
// Every reader reports what is wrong to a Diagnostics and returns nullopt/false instead
// of stopping, so one load reports every problem in the file. Messages start with the
// dotted key path of the value ("pools.api.backends[1].weight: ...").
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "proxy/config/config.h"

namespace outrigger::config {

// Collects "FILE:LINE:COL: message" errors for one file.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }
  // yaml-cpp's 0-based mark as a 1-based SourceMark; a null mark becomes line 0 ("FILE: ").
  SourceMark At(const YAML::Mark& mark) const;

  void Add(const SourceMark& at, std::string message);
  bool empty() const { return errors_.empty(); }

  // OK when nothing was added; otherwise InvalidArgument whose message is every error,
  // ordered by position in the file, one per line.
  absl::Status ToStatus() const;

 private:
  std::string file_;
  std::vector<std::pair<SourceMark, std::string>> errors_;
};

// A value of the document with what a message about it needs: the key that introduced it
// (absent for list items and the root) and its path ("listeners.web.routes[0]"; "" = root).
struct Field {
  std::optional<YAML::Node> key;
  YAML::Node value;
  std::string path;

  std::string Child(std::string_view name) const;
  std::string Item(size_t index) const;
  // "PATH: " or "" at the root: the prefix of every message about this field.
  std::string Prefix() const;
};

// Where a message about the field's value points: the value itself, or its key when the
// value is null (yaml-cpp marks a null at the following token, often on the next line).
SourceMark LocateValue(const Field& field, const Diagnostics& diag);
// Where a message about the field as a whole points (e.g. "missing key"): its key if it
// has one, else the value.
SourceMark LocateKey(const Field& field, const Diagnostics& diag);

// How a node is named in "expected X, got Y": "nothing", "a list", "a map", "\"text\"".
std::string Describe(const YAML::Node& node);

// Closest candidate within edit distance 2 (Levenshtein), if any; ties go to the first.
std::optional<std::string_view> Suggest(std::string_view word,
                                        std::span<const std::string_view> candidates);
std::string JoinNames(std::span<const std::string_view> names);

// A path the config names (certificates, token file, access log file), relative to the
// directory of the file it is written in (nginx reads them from its prefix, HAProxy from
// its working directory: neither is where a reader of the file looks); absolute as is.
std::string ResolvePath(const std::string& path, const std::string& config_file);

// Each reports "expected ..., got ..." on a type mismatch.
bool ExpectMap(const Field& field, Diagnostics* diag);
bool ExpectList(const Field& field, Diagnostics* diag);
// The list's items as fields "PATH[i]". REQUIRES: ExpectList(field) held.
std::vector<Field> ListItems(const Field& field);
// A non-empty scalar.
std::optional<std::string> ReadString(const Field& field, Diagnostics* diag);
// `true` or `false`.
std::optional<bool> ReadBool(const Field& f, Diagnostics* diag);
// A decimal integer in [min, max].
std::optional<uint32_t> ReadInteger(const Field& field, uint32_t min, uint32_t max,
                                    Diagnostics* diag);
// A duration ("250ms", "5s", "2m", "1h"); zero only when `allow_zero`.
std::optional<Duration> ReadDuration(const Field& field, bool allow_zero, Diagnostics* diag);
// A byte size ("65536", "512KiB", "10MiB").
std::optional<uint64_t> ReadByteSize(const Field& field, Diagnostics* diag);

// Byte offset of the first byte of `s` that is not part of well-formed UTF-8 (overlongs,
// surrogates and code points above U+10FFFF included), or nullopt when it is all UTF-8.
std::optional<size_t> FirstInvalidUtf8(std::string_view s);

// Reports every key and scalar value under `field` that is not valid UTF-8 (YAML streams
// are Unicode; names end up in JSON and Prometheus labels, which must be UTF-8), at its
// position. Returns whether there was none.
bool CheckUtf8(const Field& field, Diagnostics* diag);

// The entries of one YAML map, checked once at construction: non-scalar keys, duplicate
// keys (yaml-cpp silently keeps the first; we report the later ones) and, when `known` is
// not empty, unknown keys with a "did you mean" are all reported.
// REQUIRES: field.value is a map (ExpectMap held).
class MapReader {
 public:
  MapReader(const Field& map, std::vector<std::string_view> known, Diagnostics* diag);

  // The value under `key`, or nullopt when it is absent.
  std::optional<Field> Get(std::string_view key) const;
  // Same, and reports "missing required key" when it is absent.
  std::optional<Field> Require(std::string_view key) const;
  // Every valid entry in file order (the first of duplicate keys only).
  const std::vector<Field>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

 private:
  Field map_;
  Diagnostics* diag_;
  std::vector<Field> entries_;
};

}  // namespace outrigger::config
