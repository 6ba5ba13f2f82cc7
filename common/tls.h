/*
 * TLS over a non-blocking socket, with OpenSSL: a client that verifies
 * the server's certificate and name (the bridge's AMI session), and a
 * server (the stand-in PBX).  The one file that sees OpenSSL's SSL API;
 * its failures come out as one line a person can act on ("certificate
 * not accepted: hostname mismatch").  Every call returns at once: the
 * caller polls for TLS_WANT_READ / TLS_WANT_WRITE and calls again.
 */
#ifndef PBXBUS_TLS_H
#define PBXBUS_TLS_H

#include <stddef.h>

enum tls_rc {
	TLS_FAILED = -1,     /* why says it; the connection is done */
	TLS_WANT_READ = -2,  /* call again when the socket is readable */
	TLS_WANT_WRITE = -3, /* ... writable */
	TLS_EOF = -4,        /* the peer closed */
};

struct tls_ctx;
struct tls_conn;

/* A client context: the server's certificate must chain to ca_file;
 * cert_file and key_file (may be NULL) are the client's own.  NULL with
 * the reason in err. */
struct tls_ctx *tls_client_new(const char *ca_file, const char *cert_file, const char *key_file, char *err,
                               size_t errsz);
struct tls_ctx *tls_server_new(const char *cert_file, const char *key_file, char *err, size_t errsz);
void tls_ctx_free(struct tls_ctx *ctx);

/* A connection on fd (not closed by tls_conn_free).  A client checks the
 * server's certificate for host (a name, or an IP address).  NULL when out
 * of memory. */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, const char *host);
void tls_conn_free(struct tls_conn *c);

/* 0 once the handshake is done, or a tls_rc. */
int tls_handshake(struct tls_conn *c, char *why, size_t whysz);
/* Bytes read or written (> 0), or a tls_rc. */
long tls_read(struct tls_conn *c, void *buf, size_t len, char *why, size_t whysz);
long tls_write(struct tls_conn *c, const void *buf, size_t len, char *why, size_t whysz);
/* 1 when bytes already read from the socket wait to be returned by
 * tls_read: poll() would not say so. */
int tls_has_pending(const struct tls_conn *c);
/* Tells the peer we are done (close_notify), without waiting. */
void tls_close_notify(struct tls_conn *c);

#endif
