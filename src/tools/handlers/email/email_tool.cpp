#include "email/email_tool.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include <nlohmann/json.hpp>

#include "ava/core/base64.hpp"
#include "ava/core/log.hpp"
#include "ava/core/text.hpp"
#include "support/curl_util.hpp"
#include "support/http_client.hpp"
#include "support/text_match.hpp"

namespace ava::tools {
namespace {

using json = nlohmann::json;
constexpr std::time_t k_draft_lifetime = 600;

bool ascii_only(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// No header injection: CR/LF and other controls become spaces.
std::string one_line(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    }
    return out;
}

// RFC 2047 encoded words, split on UTF-8 character boundaries so each stays under 75 chars.
std::string encoded_words(std::string_view text) {
    std::string out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = std::min(text.size(), pos + 42);
        while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
        if (!out.empty()) out += "\r\n ";
        out += "=?UTF-8?B?" + core::base64_encode(text.substr(pos, end - pos)) + "?=";
        pos = end;
    }
    return out;
}

std::string header_text(std::string_view text) {
    const std::string clean = one_line(text);
    return ascii_only(clean) ? clean : encoded_words(clean);
}

std::string format_mailbox(const mailbox& m) {
    if (m.name.empty()) return m.address;
    const std::string name = one_line(m.name);
    if (!ascii_only(name)) return encoded_words(name) + " <" + m.address + ">";
    const bool plain = std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == ' ' || c == '-' || c == '.';
    });
    if (plain) return name + " <" + m.address + ">";
    std::string quoted = "\"";
    for (char c : name) {
        if (c == '"' || c == '\\') quoted += '\\';
        quoted += c;
    }
    return quoted + "\" <" + m.address + ">";
}

// Quoted-printable (RFC 2045 6.7): readable for ASCII, safe for UTF-8 and long lines.
std::string quoted_printable(std::string_view body) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    std::size_t col = 0;
    auto put = [&](std::string_view piece) {
        if (col + piece.size() > 75) {
            out += "=\r\n";
            col = 0;
        }
        out += piece;
        col += piece.size();
    };
    for (std::size_t i = 0; i < body.size(); ++i) {
        const auto c = static_cast<unsigned char>(body[i]);
        if (c == '\r' && i + 1 < body.size() && body[i + 1] == '\n') continue;
        if (c == '\n') {
            out += "\r\n";
            col = 0;
            continue;
        }
        const bool line_end = i + 1 == body.size() || body[i + 1] == '\n' || body[i + 1] == '\r';
        const bool literal =
            (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end);
        if (literal) {
            const char ch = static_cast<char>(c);
            put(std::string_view(&ch, 1));
        } else {
            const char enc[3] = {'=', hex[c >> 4], hex[c & 15]};
            put(std::string_view(enc, 3));
        }
    }
    return out;
}

std::string rfc5322_date(std::time_t now) {
    static const char* const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    localtime_r(&now, &tm);
    const long off = tm.tm_gmtoff / 60;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday],
                  tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec, off < 0 ? '-' : '+', std::labs(off) / 60, std::labs(off) % 60);
    return buf;
}

std::string domain_of(const std::string& address) {
    return core::ascii_lower(address.substr(address.rfind('@') + 1));
}

bool is_loopback_url(const std::string& url) {
    const std::string origin = url.substr(url.find("://") + 3);
    const std::string host = origin.substr(0, origin.find_first_of(":/"));
    return host == "127.0.0.1" || host == "localhost" || host == "[::1]" ||
           host.rfind("127.", 0) == 0;
}

struct upload {
    const std::string* data;
    std::size_t pos = 0;
};

std::size_t read_upload(char* buf, std::size_t size, std::size_t n, void* user) {
    auto* u = static_cast<upload*>(user);
    const std::size_t len = std::min(size * n, u->data->size() - u->pos);
    std::memcpy(buf, u->data->data() + u->pos, len);
    u->pos += len;
    return len;
}

}  // namespace

mailbox parse_mailbox(std::string_view text) {
    mailbox m;
    std::string addr(core::trim(text));
    if (auto lt = addr.rfind('<'); lt != std::string::npos && addr.back() == '>') {
        m.name = core::trim(std::string_view(addr).substr(0, lt));
        if (m.name.size() >= 2 && m.name.front() == '"' && m.name.back() == '"') {
            m.name = m.name.substr(1, m.name.size() - 2);
        }
        addr = std::string(core::trim(std::string_view(addr).substr(lt + 1, addr.size() - lt - 2)));
    }
    const auto at = addr.find('@');
    const bool ok = at != std::string::npos && at > 0 && at + 1 < addr.size() &&
                    addr.find('@', at + 1) == std::string::npos &&
                    std::none_of(addr.begin(), addr.end(), [](char c) {
                        const auto u = static_cast<unsigned char>(c);
                        return u <= 0x20 || u == 0x7f || c == '<' || c == '>' || c == ',' ||
                               c == ';' || c == '"' || c == '(' || c == ')' || c == '\\';
                    });
    if (!ok) throw tool_error("'" + one_line(text) + "' is not an email address");
    m.address = addr;
    return m;
}

