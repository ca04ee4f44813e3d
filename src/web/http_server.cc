#include "web/http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <future>
#include <optional>
#include <thread>

namespace vigil::web {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

}  // namespace

struct HttpServer::Impl {
  // Declared before the io_context: sessions still queued in it are destroyed with it
  // and touch these on their way out.
  Options options;
  Handler handler;
  LiveHub* hub = nullptr;
  std::atomic<int> active_requests{0};
  std::atomic<int> queries_on_query_threads{0};  // waiting for or running on one
  std::atomic<size_t> connections{0};
  std::atomic<bool> stopping{false};
  uint16_t port = 0;
  bool stopped = false;
  std::optional<net::ssl::context> tls;  // set when serving HTTPS
  net::io_context ioc;
  // Keeps the I/O threads running while a request is on a worker and nothing waits on
  // a socket (once the acceptor is closed, that is every request being handled).
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<net::thread_pool> workers;
  std::unique_ptr<net::thread_pool> ops_workers;    // Options::ops_paths
  std::unique_ptr<net::thread_pool> query_workers;  // Options::query_paths
  std::vector<std::thread> threads;

  void Accept();

  // The handler's answer; a bug in a handler must not take the server down.
  HttpResponse Answer(const HttpRequest& request) {
    try {
      return handler(request);
    } catch (const std::exception& e) {
      spdlog::error("web: {} {}: {}", request.method, request.path, e.what());
      return JsonError(500, "internal error");
    }
  }
};

namespace {

// A keep-alive connection's read buffer: room for one 64 KiB read while a large body
// comes, shrunk back to at most kIdleBufferBytes between requests.
constexpr size_t kBodyReadRoom = 64 * 1024;
constexpr size_t kIdleBufferBytes = 16 * 1024;

// One connection after its upgrade to a WebSocket, over TCP or TLS.
template <class Stream>
class WebSocketSession : public std::enable_shared_from_this<WebSocketSession<Stream>> {
 public:
  WebSocketSession(Stream&& stream, HttpServer::Impl& server)
      : ws_(std::move(stream)), server_(server) {
    ++server_.connections;
  }
  ~WebSocketSession() {
    if (client_) server_.hub->Disconnect(client_);
    --server_.connections;
  }

  void Run(http::request<http::string_body> request) {
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(10);
    timeouts.idle_timeout = std::chrono::seconds(20);  // a ping after 10 s, closed after 20
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.read_message_max(64 * 1024);
    std::weak_ptr<WebSocketSession> weak = this->weak_from_this();
    client_ = server_.hub->Connect([weak] {
      if (auto self = weak.lock()) {
        net::post(self->ws_.get_executor(), [self] { self->Send(); });
      }
    });
    ws_.async_accept(request, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->Read();
      self->Send();
    });
  }

 private:
  void Read() {
    ws_.async_read(buffer_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;  // closed, timed out, or too large: the session ends
      std::string text = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      std::string reply = self->client_->HandleMessage(text);
      if (!reply.empty()) self->replies_.push_back(std::move(reply));
      self->Send();
      self->Read();
    });
  }

  void Send() {
    if (closing_) return;
    if (client_->overflowed()) {
      closing_ = true;
      ws_.async_close(
          websocket::close_reason(websocket::close_code::policy_error, "too slow: send queue full"),
          [self = this->shared_from_this()](beast::error_code) {});
      return;
    }
    if (writing_) return;
    if (!replies_.empty()) {
      current_ = std::make_shared<const std::string>(std::move(replies_.front()));
      replies_.pop_front();
    } else if (!client_->Pop(&current_)) {
      return;
    }
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(*current_),
                    [self = this->shared_from_this()](beast::error_code ec, size_t) {
                      self->writing_ = false;
                      if (!ec) self->Send();
                    });
  }

  websocket::stream<Stream> ws_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::shared_ptr<LiveHub::Client> client_;
  std::deque<std::string> replies_;
  std::shared_ptr<const std::string> current_;  // the message being written
  bool writing_ = false;
  bool closing_ = false;
};

