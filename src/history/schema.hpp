// The history database's schema: one migration per version (PRAGMA user_version), applied in
// order inside one transaction, so a file of any older version is brought up to date and a new
// file is built by the same steps.
#pragma once

#include <string_view>
#include <vector>

namespace ava::history::detail {

/// migrations()[v - 1] takes a database from version v - 1 to version v.
const std::vector<std::string_view>& migrations();

}  // namespace ava::history::detail
