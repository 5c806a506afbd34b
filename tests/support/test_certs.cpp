#include "test_certs.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace ava::test {
namespace {

struct pkey_free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct x509_free {
    void operator()(X509* p) const { X509_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("test_certs: ") + what + " failed");
}

pkey_ptr make_key() {
    pkey_ptr key(EVP_EC_gen("P-256"));
    check(key != nullptr, "EVP_EC_gen");
    return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    check(ext != nullptr, "X509V3_EXT_conf_nid");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

x509_ptr make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, long serial) {
    x509_ptr cert(X509_new());
    check(cert != nullptr, "X509_new");
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7L * 24 * 3600);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("ava-voice tests"), -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
    return cert;
}

void write_pem_cert(const std::string& path, X509* cert) {
    FILE* f = std::fopen(path.c_str(), "wb");
    check(f != nullptr, "fopen");
    const bool ok = PEM_write_X509(f, cert) == 1;
    std::fclose(f);
    check(ok, "PEM_write_X509");
}

void write_pem_key(const std::string& path, EVP_PKEY* key) {
    FILE* f = std::fopen(path.c_str(), "wb");
    check(f != nullptr, "fopen");
    const bool ok = PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    std::fclose(f);
    check(ok, "PEM_write_PrivateKey");
}

}  // namespace

test_certs make_test_certs(const std::string& dir, const std::vector<std::string>& names) {
    std::filesystem::create_directories(dir);
    test_certs out{dir, dir + "/ca.pem", dir + "/server.pem", dir + "/server.key"};

    auto ca_key = make_key();
    auto ca = make_cert(ca_key.get(), "ava-voice test CA", nullptr, 1);
    add_ext(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_ext(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
    check(X509_sign(ca.get(), ca_key.get(), EVP_sha256()) > 0, "X509_sign(ca)");

    auto key = make_key();
    const std::string cn = names.empty() ? "localhost" : names.front();
    auto cert = make_cert(key.get(), cn, ca.get(), 2);
    std::string san;
    for (const auto& n : names) {
        in_addr a{};
        if (!san.empty()) san += ",";
        san += (inet_pton(AF_INET, n.c_str(), &a) == 1 ? "IP:" : "DNS:") + n;
    }
    add_ext(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_ext(cert.get(), ca.get(), NID_ext_key_usage, "serverAuth");
    add_ext(cert.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
    if (!san.empty()) add_ext(cert.get(), ca.get(), NID_subject_alt_name, san);
    check(X509_sign(cert.get(), ca_key.get(), EVP_sha256()) > 0, "X509_sign(server)");

    write_pem_cert(out.ca_cert, ca.get());
    write_pem_cert(out.server_cert, cert.get());
    write_pem_key(out.server_key, key.get());
    return out;
}

namespace {

// The directories made by make_temp_dir, removed when the test process exits (each test runs
// in a process of its own under ctest). Leaked on purpose: atexit handlers and static
// destructors run interleaved, and this list must outlive all of them.
struct temp_dirs {
    std::mutex mutex;
    std::vector<std::string> paths;
};

temp_dirs& registry() {
    static auto* dirs = new temp_dirs;
    return *dirs;
}

void remove_temp_dirs() {
    const char* keep = std::getenv("AVA_KEEP_TEST_DIRS");
    if (keep != nullptr && *keep != '\0' && *keep != '0') return;
    temp_dirs& dirs = registry();
    const std::lock_guard lock(dirs.mutex);
    for (const auto& p : dirs.paths) {
        std::error_code ignored;
        std::filesystem::remove_all(p, ignored);
    }
    dirs.paths.clear();
}

}  // namespace

std::string make_temp_dir(const std::string& prefix) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    static const bool registered = std::atexit(remove_temp_dirs) == 0;
    if (registered) {
        temp_dirs& dirs = registry();
        const std::lock_guard lock(dirs.mutex);
        dirs.paths.push_back(pattern);
    }
    return pattern;
}

}  // namespace ava::test
