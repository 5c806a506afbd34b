// remember and search_history.
#include "ava/history/memory_tools.hpp"

#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "ava/core/log.hpp"
#include "ava/core/text.hpp"
#include "ava/tools/tool.hpp"

namespace ava::history {
namespace {

using nlohmann::json;

store& need(const std::shared_ptr<store>& db) {
    if (!db || !db->available()) {
        throw tools::tool_error("the conversation history is not available in this run");
    }
    return *db;
}

class remember_tool : public tools::tool {
  public:
    explicit remember_tool(std::shared_ptr<store> db) : db_(std::move(db)) {
        spec_.name = "remember";
        spec_.description =
            "Keep a fact about the user for future conversations, when the user asks you to "
            "remember something (\"remember that my sister is called Sarah\"). Kept until the "
            "user forgets it (ava-voice history forget-fact). Write the fact as a short "
            "sentence about the user.";
        spec_.parameters_json = R"({"type":"object","properties":{"fact":{"type":"string",)"
                                R"("minLength":1,"maxLength":2000,"description":)"
                                R"("The fact, e.g. \"The user's sister is called Sarah.\""}},)"
                                R"("required":["fact"],"additionalProperties":false})";
    }
    [[nodiscard]] const tools::tool_spec& spec() const override { return spec_; }
    std::string call(std::string_view args_json, std::stop_token /*stop*/) override {
        const json args = json::parse(args_json);
        const std::string fact(core::trim(args.at("fact").get<std::string>()));
        if (fact.empty()) throw tools::tool_error("the fact is empty");
        const std::int64_t id = need(db_).add_fact(log::redact(fact));
        if (id == 0) throw tools::tool_error("the fact could not be stored");
        return json{{"remembered", fact}, {"id", id}}.dump();
    }

  private:
    std::shared_ptr<store> db_;
    tools::tool_spec spec_;
};

class search_history_tool : public tools::tool {
  public:
    explicit search_history_tool(std::shared_ptr<store> db) : db_(std::move(db)) {
        spec_.name = "search_history";
        spec_.description =
            "Search the user's past conversations with you (full text, all sessions). Use it "
            "when the user asks what was said before (\"what did I ask you about umbrellas "
            "last week?\"). Returns matching lines with their date and who said them.";
        spec_.parameters_json = R"({"type":"object","properties":{"query":{"type":"string",)"
                                R"("minLength":1,"maxLength":500,"description":)"
                                R"("Words to look for, e.g. \"umbrella\""},)"
                                R"("limit":{"type":"integer","minimum":1,"maximum":50}},)"
                                R"("required":["query"],"additionalProperties":false})";
    }
    [[nodiscard]] const tools::tool_spec& spec() const override { return spec_; }
    std::string call(std::string_view args_json, std::stop_token /*stop*/) override {
        const json args = json::parse(args_json);
        const std::string query = args.at("query").get<std::string>();
        const int limit = args.contains("limit") ? args["limit"].get<int>() : 10;
        json hits = json::array();
        for (const search_hit& h : need(db_).search(query, limit)) {
            hits.push_back({{"date", local_time(h.at, "%A %Y-%m-%d %H:%M")},
                            {"session", h.session_id},
                            {"speaker", h.speaker},
                            {"text", h.snippet}});
        }
        json out{{"query", query}, {"matches", hits}};
        if (hits.empty()) out["note"] = "nothing in the history matches";
        return out.dump();
    }

  private:
    std::shared_ptr<store> db_;
    tools::tool_spec spec_;
};

}  // namespace

void register_memory_tools(tools::registry& reg, std::shared_ptr<store> db) {
    reg.add(std::make_shared<remember_tool>(db));
    reg.add(std::make_shared<search_history_tool>(std::move(db)));
}

}  // namespace ava::history
