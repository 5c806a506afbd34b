// Tolerant matching of spoken names ("the living-room lights", "kitchen lamp", "Jon") against
// configured names ("Living Room", "Kitchen Lamp", "John"): case, punctuation, a leading
// article, plurals, filler words and small typos. Internal to the tool handlers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ava::tools::detail {

/// Lower-case ASCII words, punctuation as separators; drops "the", "my", "a", "all" and every
/// word in `filler`; a plural "s" is removed from words longer than 3 letters ("lights" ->
/// "light", but "glass" stays). Non-ASCII bytes are kept as they are (lower-casing is ASCII).
std::vector<std::string> name_words(std::string_view text,
                                    const std::vector<std::string_view>& filler = {});

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// How well `spoken` names `candidate`: 0 no match; 1 every spoken word is a small typo of a
/// candidate word; 2 every spoken word is a candidate word; 3 the same words (ignoring spaces).
int match_score(std::string_view spoken, std::string_view candidate,
                const std::vector<std::string_view>& filler = {});

/// Indexes of the candidates with the best non-zero score (several when they tie).
std::vector<std::size_t> best_matches(std::string_view spoken,
                                      const std::vector<std::string>& candidates,
                                      const std::vector<std::string_view>& filler = {});

}  // namespace ava::tools::detail
