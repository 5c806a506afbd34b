#include "support/text_match.hpp"

#include <algorithm>
#include <numeric>

namespace ava::tools::detail {
namespace {

std::string joined(const std::vector<std::string>& words) {
    return std::accumulate(words.begin(), words.end(), std::string{});
}

// A typo budget that grows with the word: none for short words ("tv" is not "tx").
std::size_t allowed_typos(std::size_t len) {
    return len <= 3 ? 0 : (len <= 7 ? 1 : 2);
}

}  // namespace

std::vector<std::string> name_words(std::string_view text,
                                    const std::vector<std::string_view>& filler) {
    std::vector<std::string> words;
    std::string cur;
    auto flush = [&] {
        if (cur.empty()) return;
        if (cur.size() > 3 && cur.back() == 's' && cur[cur.size() - 2] != 's') cur.pop_back();
        const bool drop = cur == "the" || cur == "my" || cur == "a" || cur == "all" ||
                          std::find(filler.begin(), filler.end(), cur) != filler.end();
        if (!drop) words.push_back(cur);
        cur.clear();
    };
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 'A' && c <= 'Z') {
            cur += static_cast<char>(c - 'A' + 'a');
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) {
            cur += ch;
        } else if (c == '\'') {
            // "Anna's" -> "annas": an apostrophe joins, it does not split.
        } else {
            flush();
        }
    }
    flush();
    return words;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    const std::size_t n = a.size();
    const std::size_t m = b.size();
    std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
    for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= n; ++i) {
        for (std::size_t j = 1; j <= m; ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[n][m];
}

int match_score(std::string_view spoken, std::string_view candidate,
                const std::vector<std::string_view>& filler) {
    const auto s = name_words(spoken, filler);
    const auto c = name_words(candidate, filler);
    if (s.empty() || c.empty()) return 0;
    const std::string sj = joined(s);
    const std::string cj = joined(c);
    if (sj == cj) return 3;
    const bool subset = std::all_of(s.begin(), s.end(), [&](const std::string& w) {
        return std::find(c.begin(), c.end(), w) != c.end();
    });
    if (subset) return 2;
    if (edit_distance(sj, cj) <= allowed_typos(cj.size())) return 1;
    const bool fuzzy_subset = std::all_of(s.begin(), s.end(), [&](const std::string& w) {
        return std::any_of(c.begin(), c.end(), [&](const std::string& cw) {
            return edit_distance(w, cw) <= allowed_typos(std::max(w.size(), cw.size()));
        });
    });
    return fuzzy_subset ? 1 : 0;
}

std::vector<std::size_t> best_matches(std::string_view spoken,
                                      const std::vector<std::string>& candidates,
                                      const std::vector<std::string_view>& filler) {
    int best = 0;
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        const int score = match_score(spoken, candidates[i], filler);
        if (score == 0 || score < best) continue;
        if (score > best) {
            best = score;
            out.clear();
        }
        out.push_back(i);
    }
    return out;
}

}  // namespace ava::tools::detail