std::string build_message(const mailbox& from, const std::vector<mailbox>& to,
                          std::string_view subject, std::string_view body, std::time_t now) {
    std::random_device rd;
    char id[33];
    std::snprintf(id, sizeof id, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
    std::string to_line;
    for (const auto& m : to) to_line += (to_line.empty() ? "" : ",\r\n ") + format_mailbox(m);
    std::string msg;
    msg += "Date: " + rfc5322_date(now) + "\r\n";
    msg += "From: " + format_mailbox(from) + "\r\n";
    msg += "To: " + to_line + "\r\n";
    msg += "Subject: " + header_text(subject) + "\r\n";
    msg += "Message-ID: <" + std::string(id) + "@" + domain_of(from.address) + ">\r\n";
    msg += "MIME-Version: 1.0\r\n";
    msg += "Content-Type: text/plain; charset=UTF-8\r\n";
    msg += "Content-Transfer-Encoding: quoted-printable\r\n";
    msg += "X-Mailer: ava-voice\r\n";
    msg += "\r\n";
    msg += quoted_printable(body);
    if (msg.size() < 2 || msg.substr(msg.size() - 2) != "\r\n") msg += "\r\n";
    return msg;
}

email_tool::email_tool(email_settings settings, http_settings tls, std::function<std::time_t()> now)
    : settings_(std::move(settings)), tls_(std::move(tls)), now_(std::move(now)) {
    if (!now_) now_ = [] { return std::time(nullptr); };
    ava::log::add_secret(settings_.password);
    for (auto& d : settings_.allowed_domains) d = core::ascii_lower(core::trim(d));
    spec_.name = "send_email";
    spec_.description =
        settings_.confirm
            ? "Send a short plain-text email. Recipients are names from the user's address book "
              "or email addresses. The first call only prepares it: read the recipient and subject "
              "back, ask the user, and call again with confirmed=true only after a clear yes."
            : "Send a short plain-text email. Recipients are names from the user's address book "
              "or email addresses.";
    spec_.parameters_json = R"({"type":"object","properties":{
  "to":{"type":"array","items":{"type":"string","minLength":1,"maxLength":200},"minItems":1,"maxItems":10,
        "description":"Names from the address book or email addresses"},
  "subject":{"type":"string","minLength":1,"maxLength":200},
  "body":{"type":"string","maxLength":20000},
  "confirmed":{"type":"boolean","description":"true only after the user clearly said yes"}},
  "required":["to","subject","body"],"additionalProperties":false})";
}

std::string email_tool::config_problem(const email_settings& s) {
    if (s.smtp_url.empty()) return "no smtp_url set";
    if (s.smtp_url.rfind("smtp://", 0) != 0 && s.smtp_url.rfind("smtps://", 0) != 0) {
        return "smtp_url must start with smtp:// (STARTTLS) or smtps:// (implicit TLS)";
    }
    if (!s.require_tls && !is_loopback_url(s.smtp_url)) {
        return "require_tls = false is only allowed for a loopback SMTP server";
    }
    if (s.from.empty()) return "no from address set";
    try {
        static_cast<void>(parse_mailbox(s.from));
        for (const auto& [name, addr] : s.address_book) static_cast<void>(parse_mailbox(addr));
    } catch (const tool_error& e) {
        return std::string("email: ") + e.what();
    }
    if (!s.password.empty() && s.username.empty()) return "a password is set but no username";
    return {};
}

std::vector<mailbox> email_tool::resolve(const std::vector<std::string>& names) const {
    std::vector<std::string> book_names;
    for (const auto& [name, addr] : settings_.address_book) book_names.push_back(name);
    std::vector<mailbox> out;
    for (const auto& spoken : names) {
        mailbox m;
        if (spoken.find('@') != std::string::npos) {
            m = parse_mailbox(spoken);
        } else {
            const auto hits = detail::best_matches(spoken, book_names);
            if (hits.empty()) {
                std::string known;
                for (const auto& n : book_names) known += (known.empty() ? "" : ", ") + n;
                throw tool_error(
                    "no one called '" + one_line(spoken) +
                    "' in the address book; it has: " + (known.empty() ? "(nobody)" : known));
            }
            if (hits.size() > 1) {
                std::string which;
                for (auto i : hits) which += (which.empty() ? "" : ", ") + book_names[i];
                throw tool_error("'" + one_line(spoken) + "' could be " + which +
                                 "; ask which one");
            }
            m = parse_mailbox(settings_.address_book.at(book_names[hits[0]]));
            if (m.name.empty()) m.name = book_names[hits[0]];
        }
        if (!settings_.allowed_domains.empty()) {
            const std::string domain = domain_of(m.address);
            if (std::find(settings_.allowed_domains.begin(), settings_.allowed_domains.end(),
                          domain) == settings_.allowed_domains.end()) {
                std::string allowed;
                for (const auto& d : settings_.allowed_domains)
                    allowed += (allowed.empty() ? "" : ", ") + d;
                throw tool_error("sending to " + domain +
                                 " is not allowed; allowed domains: " + allowed);
            }
        }
        out.push_back(std::move(m));
    }
    return out;
}

