#include "ava/tools/schema.hpp"

#include <gtest/gtest.h>

#include "ava/core/error.hpp"

namespace {

using ava::tools::json_schema;

const char* k_schema = R"({
  "type": "object",
  "properties": {
    "action": {"type": "string", "enum": ["on", "off", "toggle"], "description": "what to do"},
    "brightness": {"type": "integer", "minimum": 0, "maximum": 100},
    "level": {"type": "number", "exclusiveMinimum": 0},
    "to": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
    "confirmed": {"type": "boolean"},
    "note": {"type": ["string", "null"], "maxLength": 5}
  },
  "required": ["action"],
  "additionalProperties": false
})";

TEST(json_schema, accepts_valid_arguments) {
    json_schema s(k_schema);
    EXPECT_FALSE(s.validate(R"({"action":"on"})"));
    EXPECT_FALSE(s.validate(R"({"action":"off","brightness":100,"to":["a"],"confirmed":true})"));
    EXPECT_FALSE(s.validate(R"({"action":"on","brightness":40.0})")) << "40.0 is an integer";
    EXPECT_FALSE(s.validate(R"({"action":"on","note":null})"));
    EXPECT_FALSE(s.validate(R"({"action":"on","note":"héllo"})")) << "5 code points, 6 bytes";
}

TEST(json_schema, names_the_field_that_is_wrong) {
    json_schema s(k_schema);
    EXPECT_EQ(s.validate(R"({})").value(), "action: required but missing");
    EXPECT_EQ(s.validate(R"({"action":"dim"})").value(),
              R"(action: "dim" is not one of "on", "off", "toggle")");
    EXPECT_EQ(s.validate(R"({"action":"on","brightness":101})").value(),
              "brightness: 101 is above the maximum 100");
    EXPECT_EQ(s.validate(R"({"action":"on","brightness":-1})").value(),
              "brightness: -1 is below the minimum 0");
    EXPECT_EQ(s.validate(R"({"action":"on","brightness":"50"})").value(),
              "brightness: expected an integer, got a string");
    EXPECT_EQ(s.validate(R"({"action":"on","brightness":4.5})").value(),
              "brightness: expected an integer, got a number");
    EXPECT_EQ(s.validate(R"({"action":"on","level":0})").value(), "level: 0 is not above 0");
    EXPECT_EQ(s.validate(R"({"action":"on","to":["a",3]})").value(),
              "to[1]: expected a string, got an integer");
    EXPECT_EQ(s.validate(R"({"action":"on","to":[""]})").value(),
              "to[0]: must have at least 1 characters");
    EXPECT_EQ(s.validate(R"({"action":"on","to":[]})").value(), "to: must have at least 1 items");
    EXPECT_EQ(s.validate(R"({"action":"on","colour":"red"})").value(), "colour: unknown argument");
    EXPECT_EQ(s.validate(R"({"action":"on","note":"toolong"})").value(),
              "note: must have at most 5 characters");
    EXPECT_EQ(s.validate(R"({"action":"on","note":1})").value(),
              "note: expected a string or null, got an integer");
    EXPECT_EQ(s.validate(R"([1,2])").value(), "arguments: expected an object, got an array");
    EXPECT_EQ(s.validate(R"({"action":)").value(), "arguments are not valid JSON");
}

TEST(json_schema, nested_objects_and_additional_property_schemas) {
    json_schema s(R"({"type":"object","properties":{"where":{"type":"object",
        "properties":{"room":{"type":"string"}},"required":["room"]}},
        "additionalProperties":{"type":"number"}})");
    EXPECT_FALSE(s.validate(R"({"where":{"room":"hall"},"x":1})"));
    EXPECT_EQ(s.validate(R"({"where":{}})").value(), "where.room: required but missing");
    EXPECT_EQ(s.validate(R"({"where":{"room":"hall"},"x":"y"})").value(),
              "x: expected a number, got a string");
}

TEST(json_schema, blank_arguments_count_as_an_empty_object) {
    json_schema s(R"({"type":"object","properties":{}})");
    EXPECT_FALSE(s.validate(""));
    EXPECT_FALSE(s.validate("  \n"));
    json_schema needs(R"({"type":"object","required":["a"]})");
    EXPECT_EQ(needs.validate("").value(), "a: required but missing");
}

TEST(json_schema, rejects_schemas_it_cannot_check) {
    EXPECT_THROW(json_schema("{"), ava::config_error);
    EXPECT_THROW(json_schema(R"({"type":"text"})"), ava::config_error);
    EXPECT_THROW(json_schema(R"({"type":"string","pattern":"^a"})"), ava::config_error);
    EXPECT_THROW(json_schema(R"({"oneOf":[{"type":"string"}]})"), ava::config_error);
    EXPECT_THROW(json_schema(R"({"properties":{"a":{"$ref":"#/x"}}})"), ava::config_error);
    EXPECT_THROW(json_schema(R"({"required":"a"})"), ava::config_error);
    EXPECT_THROW(json_schema(R"({"minimum":"3"})"), ava::config_error);
    try {
        json_schema(R"({"properties":{"a":{"format":"email"}}})");
        FAIL();
    } catch (const ava::config_error& e) {
        EXPECT_STREQ(e.what(), "schema.a: unsupported schema keyword 'format'");
    }
}

TEST(json_schema, a_number_too_big_for_a_double_is_a_config_error) {
    // nlohmann throws out_of_range (406), not parse_error, for this one.
    try {
        json_schema(R"({"type":"number","maximum":1e6464})");
        FAIL() << "no error";
    } catch (const ava::config_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("schema is not valid JSON"), std::string::npos) << what;
        EXPECT_NE(what.find("1e6464"), std::string::npos) << what;
    }
    // The arguments' parse never throws: the same number there is just invalid arguments.
    json_schema s(R"({"type":"object"})");
    EXPECT_EQ(s.validate(R"({"x":1e6464})").value(), "arguments are not valid JSON");
}

TEST(json_schema, an_empty_type_list_is_refused) {
    // It was accepted, allowed nothing, and every call failed with "a: expected a , got ..."
    // (check() took front() of the empty list of names).
    try {
        json_schema(R"({"properties":{"a":{"type":[]}}})");
        FAIL() << "accepted";
    } catch (const ava::config_error& e) {
        EXPECT_STREQ(e.what(), "schema.a: 'type' must not be an empty list");
    }
}

TEST(json_schema, deep_nesting_is_refused_not_a_stack_overflow) {
    // Found by fuzz/schema_fuzz (its deep_items_schema probe): check_schema() recursed once per
    // level and overflowed the stack.
    std::string deep_schema;
    for (int i = 0; i < 100000; ++i) deep_schema += R"({"type":"array","items":)";
    deep_schema += "true" + std::string(100000, '}');
    try {
        json_schema s(deep_schema);
        FAIL() << "accepted";
    } catch (const ava::config_error& e) {
        EXPECT_STREQ(e.what(), "schema is nested deeper than 128 levels");
    }
    // Arguments: an enum mismatch dumps and compares the value, both recursive.
    json_schema s(R"({"type":"object","properties":{"a":{"enum":[1]}}})");
    const std::string deep_args =
        R"({"a":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
    EXPECT_EQ(s.validate(deep_args).value(), "arguments are nested deeper than 128 levels");
    // 128 levels are fine.
    EXPECT_EQ(s.validate(R"({"a":)" + std::string(127, '[') + std::string(127, ']') + "}").value(),
              "a: " + std::string(57, '[') + "... is not one of 1");
}

}  // namespace
