// cpp-httplib glue: authentication, limits, headers, OperationOutcome for
// the errors httplib raises itself.
#include "edge_node/fhir/http_server.hpp"

#include <httplib.h>

#include "common/crypto.hpp"

namespace mhr::fhir {

namespace {

constexpr const char* kFhirJson = "application/fhir+json; charset=utf-8";
constexpr std::string_view kBase = "/fhir";

void write_json(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), kFhirJson);
}

void write_error(httplib::Response& res, const FhirError& e) {
  write_json(res, e.status, operation_outcome(e));
}

}  // namespace

std::optional<Identity> authenticate(const std::vector<ApiKey>& keys, std::string_view key) {
  if (key.empty()) return std::nullopt;
  const Hash h = sha256(as_bytes(key));
  std::optional<Identity> found;
  for (const ApiKey& k : keys) {
    std::uint8_t diff = 0;  // no early exit: timing tells nothing of the hashes
    for (std::size_t i = 0; i < Hash::kSize; ++i) diff |= h.bytes[i] ^ k.sha256.bytes[i];
    if (diff == 0) found = Identity{k.name, k.kind, k.external};
  }
  return found;
}

HttpServer::HttpServer(FhirService& service, const FhirConfig& config)
    : service_(service), config_(config) {
  if (!config_.tls_cert.empty())
    server_ =
        std::make_unique<httplib::SSLServer>(config_.tls_cert.c_str(), config_.tls_key.c_str());
  else
    server_ = std::make_unique<httplib::Server>();
  httplib::Server& s = *server_;
  const int threads = config_.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_payload_max_length(config_.max_body_bytes);

  const bool tls = !config_.tls_cert.empty();
  auto handler = [this, tls](const httplib::Request& req, httplib::Response& res) {
    std::string_view path = req.path;
    if (!path.starts_with(kBase) || (path.size() > kBase.size() && path[kBase.size()] != '/'))
      return write_error(res, not_found("the FHIR endpoint is " + std::string(kBase)));
    path.remove_prefix(kBase.size());
    while (!path.empty() && path.front() == '/') path.remove_prefix(1);

    std::optional<Identity> who;
    const std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) == 0) who = authenticate(config_.api_keys, auth.substr(7));
    // The CapabilityStatement is public, as FHIR clients expect to read it
    // before they authenticate.
    if (!who && !(path == "metadata" && req.method == "GET")) {
      res.set_header("WWW-Authenticate", "Bearer realm=\"fhir\"");
      return write_error(
          res, {401, "login",
                auth.empty() ? "no API key: send Authorization: Bearer <key>" : "unknown API key"});
    }
    const std::string content_type = req.get_header_value("Content-Type");
    if (!req.body.empty() && content_type.find("xml") != std::string::npos)
      return write_error(res, {415, "not-supported", "this server speaks FHIR JSON only"});

    FhirRequest fr;
    fr.method = req.method;
    fr.path = std::string(path);
    for (const auto& [name, value] : req.params) fr.params.emplace_back(name, value);
    fr.body = req.body;
    fr.if_match = req.get_header_value("If-Match");
    const std::string host = req.get_header_value("Host");
    fr.base_url = std::string(tls ? "https://" : "http://") +
                  (host.empty() ? config_.host + ":" + std::to_string(config_.port) : host) +
                  std::string(kBase);
    FhirResponse out = service_.handle(fr, who ? *who : Identity{"anonymous", "none"});
    if (!out.location.empty()) res.set_header("Location", out.location);
    if (!out.etag.empty()) res.set_header("ETag", out.etag);
    if (!out.allow.empty()) res.set_header("Allow", out.allow);
    write_json(res, out.status, out.body);
  };
  s.Get(".*", handler);
  s.Post(".*", handler);
  s.Put(".*", handler);
  s.Delete(".*", handler);
  s.Patch(".*", handler);
  // Errors httplib answers itself (oversize body, bad request line) get an
  // OperationOutcome too; ours already have one.
  s.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        const int status = res.status;
        if (status == 413)
          write_error(res, too_large("the request body is larger than this server accepts"));
        else
          write_error(res, {status, status == 404 ? "not-found" : "invalid",
                            "HTTP " + std::to_string(status)});
        res.status = status;
        return httplib::Server::HandlerResponse::Handled;
      }));
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    write_error(res, {500, "exception", "internal error"});
  });
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::start() {
  MHR_ASSERT(!thread_.joinable());
  if (!server_->is_valid())
    throw std::runtime_error("fhir: cannot load the TLS certificate " + config_.tls_cert +
                             " and key " + config_.tls_key);
  if (!server_->bind_to_port(config_.host, config_.port))
    throw std::runtime_error("fhir: cannot listen on " + config_.host + ":" +
                             std::to_string(config_.port));
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

void HttpServer::stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace mhr::fhir