void email_tool::send(const mailbox& from, const std::vector<mailbox>& to,
                      const std::string& message, std::stop_token stop) const {
    detail::curl_ptr curl = detail::make_curl();
    CURL* c = curl.get();
    char errbuf[CURL_ERROR_SIZE] = {};
    upload up{&message};
    detail::slist_ptr rcpts;
    for (const auto& m : to) {
        curl_slist* next = curl_slist_append(rcpts.get(), ("<" + m.address + ">").c_str());
        if (next == nullptr) throw tool_error("out of memory");
        static_cast<void>(rcpts.release());
        rcpts.reset(next);
    }
    const std::string mail_from = "<" + from.address + ">";
    curl_easy_setopt(c, CURLOPT_URL, settings_.smtp_url.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, CURLPROTO_SMTP | CURLPROTO_SMTPS);
#endif
    // STARTTLS on smtp://, TLS from the start on smtps://. CURLUSESSL_ALL fails rather than
    // send in clear text when the server offers no STARTTLS.
    curl_easy_setopt(c, CURLOPT_USE_SSL,
                     static_cast<long>(settings_.require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    http_settings tls = tls_;
    tls.proxy.clear();
    detail::apply_tls_and_proxy(c, tls);
    curl_easy_setopt(c, CURLOPT_PROXY, "");  // SMTP never goes through the HTTP proxy
    if (!settings_.username.empty()) {
        curl_easy_setopt(c, CURLOPT_USERNAME, settings_.username.c_str());
        curl_easy_setopt(c, CURLOPT_PASSWORD, settings_.password.c_str());
    }
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from.c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts.get());
    curl_easy_setopt(c, CURLOPT_READFUNCTION, &read_upload);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(tls_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(tls_.timeout.count()));
    detail::abort_on_stop(c, &stop);
    const CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) return;
    const std::string origin = url_origin(settings_.smtp_url);
    if (rc == CURLE_USE_SSL_FAILED) {
        throw tool_error("the mail server at " + origin +
                         " does not offer TLS (STARTTLS); not sending in clear text");
    }
    if (rc == CURLE_LOGIN_DENIED) {
        throw tool_error("the mail server at " + origin + " refused the user name or password");
    }
    throw tool_error(
        detail::describe_curl_error(rc, errbuf, "the mail server", origin, tls_.timeout));
}

std::string email_tool::call(std::string_view args_json, std::stop_token stop) {
    const json args = json::parse(args_json);
    std::vector<std::string> names;
    for (const auto& n : args.at("to")) names.push_back(n.get<std::string>());
    const std::string subject = one_line(args.at("subject").get<std::string>());
    const std::string body = args.at("body").get<std::string>();
    const bool confirmed = args.value("confirmed", false);

    const std::vector<mailbox> to = resolve(names);  // allowlist applies to every call
    const mailbox from = parse_mailbox(settings_.from);
    json to_words = json::array();
    for (const auto& m : to)
        to_words.push_back(m.name.empty() ? m.address : m.name + " <" + m.address + ">");

    if (settings_.confirm) {
        std::string key;
        for (const auto& m : to) key += m.address + "\n";
        key += subject + "\n" + body;
        const std::time_t now = now_();
        std::lock_guard lk(m_);
        std::erase_if(drafts_, [&](const auto& d) { return now - d.second > k_draft_lifetime; });
        const auto it = drafts_.find(key);
        if (!confirmed || it == drafts_.end()) {
            drafts_[key] = now;
            return json{
                {"status", "needs_confirmation"},
                {"to", to_words},
                {"subject", subject},
                {"instruction",
                 std::string(confirmed ? "This draft was not read back to the user yet. " : "") +
                     "Not sent yet. Read the recipients and the subject back to the user "
                     "and ask whether to send it. Only after a clear yes, call send_email "
                     "again with exactly the same to, subject and body and confirmed: "
                     "true. If they say no or want changes, do not send."}}
                .dump();
        }
        drafts_.erase(it);
    }
    const std::string message = build_message(from, to, subject, body, now_());
    send(from, to, message, stop);
    return json{{"status", "sent"}, {"to", to_words}, {"subject", subject}}.dump();
}

}  // namespace ava::tools
