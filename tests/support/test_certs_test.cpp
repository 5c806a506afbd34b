#include <cstdio>
#include <memory>

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "test_certs.hpp"

namespace {

X509* load(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return nullptr;
    X509* c = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    return c;
}

// The server certificate verifies against the CA and matches 127.0.0.1 and localhost only.
TEST(test_certs, server_cert_chains_to_ca_and_names_match) {
    const auto certs = ava::test::make_test_certs(ava::test::make_temp_dir() + "/certs");
    X509* ca = load(certs.ca_cert);
    X509* srv = load(certs.server_cert);
    ASSERT_NE(ca, nullptr);
    ASSERT_NE(srv, nullptr);

    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, srv, nullptr);
    EXPECT_EQ(X509_verify_cert(ctx), 1)
        << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
    EXPECT_EQ(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
    EXPECT_EQ(X509_check_host(srv, "localhost", 0, 0, nullptr), 1);
    EXPECT_NE(X509_check_host(srv, "example.com", 0, 0, nullptr), 1);

    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(srv);
    X509_free(ca);
}

}  // namespace