// One HTTP connection, over TCP or TLS (Stream = PlainStream or TlsStream).
template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  HttpSession(tcp::socket socket, HttpServer::Impl& server)
      : stream_(MakeStream(std::move(socket), server)), server_(server) {
    ++server_.connections;
    beast::error_code ec;
    auto endpoint = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  }
  ~HttpSession() { --server_.connections; }

  void Run() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        beast::get_lowest_layer(self->stream_).expires_after(self->server_.options.read_timeout);
        self->stream_.async_handshake(net::ssl::stream_base::server, [self](beast::error_code ec) {
          if (!ec) self->Read();  // a failed handshake just ends
        });
      } else {
        self->Read();
      }
    });
  }

 private:
  void Read() {
    if (server_.stopping) return;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options.max_header_bytes));
    parser_->body_limit(server_.options.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(server_.options.read_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  // A client that sends "Expect: 100-continue" (curl does for large bodies) waits for
  // a 100 Continue before it sends the body.
  void OnHeader(beast::error_code ec) {
    if (ec) {
      OnRead(ec);
      return;
    }
    auto read_body = [self = this->shared_from_this()] {
      http::async_read(self->stream_, self->buffer_, *self->parser_,
                       [self](beast::error_code ec, size_t) { self->OnRead(ec); });
    };
    // Beast reads into the room the buffer has (at most 64 KiB at a time); left at the
    // few KiB the header needed, a 2 MB body took ~500 reads, each also re-arming the
    // timeout. Room for 64 KiB reads while the body comes; Respond gives it back.
    if (auto length = parser_->content_length(); length && *length > kBodyReadRoom / 4)
      buffer_.reserve(kBodyReadRoom);
    const auto expect = parser_->get()[http::field::expect];
    if (!beast::iequals(expect, "100-continue")) {
      read_body();
      return;
    }
    auto go_on = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                    parser_->get().version());
    http::async_write(
        stream_, *go_on,
        [self = this->shared_from_this(), go_on, read_body](beast::error_code ec, size_t) {
          if (ec) {
            self->Close();
            return;
          }
          read_body();
        });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof) {
      Close();
      return;
    }
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      Respond(JsonError(413, ec == http::error::body_limit
                                 ? "request body larger than " +
                                       std::to_string(server_.options.max_body_bytes) + " bytes"
                                 : "request headers larger than " +
                                       std::to_string(server_.options.max_header_bytes) + " bytes"),
              /*keep_alive=*/false, 11);
      return;
    }
    if (ec) {
      Respond(JsonError(400, "malformed HTTP request: " + ec.message()), false, 11);
      return;
    }
    http::request<http::string_body> request = parser_->release();
    const std::string_view target(request.target().data(), request.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    if (request.version() >= 11 && request.find(http::field::host) == request.end()) {
      Respond(JsonError(400, "HTTP/1.1 request without a Host header (RFC 9112)"), false,
              request.version());
      return;
    }
    if (auto refused = DecodeTransferCodings(request)) {
      Respond(std::move(*refused), false, request.version());
      return;
    }
    if (websocket::is_upgrade(request)) {
      if (path != "/ws" || server_.hub == nullptr) {
        Respond(JsonError(404, "no WebSocket at " + std::string(path)), false, request.version());
        return;
      }
      if (request[http::field::sec_websocket_version] != "13") {
        HttpResponse wrong = JsonError(426, "WebSocket version 13 (RFC 6455) is required");
        wrong.headers.emplace_back("Sec-WebSocket-Version", "13");
        Respond(std::move(wrong), false, request.version());
        return;
      }
      if (request[http::field::sec_websocket_key].empty()) {
        Respond(JsonError(400, "WebSocket handshake without Sec-WebSocket-Key"), false,
                request.version());
        return;
      }
      const std::string_view origin(request[http::field::origin].data(),
                                    request[http::field::origin].size());
      const std::string_view host(request[http::field::host].data(),
                                  request[http::field::host].size());
      if (!OriginAllowed(origin, host, server_.options.allowed_origins)) {
        Respond(JsonError(403, "WebSocket from origin " + std::string(origin) +
                                   " refused; add it to [web] allowed_origins"),
                false, request.version());
        return;
      }
      if constexpr (kTls) {
        std::make_shared<WebSocketSession<Stream>>(std::move(stream_), server_)
            ->Run(std::move(request));
      } else {
        std::make_shared<WebSocketSession<Stream>>(beast::tcp_stream(stream_.release_socket()),
                                                   server_)
            ->Run(std::move(request));
      }
      return;
    }
    auto converted = std::make_shared<HttpRequest>();
    converted->method = std::string(request.method_string());
    converted->remote = remote_;
    for (const auto& field : request) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      converted->headers[name] = std::string(field.value());
    }
    bool ok = UrlDecode(path, &converted->path);
    if (ok && target.find('?') != std::string_view::npos) {
      ok = ParseQueryString(target.substr(target.find('?') + 1), &converted->params);
    }
    const bool keep_alive = request.keep_alive();
    const unsigned version = request.version();
    if (!ok) {
      Respond(JsonError(400, "malformed percent-encoding in the URL"), keep_alive, version);
      return;
    }
    converted->body = std::move(request.body());
    ++server_.active_requests;  // until its response is written
    in_flight_ = true;
    auto listed = [&](const std::vector<std::string>& paths) {
      return std::find(paths.begin(), paths.end(), converted->path) != paths.end();
    };
    const bool query_path = listed(server_.options.query_paths);
    net::thread_pool& pool = listed(server_.options.ops_paths) ? *server_.ops_workers
                             : query_path                      ? *server_.query_workers
                                                               : *server_.workers;
    if (query_path && server_.queries_on_query_threads == 0 &&
        server_.options.answer_on_io_thread && server_.options.answer_on_io_thread(*converted)) {
      HttpResponse response = server_.Answer(*converted);
      if (response.stream) {  // it waits on this connection's executor: from a query thread
        net::post(pool, [self = this->shared_from_this(), response = std::move(response),
                         keep_alive, version]() mutable {
          self->RespondStreamed(std::move(response), keep_alive, version);
        });
        return;
      }
      Respond(std::move(response), keep_alive, version);
      return;
    }
    if (query_path) ++server_.queries_on_query_threads;
    const auto queued = std::chrono::steady_clock::now();
    net::post(pool, [self = this->shared_from_this(), converted, keep_alive, version, query_path,
                     queued] {
      HttpResponse response;
      const auto waited = std::chrono::steady_clock::now() - queued;
      if (query_path && waited > self->server_.options.query_queue_timeout) {
        response =
            JsonError(503,
                      "query timed out waiting for one of the " +
                          std::to_string(self->server_.options.query_threads) + " query threads",
                      "timeout");
      } else {
        response = self->server_.Answer(*converted);
      }
      if (query_path) --self->server_.queries_on_query_threads;
      if (response.stream) {
        self->RespondStreamed(std::move(response), keep_alive, version);
        return;
      }
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response), keep_alive, version]() mutable {
                  self->Respond(std::move(response), keep_alive, version);
                });
    });
  }

  // Beast undoes "chunked"; a gzip transfer coding before it (curl --tr-encoding) is
  // undone here, bounded like a body. Any other coding: 501, as RFC 9112 says.
  std::optional<HttpResponse> DecodeTransferCodings(http::request<http::string_body>& request) {
    const auto field = request[http::field::transfer_encoding];
    if (field.empty()) return std::nullopt;
    std::vector<std::string> codings;
    for (const auto& coding : http::token_list(field)) {
      std::string name(coding);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (name != "chunked") codings.push_back(name);
    }
    if (codings.empty()) return std::nullopt;
    if (codings.size() > 1 || (codings[0] != "gzip" && codings[0] != "x-gzip")) {
      return JsonError(501, "Transfer-Encoding " + std::string(field) +
                                " is not supported; send chunked, optionally with gzip");
    }
    auto body = DecodeBody(codings[0], std::move(request.body()), server_.options.max_body_bytes);
    if (!body.ok()) return JsonError(400, body.status().message());
    request.body() = std::move(*body);
    return std::nullopt;
  }

  void Respond(HttpResponse response, bool keep_alive, unsigned version) {
    auto message = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version);
    message->set(http::field::server, "vigil");
    message->set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) message->set(name, value);
    message->body() = std::move(response.body);
    message->keep_alive(keep_alive && !server_.stopping);
    message->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(server_.options.read_timeout);
    http::async_write(stream_, *message,
                      [self = this->shared_from_this(), message](beast::error_code ec, size_t) {
                        self->AfterResponse(ec, message->keep_alive());
                      });
  }

  // On a worker thread: the header, then each chunk `response.stream` makes, written (on
  // the connection's executor) before the next is made, so that a large answer is never
  // whole in memory; then the connection goes on as after Respond.
  void RespondStreamed(HttpResponse response, bool keep_alive, unsigned version) {
    keep_alive = keep_alive && !server_.stopping;
    http::response<http::empty_body> header(static_cast<http::status>(response.status), version);
    header.set(http::field::server, "vigil");
    header.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) header.set(name, value);
    header.keep_alive(keep_alive);
    header.chunked(true);
    http::response_serializer<http::empty_body> serializer(header);
    // Starts one write on the connection's executor and waits for it.
    auto write = [this](auto start) {
      std::promise<beast::error_code> done;
      net::post(stream_.get_executor(), [&] {
        beast::get_lowest_layer(stream_).expires_after(server_.options.read_timeout);
        start([&done](beast::error_code ec, size_t) { done.set_value(ec); });
      });
      return done.get_future().get();
    };
    beast::error_code ec =
        write([&](auto handler) { http::async_write_header(stream_, serializer, handler); });
    std::string chunk;
    for (bool more = true; more && !ec;) {
      chunk.clear();
      more = response.stream(chunk);
      if (chunk.empty()) continue;
      ec = write([&](auto handler) {
        net::async_write(stream_, http::make_chunk(net::buffer(chunk)), handler);
      });
    }
    if (!ec) {
      ec =
          write([&](auto handler) { net::async_write(stream_, http::make_chunk_last(), handler); });
    }
    net::post(stream_.get_executor(), [self = this->shared_from_this(), ec, keep_alive] {
      self->AfterResponse(ec, keep_alive);
    });
  }

  void AfterResponse(beast::error_code ec, bool keep_alive) {
    if (in_flight_) {
      in_flight_ = false;
      --server_.active_requests;
    }
    if (ec || !keep_alive) {
      Close();
      return;
    }
    if (buffer_.capacity() > kIdleBufferBytes) buffer_.shrink_to_fit();
    Read();
  }

  void Close() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  static Stream MakeStream(tcp::socket socket, HttpServer::Impl& server) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *server.tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  Stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_;
  bool in_flight_ = false;  // a request is being handled or its response written
};

