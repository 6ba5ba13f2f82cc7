/*
 * Who asks, for the HTTP listener's limits: the peer's address, or, when
 * the peer is the trusted proxy (http_trusted_proxy: the README's reverse
 * proxy), the address that proxy saw, the last one it appended to
 * X-Forwarded-For.  Behind a proxy every client is otherwise one address,
 * and one client's limit everybody's (audit-3 N2, N7).
 */
#ifndef PBXBUS_CLIENT_ADDRESS_H
#define PBXBUS_CLIENT_ADDRESS_H

#include <microhttpd.h>
#include <sys/socket.h>

#define CLIENT_ADDRESS_MAX 46 /* INET6_ADDRSTRLEN */

/* out holds the address as text ("?" when the peer's is unknown).
 * trusted_proxy may be NULL (none). */
void client_address(struct MHD_Connection *conn, const char *trusted_proxy, char out[CLIENT_ADDRESS_MAX]);

/* A socket address as text ("?" when it is neither IPv4 nor IPv6). */
void client_address_text(const struct sockaddr *sa, char out[CLIENT_ADDRESS_MAX]);

/* The last address of an X-Forwarded-For value, checked; -1 if there is
 * none or it is no IPv4 or IPv6 address. */
int forwarded_for_last(const char *header, char out[CLIENT_ADDRESS_MAX]);

#endif
