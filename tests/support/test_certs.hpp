// Throwaway TLS material for tests: a CA and a server certificate for 127.0.0.1 and localhost,
// made at test time with OpenSSL, so nothing secret is ever committed.
#pragma once

#include <string>
#include <vector>

namespace ava::test {

struct test_certs {
    std::string dir;          ///< where the files were written
    std::string ca_cert;      ///< PEM file of the CA (trust this in clients)
    std::string server_cert;  ///< PEM file: server certificate signed by the CA
    std::string server_key;   ///< PEM file: the server's private key (unencrypted)
};

/// Creates (or re-creates) the files in `dir` (created if missing). `names` become the server
/// certificate's subjectAltNames: entries that parse as IPv4 addresses become IP SANs, others
/// DNS SANs. Throws std::runtime_error on failure.
test_certs make_test_certs(const std::string& dir,
                           const std::vector<std::string>& names = {"127.0.0.1", "localhost"});

/// A fresh temporary directory under TMPDIR (or /tmp), e.g. for certificates or recordings.
/// Removed with its contents when the process exits normally (AVA_KEEP_TEST_DIRS=1 keeps it).
std::string make_temp_dir(const std::string& prefix = "ava-test-");

}  // namespace ava::test
