// The one way our networking translation units include Asio and Beast.
//
// - Asio and Beast are compiled once, in src/net/asio_impl.cpp (separate compilation), so each
//   TU that includes them only instantiates its own templates. Include this header only from
//   .cpp files: never from a public header that most files see.
// - Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace ava::net {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;
}  // namespace ava::net
