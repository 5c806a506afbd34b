// Separate compilation of Asio, Asio SSL and Beast: the library code is compiled here once.
// Every target linking ava_asio gets BOOST_ASIO_SEPARATE_COMPILATION and
// BOOST_BEAST_SEPARATE_COMPILATION, so no other translation unit compiles these bodies again.
#include <utility>

#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
