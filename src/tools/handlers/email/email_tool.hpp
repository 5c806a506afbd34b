// send_email: SMTP through libcurl, with STARTTLS (smtp://host:587) or implicit TLS
// (smtps://host:465) and authentication. Recipients are names from the address book or literal
// addresses; every recipient's domain must be in allowed_domains when that list is not empty
// (checked on every call, confirmed or not: it is never bypassed).
//
// Confirmation (email_settings::confirm, on by default) is a voice round trip through the
// model: the first call never sends. It answers {"status":"needs_confirmation", "to", "subject",
// "instruction"} telling the model to read recipient and subject back and to call again with the
// same arguments plus "confirmed": true only after the user clearly says yes. The tool remembers
// which drafts it has read back (for 10 minutes), so a "confirmed": true for a draft that was
// never read back (or was changed since) gets another needs_confirmation instead of a send.
#pragma once

#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "ava/tools/settings.hpp"
#include "ava/tools/tool.hpp"

namespace ava::tools {

/// One resolved recipient or sender.
struct mailbox {
    std::string name;     ///< display name, may be empty
    std::string address;  ///< local@domain
};

/// Parses "Name <addr@host>" or "addr@host"; throws tool_error when it is not an address.
mailbox parse_mailbox(std::string_view text);

/// An RFC 5322 message: Date, From, To, Subject (RFC 2047 encoded when not ASCII), Message-ID,
/// MIME-Version, text/plain UTF-8 quoted-printable body, CRLF line ends. Dot-stuffing is left to
/// curl. `now` sets the Date header.
std::string build_message(const mailbox& from, const std::vector<mailbox>& to,
                          std::string_view subject, std::string_view body, std::time_t now);

class email_tool : public tool {
  public:
    /// `tls` supplies the extra CA file and the timeout (the SMTP transfer uses no proxy).
    /// Registers the password as a secret with ava::log.
    email_tool(email_settings settings, http_settings tls, std::function<std::time_t()> now = {});

    /// Why the settings cannot work (no smtp_url or from, a non-loopback server without TLS...),
    /// or empty.
    static std::string config_problem(const email_settings& settings);

    [[nodiscard]] const tool_spec& spec() const override { return spec_; }
    std::string call(std::string_view args_json, std::stop_token stop) override;

  private:
    std::vector<mailbox> resolve(const std::vector<std::string>& names) const;
    void send(const mailbox& from, const std::vector<mailbox>& to, const std::string& message,
              std::stop_token stop) const;

    email_settings settings_;
    http_settings tls_;
    std::function<std::time_t()> now_;
    tool_spec spec_;
    std::mutex m_;                               // guards drafts_ (calls may run in parallel)
    std::map<std::string, std::time_t> drafts_;  // read-back drafts -> when
};

}  // namespace ava::tools
