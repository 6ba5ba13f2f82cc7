#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tls_ctx {
	SSL_CTX *ssl;
	int server;
};

struct tls_conn {
	SSL *ssl;
};

/* OpenSSL's reason for what just failed, as one line, and its error
 * queue emptied (a stale error would be blamed on the next call). */
static void say_why(SSL *ssl, int ret, char *why, size_t whysz)
{
	unsigned long e = ERR_peek_last_error();
	int sys = errno;

	if (why == NULL || whysz == 0) {
		ERR_clear_error();
		return;
	}
	if (ssl != NULL && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED)
		snprintf(why, whysz, "TLS: certificate not accepted: %s",
		         X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
	else if (e != 0)
		snprintf(why, whysz, "TLS: %s%s", ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "error",
		         ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER ||
		                 ERR_GET_REASON(e) == SSL_R_PACKET_LENGTH_TOO_LONG
		             ? " (the other side does not speak TLS: a plain AMI port?)"
		             : "");
	else if (ret == 0 || sys == 0)
		snprintf(why, whysz, "TLS: the connection closed during the handshake");
	else
		snprintf(why, whysz, "TLS: %s", strerror(sys));
	ERR_clear_error();
}

static struct tls_ctx *ctx_new(const SSL_METHOD *method, int server, char *err, size_t errsz)
{
	struct tls_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->ssl = SSL_CTX_new(method)) == NULL) {
		snprintf(err, errsz, "TLS: out of memory");
		free(c);
		return NULL;
	}
	c->server = server;
	SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION);
	SSL_CTX_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* A peer that closes without close_notify (Asterisk after a Logoff,
	 * a killed client) has ended, not failed: AMI's own framing tells a
	 * cut message, which is never delivered. */
	SSL_CTX_set_options(c->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Read what the socket has, not a record's header and then its body
	 * (two read()s per AMI event otherwise); what is read ahead is
	 * tls_has_pending's to report. */
	SSL_CTX_set_read_ahead(c->ssl, 1);
	return c;
}

/* A file OpenSSL would only call "system lib": said plainly. */
static int readable(const char *what, const char *path, char *err, size_t errsz)
{
	if (path == NULL || access(path, R_OK) == 0)
		return 0;
	snprintf(err, errsz, "TLS: cannot read the %s %s: %s", what, path, strerror(errno));
	return -1;
}

static int load_own(struct tls_ctx *c, const char *cert_file, const char *key_file, char *err, size_t errsz)
{
	if (cert_file == NULL && key_file == NULL)
		return 0;
	if (cert_file == NULL || key_file == NULL) {
		snprintf(err, errsz, "TLS: a certificate needs its key, and a key its certificate");
		return -1;
	}
	if (readable("certificate", cert_file, err, errsz) < 0 || readable("key", key_file, err, errsz) < 0)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(c->ssl, cert_file) != 1) {
		say_why(NULL, -1, err, errsz);
		snprintf(err + strlen(err), errsz - strlen(err), " (certificate %s)", cert_file);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ssl, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(c->ssl) != 1) {
		say_why(NULL, -1, err, errsz);
		snprintf(err + strlen(err), errsz - strlen(err), " (key %s)", key_file);
		return -1;
	}
	return 0;
}

struct tls_ctx *tls_client_new(const char *ca_file, const char *cert_file, const char *key_file, char *err,
                               size_t errsz)
{
	struct tls_ctx *c = ctx_new(TLS_client_method(), 0, err, errsz);

	if (c == NULL)
		return NULL;
	SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	if (readable("CA file", ca_file, err, errsz) < 0) {
		tls_ctx_free(c);
		return NULL;
	}
	if (SSL_CTX_load_verify_locations(c->ssl, ca_file, NULL) != 1) {
		say_why(NULL, -1, err, errsz);
		snprintf(err + strlen(err), errsz - strlen(err), " (CA file %s)", ca_file);
		tls_ctx_free(c);
		return NULL;
	}
	if (load_own(c, cert_file, key_file, err, errsz) < 0) {
		tls_ctx_free(c);
		return NULL;
	}
	return c;
}

struct tls_ctx *tls_server_new(const char *cert_file, const char *key_file, char *err, size_t errsz)
{
	struct tls_ctx *c = ctx_new(TLS_server_method(), 1, err, errsz);

	if (c == NULL)
		return NULL;
	if (load_own(c, cert_file, key_file, err, errsz) < 0 || cert_file == NULL) {
		if (cert_file == NULL)
			snprintf(err, errsz, "TLS: a server needs a certificate");
		tls_ctx_free(c);
		return NULL;
	}
	return c;
}

void tls_ctx_free(struct tls_ctx *c)
{
	if (c == NULL)
		return;
	SSL_CTX_free(c->ssl);
	free(c);
}

/* The name the certificate must carry: an IP address is matched against
 * the certificate's IP entries, a name against its DNS names (and sent as
 * SNI). */
static int expect_host(SSL *ssl, const char *host)
{
	unsigned char addr[16];

	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 ? 0 : -1;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (SSL_set1_host(ssl, host) != 1 || SSL_set_tlsext_host_name(ssl, host) != 1)
		return -1;
	return 0;
}

struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, const char *host)
{
	struct tls_conn *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->ssl = SSL_new(ctx->ssl)) == NULL || SSL_set_fd(c->ssl, fd) != 1 ||
	    (!ctx->server && host != NULL && expect_host(c->ssl, host) < 0)) {
		tls_conn_free(c);
		ERR_clear_error();
		return NULL;
	}
	if (ctx->server)
		SSL_set_accept_state(c->ssl);
	else
		SSL_set_connect_state(c->ssl);
	return c;
}

void tls_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	SSL_free(c->ssl);
	free(c);
}

/* What an SSL call's result means for the caller. */
static long outcome(struct tls_conn *c, int ret, char *why, size_t whysz)
{
	if (ret > 0)
		return ret;
	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return TLS_EOF;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() != 0)
			break;
		if (errno == 0) {
			if (why && whysz)
				snprintf(why, whysz, "the connection closed (no TLS close_notify)");
			return TLS_EOF;
		}
		if (why && whysz)
			snprintf(why, whysz, "TLS: %s", strerror(errno));
		return TLS_FAILED;
	default:
		break;
	}
	say_why(c->ssl, ret, why, whysz);
	return TLS_FAILED;
}

int tls_handshake(struct tls_conn *c, char *why, size_t whysz)
{
	errno = 0;
	int ret = SSL_do_handshake(c->ssl);
	if (ret == 1)
		return 0;
	long rc = outcome(c, ret, why, whysz);
	if (rc == TLS_EOF) { /* during the handshake an end is a failure */
		say_why(c->ssl, 0, why, whysz);
		return TLS_FAILED;
	}
	return (int)rc;
}

long tls_read(struct tls_conn *c, void *buf, size_t len, char *why, size_t whysz)
{
	size_t got = 0;

	errno = 0;
	int ret = SSL_read_ex(c->ssl, buf, len, &got);
	return ret == 1 ? (long)got : outcome(c, 0, why, whysz);
}

long tls_write(struct tls_conn *c, const void *buf, size_t len, char *why, size_t whysz)
{
	size_t put = 0;

	errno = 0;
	int ret = SSL_write_ex(c->ssl, buf, len, &put);
	return ret == 1 ? (long)put : outcome(c, 0, why, whysz);
}

int tls_has_pending(const struct tls_conn *c)
{
	return SSL_has_pending(c->ssl);
}

void tls_close_notify(struct tls_conn *c)
{
	SSL_shutdown(c->ssl);
	ERR_clear_error();
}
