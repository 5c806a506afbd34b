// A validator for the JSON Schema subset our tools use, so arguments are checked before any
// handler runs. No C++ JSON Schema validator is packaged in Debian 12, and the subset is small.
//
// Supported keywords: type (string or array of types), properties, required, enum,
// minimum/maximum, exclusiveMinimum/exclusiveMaximum (numbers), minLength/maxLength,
// items, minItems/maxItems, additionalProperties (bool or schema). Annotations (description,
// title, default, examples, $schema) are ignored. Anything else that would constrain values
// (pattern, oneOf, anyOf, allOf, not, $ref, const, format...) is rejected when the schema is
// built, so a schema is never silently half-checked.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ava::tools {

class json_schema {
  public:
    /// Deepest nesting of arrays/objects accepted in a schema and in arguments (deeper is an
    /// error, not a stack overflow: the checks recurse once per level).
    static constexpr std::size_t max_depth = 128;

    /// Parses and checks `schema_json`. Throws ava::config_error naming the problem (bad JSON,
    /// nested deeper than max_depth, an unsupported keyword, a wrong keyword value).
    explicit json_schema(std::string_view schema_json);
    json_schema(json_schema&&) noexcept;
    json_schema& operator=(json_schema&&) noexcept;
    ~json_schema();

    /// Checks `instance_json` (empty or blank text counts as `{}`, which is what models send
    /// for tools without arguments). Returns nothing when valid, else one message that names
    /// the field, e.g. "to[1]: expected a string, got a number". Any thread; const.
    [[nodiscard]] std::optional<std::string> validate(std::string_view instance_json) const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace ava::tools