Result<tcp::endpoint> ParseListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return InvalidArgumentError("listen: expected host:port");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  auto address = net::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return InvalidArgumentError("listen: bad address \"" + host + "\"");
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) return InvalidArgumentError("listen: bad port in " + listen);
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || stopping) return;
    if (!ec) {
      if (connections >= options.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        if (tls) {
          std::make_shared<HttpSession<TlsStream>>(std::move(socket), *this)->Run();
        } else {
          std::make_shared<HttpSession<PlainStream>>(std::move(socket), *this)->Run();
        }
      }
    }
    Accept();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(Options options, Handler handler,
                                                      LiveHub* hub) {
  auto impl = std::make_unique<Impl>();
  VIGIL_ASSIGN_OR_RETURN(tcp::endpoint endpoint, ParseListen(options.listen));
  impl->options = options;
  impl->handler = std::move(handler);
  impl->hub = hub;
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
      return InvalidArgumentError("tls: both a certificate and a key file are needed");
    }
    impl->tls.emplace(net::ssl::context::tls_server);
    impl->tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                           net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                           net::ssl::context::no_tlsv1_1);
    beast::error_code ec;
    impl->tls->use_certificate_chain_file(options.tls_cert_file, ec);
    if (ec)
      return InvalidArgumentError("tls certificate " + options.tls_cert_file + ": " + ec.message());
    impl->tls->use_private_key_file(options.tls_key_file, net::ssl::context::pem, ec);
    if (ec) return InvalidArgumentError("tls key " + options.tls_key_file + ": " + ec.message());
  }
  beast::error_code ec;
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return UnavailableError("listen on " + options.listen + ": " + ec.message());
  impl->port = impl->acceptor.local_endpoint().port();
  impl->workers = std::make_unique<net::thread_pool>(static_cast<size_t>(options.worker_threads));
  impl->ops_workers = std::make_unique<net::thread_pool>(1);
  impl->query_workers =
      std::make_unique<net::thread_pool>(static_cast<size_t>(std::max(1, options.query_threads)));
  impl->work.emplace(impl->ioc.get_executor());
  impl->Accept();
  for (int i = 0; i < options.io_threads; ++i) {
    impl->threads.emplace_back([io = &impl->ioc] { io->run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop(std::chrono::milliseconds grace) {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->stopping = true;
  net::post(impl_->ioc, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->active_requests > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  impl_->workers->join();
  impl_->ops_workers->join();
  impl_->query_workers->join();
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
}

uint16_t HttpServer::port() const { return impl_->port; }

}  // namespace vigil::web
